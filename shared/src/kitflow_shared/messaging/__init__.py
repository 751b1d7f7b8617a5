"""Kafka plumbing: the idempotent producer, the consumer runner, the outbox relay."""
