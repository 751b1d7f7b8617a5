"""kitflow's shared plumbing.

Holds what every service needs and nothing any one service owns: the CloudEvents envelope and the
integration-event contracts (each file owned by its producing service), topic declarations, the
Kafka producer and consumer runner, the outbox relay, the consumer-side idempotency helper, the
store client factory, and the web helpers (health, metrics, problem+json, caller identity).
Never domain models.
"""
