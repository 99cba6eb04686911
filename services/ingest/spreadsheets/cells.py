"""Reading one cell of an export: Belgian dates and numbers, label translations, multi-selects, privacy guard.

Every function returns a JSON-ready value (what the ingest's REST endpoint accepts) or raises `CellError`
with a reason a desk user can act on. Personal data in a text cell (national register number, e-mail, phone)
are refused and never repeated in the reason.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Any

from schemas.envelope import BRUSSELS
from schemas.privacy import personal_data_in
from services.ingest.spreadsheets.mapping import FieldSpec
from services.ingest.spreadsheets.reader import CellValue

_WHOLE = re.compile(r"^[+-]?\d+$")
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(\.\d{3})+$")


class CellError(ValueError):
    """A cell that cannot be read; the message is the reason shown in the error report."""


def as_text(value: CellValue, pseudonymised: bool = False) -> str:
    """A cell as text. Personal data (national register number, e-mail, phone) is refused, and not repeated in the
    reason, unless the field is pseudonymised by the ingest (a pupil id may be a national register number)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # an id typed as a number in Excel: 123.0 -> "123"
    text = value.isoformat() if isinstance(value, date | datetime) else str(value)
    if not pseudonymised and (found := personal_data_in(text, free_text=False)):
        raise CellError(f"looks like {found} (value not shown): personal data never enter the event log")
    return text


def parse_integer(value: CellValue) -> int:
    if isinstance(value, bool):
        raise CellError(f"not a whole number: {value}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = str(value).replace(" ", "").replace("\u202f", "")
    if _THOUSANDS.match(text):
        text = text.replace(".", "")
    if not _WHOLE.match(text):
        raise CellError(f"not a whole number: {value!r}")
    return int(text)


def parse_decimal(value: CellValue) -> float:
    """Belgian notation first: `2,5` and `1.234,5`; a plain `2.5` is read too."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = str(value).replace(" ", "").replace("\u202f", "")
    if "," in text:
        text = text.replace(".", "").replace(",", ".")
    elif _THOUSANDS.match(text):
        text = text.replace(".", "")
    try:
        return float(text)
    except ValueError:
        raise CellError(f"not a number: {value!r}") from None


def _readable(fmt: str) -> str:
    return fmt.replace("%d", "dd").replace("%m", "mm").replace("%Y", "yyyy").replace("%H", "uu").replace("%M", "mm")


def parse_date(value: CellValue, fmt: str) -> date:
    """A date cell (XLSX) or text in the mapping's format (default dd/mm/yyyy)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return datetime.strptime(str(value), fmt).date()
    except ValueError:
        raise CellError(f"not a valid date in the format {_readable(fmt)}: {value!r}") from None


def parse_moment(value: CellValue, fmt: str) -> str:
    """A date (midnight) or date and time, in Brussels time, as ISO 8601 with its UTC offset."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time())
    else:
        try:
            moment = datetime.strptime(str(value), f"{fmt} %H:%M")
        except ValueError:
            moment = datetime.combine(parse_date(value, fmt), time())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=BRUSSELS)
    return moment.isoformat()


def translate(value: CellValue, spec: FieldSpec) -> Any:
    """An export label to its code. A label that is not in the table is named in the reason, unless it looks like
    personal data (then it is refused without being repeated)."""
    text = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    try:
        return spec.lookup[text.strip().casefold()]
    except KeyError:
        as_text(text)  # refuses personal data without echoing it
        raise CellError(
            f"{text!r} is not one of the allowed values: {', '.join(map(str, spec.values or {}))}"
        ) from None


def read_cell(value: CellValue, spec: FieldSpec, date_format: str) -> Any:
    """One non-empty cell read as its field says."""
    if spec.parse == "list":
        items = [item.strip() for item in str(value).split(spec.separator) if item.strip()]
        if spec.values is None:
            return [as_text(item) for item in items]
        codes = [translate(item, spec) for item in items]
        return [code for code in codes if code is not None]  # a label translated to null ("Geen") adds no code
    if spec.values is not None:
        return translate(value, spec)
    fmt = spec.format or date_format
    match spec.parse:
        case "integer":
            return parse_integer(value)
        case "decimal":
            return parse_decimal(value)
        case "date":
            day = parse_date(value, fmt)
            return day.isoformat() if spec.part is None else getattr(day, spec.part)
        case "datetime":
            return parse_moment(value, fmt)
        case _:
            return as_text(value, spec.pseudonymised)
