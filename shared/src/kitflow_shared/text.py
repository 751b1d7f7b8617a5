"""Bounded values every API shares: text without control characters, counts that fit the store.

Two classes of bad input used to reach the store and come back as a 500: a NUL or another control
character in a document number, a line id or a lot (the store and the spreadsheet writers refuse
them), and integers of 2**63 and more (BSON's int64 cannot hold them). Every request model uses
these types instead of a bare `str` or `int`, so such input is a 422 naming the field.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, Field

# Far above any real figure (all of Mali's people for a year at 15 l a day is about 1.2e11 litres)
# and far below int64, so that even a sum over a million lines cannot overflow.
MAX_QUANTITY = 1_000_000_000_000
# People and households: more than the population of the earth is a typing error.
MAX_PEOPLE = 10_000_000_000

# Line breaks and tabs are text in a note or a reason; every other control character is not.
_MULTILINE_ALLOWED = frozenset("\n\r\t")


def control_character(value: str, *, allow: frozenset[str] = frozenset()) -> str | None:
    """The first control (or other non-character) code point in `value`, if any."""
    for char in value:
        if char in allow:
            continue
        if unicodedata.category(char) in {"Cc", "Cs", "Co", "Cn"}:
            return char
    return None


def _single_line(value: str) -> str:
    found = control_character(value)
    if found is not None:
        raise ValueError(f"must not contain control characters (found U+{ord(found):04X})")
    return value


def _multiline(value: str) -> str:
    found = control_character(value, allow=_MULTILINE_ALLOWED)
    if found is not None:
        raise ValueError(f"must not contain control characters (found U+{ord(found):04X})")
    return value


# A name, code, document number, lot or id: one line of printable text.
PlainText = Annotated[str, AfterValidator(_single_line)]
# A note, reason or description: may span lines.
MultilineText = Annotated[str, AfterValidator(_multiline)]

# Quantities of goods (in the item's unit) and counts of people, bounded to what the store holds.
Quantity = Annotated[int, Field(ge=1, le=MAX_QUANTITY)]
QuantityOrZero = Annotated[int, Field(ge=0, le=MAX_QUANTITY)]
SignedQuantity = Annotated[int, Field(ge=-MAX_QUANTITY, le=MAX_QUANTITY)]
PeopleCount = Annotated[int, Field(ge=0, le=MAX_PEOPLE)]
