"""The roles kitflow knows. Plain data (no I/O), so every layer, domains included, may use it."""

from enum import StrEnum


class Role(StrEnum):
    PARTNER = "partner"
    WAREHOUSE = "warehouse"
    COORDINATOR = "coordinator"
    ADMIN = "admin"
