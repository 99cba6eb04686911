"""Process entrypoint of the projections worker: `kans serve projections`."""

from __future__ import annotations

from core.faust_apps import run_worker
from core.settings import get_settings
from services.projections.bootstrap import bootstrap


def main() -> None:
    settings = get_settings()
    run_worker(bootstrap(settings), "projections", settings, settings.projections_host, settings.projections_port)


if __name__ == "__main__":
    main()
