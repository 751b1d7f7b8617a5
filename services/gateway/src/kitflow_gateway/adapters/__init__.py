"""The gateway's ports on the store (its own database)."""
