"""Use cases of the gateway: identity, credentials, idempotency, rate limits, audit."""
