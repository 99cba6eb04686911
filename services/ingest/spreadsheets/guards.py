"""What an upload must be before it is read: text (a CSV), or a ZIP whose directory promises bounded sizes (an XLSX),
and cells of a bounded length. Checked from the bytes and the ZIP directory, so a hostile file is refused before
it costs memory.

A ZIP member's declared size is a bound, not a hint: Python's zipfile (which openpyxl reads through) stops at the
declared size and fails on a CRC mismatch, so a member cannot unpack to more than its directory entry says.
"""

from __future__ import annotations

import codecs
import zipfile
from pathlib import Path

MAX_CELL_CHARS = 1_000  # the contract's longest text is 200 characters
# A 100,000-row LARS export is a 135 MB sheet (inline strings). Worksheets are streamed; the other parts (shared
# strings, styles, workbook) are loaded whole, so they get a smaller cap.
MAX_XLSX_TOTAL_BYTES = 1 << 30
MAX_XLSX_SHEET_BYTES = 512 << 20
MAX_XLSX_PART_BYTES = 64 << 20
MAX_XLSX_RATIO = 100  # real exports compress 5-15 times; deflate can reach 1,000 on a repeated payload
RATIO_FROM_BYTES = 1 << 20  # small parts (styles, themes) may compress better; they cannot blow up
CONTROL_BYTES = bytes(b for b in range(32) if b not in b"\t\n\r\x0c")
MAX_CONTROL_SHARE = 0.01


class SpreadsheetError(ValueError):
    """The file cannot be read as an export (not a CSV/XLSX, too large, no header, wrong columns). `type` is the
    error's code in the 422 answer; `row` and `column` say where, when one cell is at fault."""

    def __init__(self, message: str, type: str = "spreadsheet_invalid", row: int | None = None,
                 column: str | None = None) -> None:  # fmt: skip
        super().__init__(message)
        self.type, self.row, self.column = type, row, column


def csv_encoding(path: Path) -> str:
    """UTF-8 (with or without the BOM Excel writes) when the whole file decodes; else Windows-1252 when that does;
    else, or when the bytes hold NULs or many control characters, it is not a CSV file (SpreadsheetError)."""
    utf8, cp1252 = codecs.getincrementaldecoder("utf-8")(), codecs.getincrementaldecoder("cp1252")()
    is_utf8 = is_cp1252 = True
    with path.open("rb") as raw:
        while chunk := raw.read(1 << 20):
            _refuse_binary(chunk)
            is_utf8 = is_utf8 and _decodes(utf8, chunk)
            is_cp1252 = is_cp1252 and _decodes(cp1252, chunk)
            if not (is_utf8 or is_cp1252):
                break
    if is_utf8 and _decodes(utf8, b"", final=True):
        return "utf-8-sig"
    if is_cp1252:
        return "cp1252"
    raise SpreadsheetError("not a CSV file: the bytes are neither UTF-8 nor Windows-1252 text", "not_csv")


def _decodes(decoder: codecs.IncrementalDecoder, chunk: bytes, final: bool = False) -> bool:
    try:
        decoder.decode(chunk, final)
    except UnicodeDecodeError:
        return False
    return True


def _refuse_binary(chunk: bytes) -> None:
    if b"\x00" in chunk:
        raise SpreadsheetError("not a CSV file: it holds binary data (NUL bytes)", "not_csv")
    controls = len(chunk) - len(chunk.translate(None, CONTROL_BYTES))
    if controls > MAX_CONTROL_SHARE * len(chunk):
        raise SpreadsheetError(f"not a CSV file: it holds binary data ({controls} control bytes in "
                               f"{len(chunk)})", "not_csv")  # fmt: skip


def check_xlsx_archive(path: Path) -> None:
    """Refuse an XLSX whose ZIP directory is unreadable or promises too much: a part larger than its cap, a total
    over MAX_XLSX_TOTAL_BYTES, or a large part compressed more than MAX_XLSX_RATIO times (a ZIP bomb)."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise SpreadsheetError(f"not a readable XLSX file: {err}", "not_xlsx") from err
    total = sum(m.file_size for m in members)
    if total > MAX_XLSX_TOTAL_BYTES:
        raise SpreadsheetError(f"the XLSX unpacks to {_mb(total)}; at most {_mb(MAX_XLSX_TOTAL_BYTES)} is read",
                               "xlsx_too_large")  # fmt: skip
    for member in members:
        cap = MAX_XLSX_SHEET_BYTES if member.filename.startswith("xl/worksheets/") else MAX_XLSX_PART_BYTES
        if member.file_size > cap:
            raise SpreadsheetError(f"the XLSX part {member.filename} unpacks to {_mb(member.file_size)}; at most "
                                   f"{_mb(cap)} is read", "xlsx_too_large")  # fmt: skip
        ratio = member.file_size / max(1, member.compress_size)
        if member.file_size > RATIO_FROM_BYTES and ratio > MAX_XLSX_RATIO:
            raise SpreadsheetError(f"the XLSX part {member.filename} unpacks {ratio:.0f} times its compressed size "
                                   f"({_mb(member.file_size)}); at most {MAX_XLSX_RATIO} times is read (a ZIP bomb?)",
                                   "xlsx_too_large")  # fmt: skip


def check_cell(row: int, column: str, value: object) -> None:
    if isinstance(value, str) and len(value) > MAX_CELL_CHARS:
        raise SpreadsheetError(f"row {row}, column {column!r}: a cell of {len(value):,} characters; at most "
                               f"{MAX_CELL_CHARS:,}", "cell_too_long", row, column)  # fmt: skip


def _mb(size: int) -> str:
    return f"{size / (1 << 20):,.1f} MiB"
