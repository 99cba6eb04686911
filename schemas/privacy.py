"""Keep personal data out of the event log: detectors for national register numbers, e-mail addresses, phone
numbers and person names, and the string types that refuse them (identifiers, free text, organisation names).

The name heuristic (free text only): two or more capitalised words in a row (`Jan Janssens`, `J. Peeters`,
`Jan de Smet`, `Peeters JAN`) where none of the words occurs in a Dutch label of the code lists. Single
capitalised words pass (a language, a town); so do phrases made of code-list words (`Andere Hulp`). A false
positive is fixed by writing common words in lower case; a missed name is what the size limit and keeping
free text optional (and rare) are for.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Annotated, Any

from pydantic import AfterValidator, StringConstraints, ValidationInfo
from pydantic_core import PydanticCustomError

from schemas.codelists import load_codelists

# YY.MM.DD-XXX.CC, each separator optional; the mod-97 check below decides.
_NATIONAL_NUMBER = re.compile(r"(?<!\d)(\d{2})[ .-]?(\d{2})[ .-]?(\d{2})[ .-]?(\d{3})[ .-]?(\d{2})(?!\d)")
# The local part starts where a run of its characters starts and is taken whole (possessive): tried at every
# position of a long run, the search took time quadratic in its length (minutes for a 1 MB string).
_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]++@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_PHONE_RUN = re.compile(r"(?<![\w])[+(]?\d[\d ./()-]{6,}\d(?![\w])")
# Nine digits with only separators a national or phone number allows between them (none of them matches less).
_NINE_DIGITS = re.compile(r"\d(?:[ ./()-]*\d){8}")
_PHONE_SEGMENT = re.compile(r"^[+(]?\d[\d ./()-]{6,}\d$")
_LETTERS, _UPPER, _LOWER = "A-Za-zÀ-ÖØ-öø-ÿ", "A-ZÀ-ÖØ-Þ", "a-zß-öø-ÿ"
_JOINED = rf"(?:['\u2019-][{_LETTERS}]+)*"  # O'Brien, Jean-Pierre
_WORD = re.compile(rf"[{_LETTERS}]+{_JOINED}\.?")
# A capitalised word (Jan, Jean-Pierre), an initial (J.) or a word in capitals (PEETERS).
_CAPITALISED = re.compile(rf"^(?:[{_UPPER}][{_LOWER}]+{_JOINED}|[A-Z]\.|[{_UPPER}]{{2,}}(?:-[A-Z]+)*)$")
_NAME_LIKE = re.compile(rf"^[{_UPPER}][{_LOWER}]")
_PARTICLES = {"van", "de", "der", "den", "te", "ter", "ten", "le", "la", "du", "des", "di", "da", "el", "al", "von"}


def national_number_valid(digits: str) -> bool:
    """Belgian national register (or BIS) number check: 97 - (first nine digits mod 97), `2` prefixed after 2000."""
    if len(digits) != 11 or not digits.isdigit():
        return False
    body, check = int(digits[:9]), int(digits[9:])
    return check in (97 - body % 97, 97 - (2_000_000_000 + body) % 97)


def contains_national_number(text: str) -> bool:
    return any(national_number_valid("".join(m.groups())) for m in _NATIONAL_NUMBER.finditer(text))


def contains_email(text: str) -> bool:
    return _EMAIL.search(text) is not None


def _phone_digits(candidate: str) -> bool:
    digits = re.sub(r"[^\d+]", "", candidate)
    if digits.startswith("+"):
        return 9 <= len(digits) - 1 <= 15
    if digits.startswith("00"):
        return 11 <= len(digits) <= 15
    return digits.startswith("0") and 9 <= len(digits) <= 10


def contains_phone(text: str, *, whole_segments: bool = False) -> bool:
    """A Belgian (0 + 8 or 9 digits) or international (+/00) number. Identifiers are checked per `:` segment,
    so ids that merely contain digit groups (`R-0042-1234-56`) are not mistaken for phone numbers."""
    if whole_segments:
        return any(_PHONE_SEGMENT.match(seg) and _phone_digits(seg) for seg in text.split(":"))
    return any(_phone_digits(m.group()) for m in _PHONE_RUN.finditer(text))


@cache
def code_list_vocabulary() -> frozenset[str]:
    """Every word of every Dutch label and code: words the desk's own vocabulary uses are not names."""
    words: set[str] = set()
    for entries in load_codelists().values():
        for code, text in entries.items():
            words.update(w.lower().rstrip(".") for w in _WORD.findall(f"{text} {code.replace('_', ' ')}"))
    return frozenset(words)


