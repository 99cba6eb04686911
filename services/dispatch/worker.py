"""Process entrypoint of the dispatch worker: `kans serve dispatch`."""

from __future__ import annotations

from core.faust_apps import run_worker
from core.settings import get_settings
from services.dispatch.bootstrap import bootstrap


def main() -> None:
    settings = get_settings()
    run_worker(bootstrap(settings), "dispatch", settings, settings.dispatch_host, settings.dispatch_port)


if __name__ == "__main__":
    main()
