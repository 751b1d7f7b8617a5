"""Comparing names the way people write them: accents, case and punctuation do not count."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


@lru_cache(maxsize=4096)
def name_key(name: str) -> str:
    """'Djenné', 'DJENNE' and 'djenne ' compare equal; 'Gourma-Rharous' equals 'Gourma Rharous'."""
    decomposed = unicodedata.normalize("NFKD", name)
    ascii_only = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NOT_ALNUM.sub(" ", ascii_only.casefold()).strip()
