"""The gateway's domain: organisations, users, API keys and their rules (no I/O)."""
