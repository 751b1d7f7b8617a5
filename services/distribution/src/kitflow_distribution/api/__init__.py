"""The distribution HTTP API (reached through the gateway)."""
