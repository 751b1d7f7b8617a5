"""The gateway's own routes: sign-in, organisations, users, API keys, the audit log."""
