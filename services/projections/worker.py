"""Process entrypoint of the projections worker: `kans serve projections` (faust needs a module-level app)."""

from __future__ import annotations

import sys

from kans.logs import configure_logging
from kans.settings import get_settings
from services.projections.app import create_app

settings = get_settings()
app = create_app(settings)


def main() -> None:
    configure_logging(settings.log_level, "projections")
    level = {"warning": "warn", "critical": "crit"}.get(settings.log_level.lower(), settings.log_level.lower())
    sys.argv = ["kans-projections", "worker", "--loglevel", level,
                "--web-port", str(settings.projections_port), "--web-bind", settings.projections_host]  # fmt: skip
    app.main()


if __name__ == "__main__":
    main()
