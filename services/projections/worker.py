"""Process entrypoint of the projections worker: `kans serve projections` (faust needs a module-level app)."""

from __future__ import annotations

from core.faust_apps import run_worker
from core.settings import get_settings
from services.projections.app import create_app

settings = get_settings()
app = create_app(settings)


def main() -> None:
    run_worker(app, "projections", settings, settings.projections_host, settings.projections_port)


if __name__ == "__main__":
    main()
