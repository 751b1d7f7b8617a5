"""Prometheus metrics of the plumbing, exposed by every service on /metrics.

Defined once per process at import; labels say which service, topic or group they concern.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "kitflow_http_requests_total", "HTTP requests handled", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "kitflow_http_request_seconds", "HTTP request latency", ["service", "method", "route"]
)
OUTBOX_PUBLISHED = Counter(
    "kitflow_outbox_published_total", "Outbox events published to Kafka", ["service", "topic"]
)
OUTBOX_FAILURES = Counter(
    "kitflow_outbox_failures_total",
    "Outbox relay rounds that failed and will be retried",
    ["service"],
)
OUTBOX_DEAD_LETTERED = Counter(
    "kitflow_outbox_dead_lettered_total",
    "Outbox events the broker could never take, parked on the topic's dead-letter topic "
    "(alert on any increase)",
    ["service", "topic"],
)
OUTBOX_PENDING = Gauge(
    "kitflow_outbox_pending", "Outbox events found waiting at the last sweep", ["service"]
)
EVENTS_CONSUMED = Counter(
    "kitflow_events_consumed_total",
    "Events taken from Kafka, by outcome (applied, duplicate, ignored, dead_lettered)",
    ["group", "topic", "outcome"],
)
HANDLER_RETRIES = Counter(
    "kitflow_consumer_retries_total", "Handler attempts that failed and were retried", ["group"]
)
CONSUMER_LAG = Gauge(
    "kitflow_consumer_lag",
    "Messages behind the end of the partition",
    ["group", "topic", "partition"],
)
JOB_OWNED = Gauge(
    "kitflow_job_owned",
    "1 where this replica holds the lease of the periodic job (runs it), else 0",
    ["service", "job"],
)
JOB_TAKEOVERS = Counter(
    "kitflow_job_takeovers_total",
    "Times this replica took a periodic job's lease (its first start counts as one)",
    ["service", "job"],
)
JOB_LEASE_TOKEN = Gauge(
    "kitflow_job_lease_token",
    "The fencing token of the job's lease this replica last took (goes up on every takeover)",
    ["service", "job"],
)
PERIODIC_RUNS = Counter(
    "kitflow_periodic_runs_total",
    "Rounds of a periodic job run by this replica",
    ["service", "job"],
)
OFFLOAD_ADMITTED = Gauge(
    "kitflow_offload_admitted", "Tasks running or waiting in a bounded worker pool", ["pool"]
)
OFFLOAD_REFUSED = Counter(
    "kitflow_offload_refused_total",
    "Tasks refused because the pool's workers and queue were full (answered 503)",
    ["pool"],
)
WRITE_CONFLICTS = Counter(
    "kitflow_write_conflicts_total",
    "Conditional writes of an aggregate lost to another replica's write, by outcome: retried "
    "(re-applied after a pause) or refused (the deadline passed: the callers got 409)",
    ["service", "aggregate", "outcome"],
)
