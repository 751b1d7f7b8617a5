"""The needs HTTP API (reached through the gateway, which passes the caller's identity)."""
