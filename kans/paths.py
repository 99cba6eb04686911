"""Where the tools find the checkout (supervisor config, Kafka build files, bench results). Services never need it."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
