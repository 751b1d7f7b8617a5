"""Limits shared by every paginated route."""

# Beyond this a page would make the store skip a million documents, and far larger values
# overflow its 64-bit integers (a 500): refuse them as bad input (422) instead.
MAX_OFFSET = 1_000_000
