"""CloudEvents 1.0 envelope and the registry of versioned event types."""

from kitflow_shared.events.envelope import CloudEvent, EventContext
from kitflow_shared.events.registry import (
    EventSpec,
    UnknownEventTypeError,
    UnreadablePayload,
    registry,
)

__all__ = [
    "CloudEvent",
    "EventContext",
    "EventSpec",
    "UnknownEventTypeError",
    "UnreadablePayload",
    "registry",
]
