"""UUIDs in their canonical text form, made without building `uuid.UUID` objects.

A bulk import makes two per row (the need's id, its event's id); `str(uuid.uuid4())` and
`str(uuid.uuid5(...))` spend most of their time in the UUID object's checks and formatting.
These give exactly the same text (tests/unit/shared/test_ids.py holds them to the uuid module).
"""

from __future__ import annotations

import hashlib
import os
import uuid


def _text(raw: bytearray, version: int) -> str:
    raw[6] = (raw[6] & 0x0F) | (version << 4)
    raw[8] = (raw[8] & 0x3F) | 0x80  # the RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def random_uuid() -> str:
    """`str(uuid.uuid4())`: 122 random bits from the operating system's CSPRNG."""
    return _text(bytearray(os.urandom(16)), 4)


def name_uuid(namespace: uuid.UUID, name: str) -> str:
    """`str(uuid.uuid5(namespace, name))`: the same name in the same namespace, the same id."""
    digest = hashlib.sha1(namespace.bytes + name.encode(), usedforsecurity=False).digest()
    return _text(bytearray(digest[:16]), 5)