def person_name_in(text: str) -> str | None:
    """The first run of two or more capitalised non-vocabulary words (a likely name), else None.

    Initials (`J.`) and all-capital words (`PEETERS`) count as name words, but a run needs at least one word
    written like a name (`Jan`), so abbreviations side by side (`CGG OCJ`) pass.
    """
    vocabulary = code_list_vocabulary()
    run: list[str] = []
    for match in _WORD.finditer(text):
        word = match.group()
        if _CAPITALISED.match(word) and word.lower().rstrip(".") not in vocabulary:
            run.append(word)
            words = [w for w in run if w.lower() not in _PARTICLES]
            if len(words) >= 2 and any(_NAME_LIKE.match(w) for w in words):
                return " ".join(run)
        elif run and word.lower() in _PARTICLES:
            run.append(word)
        else:
            run = []
    return None


def _may_hold_a_number_or_address(value: str) -> bool:
    """Whether `value` could hold a national number or a phone number (both: nine digits or more with only the
    separators they allow between them) or an e-mail address (an @). Most strings of an event (ids, codes) cannot,
    and skip those three searches: each of them only finds what this finds too."""
    return "@" in value or _NINE_DIGITS.search(value) is not None


def personal_data_in(value: str, *, free_text: bool) -> str | None:
    """What kind of personal data `value` seems to hold, or None. A short value found clean is remembered (ids,
    actors, codes come back in event after event: ~80% of an event log's checks); one that is not is never kept."""
    key = (value, free_text)
    if key in _FOUND_CLEAN:
        return None
    found = searched(value, free_text=free_text, numbers=_may_hold_a_number_or_address(value))
    if found is None and len(value) <= _CLEAN_KEPT_LENGTH:
        if len(_FOUND_CLEAN) >= _CLEAN_KEPT:
            _FOUND_CLEAN.clear()  # bounded: begins again rather than grows
        _FOUND_CLEAN[key] = None
    return found


# The short values `personal_data_in` found clean (at most _CLEAN_KEPT of at most _CLEAN_KEPT_LENGTH characters: a
# few MB). The searches are pure functions of the value, so a value found clean once is clean every time.
_FOUND_CLEAN: dict[tuple[str, bool], None] = {}
_CLEAN_KEPT, _CLEAN_KEPT_LENGTH = 100_000, 100


def searched(value: str, *, free_text: bool, numbers: bool = True) -> str | None:
    """Every search in turn (`numbers`: the national-number, e-mail and phone searches too)."""
    if numbers:
        if contains_national_number(value):
            return "a national register number"
        if contains_email(value):
            return "an e-mail address"
        if contains_phone(value, whole_segments=not free_text):
            return "a phone number"
    if free_text and (name := person_name_in(value)):
        return f"a person's name ('{name}')"
    return None


def _refuse(value: str, info: ValidationInfo, *, free_text: bool) -> str:
    found = personal_data_in(value, free_text=free_text)
    if found:
        field = info.field_name or "value"
        raise PydanticCustomError(
            "personal_data",
            "{field} looks like it contains {found}: names, national ids and contact details never enter the event "
            "log (use the source's pseudonymous id, or write common words in lower case)",
            {"field": field, "found": found},
        )
    return value


def refuse_personal_identifier(value: str, info: ValidationInfo) -> str:
    return _refuse(value, info, free_text=False)


def refuse_personal_free_text(value: str, info: ValidationInfo) -> str:
    return _refuse(value, info, free_text=True)


NoPersonalData: Any = AfterValidator(refuse_personal_identifier)
FreeText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(refuse_personal_free_text),
]
OrganisationName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=120),
    AfterValidator(refuse_personal_identifier),
]
