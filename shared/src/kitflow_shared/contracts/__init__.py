"""Integration-event contracts: the payloads that cross service boundaries.

Each module is owned by the service that produces its events; consumers import, never copy.
Importing this package registers every event type in `kitflow_shared.events.registry`.
"""

from kitflow_shared.contracts import catalogue, distribution, needs, stock

__all__ = ["catalogue", "distribution", "needs", "stock"]
