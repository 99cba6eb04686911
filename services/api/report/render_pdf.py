"""The report as PDF: the same HTML printed by headless Chromium (`--print-to-pdf`), so the PDF looks exactly like
the page (charts stay vector graphics, text stays text). Chromium is a system package (`make install` installs it)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Headless, no sandbox (containers and root cannot use it), and nothing that talks to the network.
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-extensions", "--no-pdf-header-footer", "--hide-scrollbars")  # fmt: skip


class PdfUnavailable(RuntimeError):
    """Chromium is not installed, or it did not print the page."""


def find_chromium() -> str:
    """The path of the system's Chromium (or Chrome)."""
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    raise PdfUnavailable("PDF export needs Chromium: install it (`make install` does, or apt-get install chromium)")


def html_to_pdf(html: str, timeout_s: float = 120.0) -> bytes:
    """Print an HTML page (self-contained: it loads nothing) to PDF, A4 as the page's @page rule says."""
    chromium = find_chromium()
    with tempfile.TemporaryDirectory(prefix="kans-report-") as tmp:
        page, pdf = Path(tmp) / "report.html", Path(tmp) / "report.pdf"
        page.write_text(html, encoding="utf-8")
        command = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={Path(tmp) / 'profile'}",
                   f"--print-to-pdf={pdf}", page.as_uri()]  # fmt: skip
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired as err:
            raise PdfUnavailable(f"Chromium did not print the report within {timeout_s:.0f} s") from err
        if not pdf.exists() or pdf.stat().st_size == 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
            raise PdfUnavailable(f"Chromium printed no PDF (exit {done.returncode}): {' | '.join(tail)}")
        return pdf.read_bytes()
