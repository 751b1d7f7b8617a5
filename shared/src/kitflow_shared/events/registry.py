"""Explicit, versioned event types and the payload model of each.

Type strings are written out, never derived from class names: renaming a class must not change a
contract. An additive change keeps the version; a breaking one adds a new type (`...v2`). The JSON
Schema snapshots in `tests/contract/snapshots/` make a breaking change fail a test.
"""

from __future__ import annotations

import builtins
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import to_json

from kitflow_shared.events.envelope import CloudEvent, EventContext, RenderedEvent, new_event_id

P = TypeVar("P", bound=BaseModel)

_TYPE_PATTERN = re.compile(r"^org\.kitflow\.[a-z]+(\.[a-z][a-z-]*)+\.v[1-9][0-9]*$")


class UnknownEventTypeError(LookupError):
    pass


class UnreadablePayload(ValueError):
    """An event's payload breaks its type's contract: no retry can make it readable.

    Raised by `EventSpec.parse` only, so a consumer can tell a message it cannot read (parked at
    once) from a validation error its own handler raised (retried like any other failure)."""

    def __init__(self, event_type: str, error: ValidationError) -> None:
        super().__init__(f"the payload of {event_type} breaks its contract: {error}")
        self.event_type = event_type
        self.error = error


@dataclass(frozen=True)
class EventSpec(Generic[P]):
    """One event type: its type string, payload model and producing service."""

    type: str
    payload: builtins.type[P]
    service: str
    description: str

    @property
    def source(self) -> str:
        return f"/services/{self.service}"

    def new(self, payload: P, *, subject: str, sequence: int, context: EventContext) -> CloudEvent:
        """Wrap a payload in an envelope, keyed by its aggregate id."""
        return CloudEvent(
            source=self.source,
            type=self.type,
            subject=subject,
            data=payload.model_dump(mode="json"),
            correlationid=context.correlation_id,
            causationid=context.causation_id,
            partitionkey=subject,
            sequence=sequence,
        )

    def wrap(
        self, data: dict[str, Any], *, subject: str, sequence: int, context: EventContext
    ) -> CloudEvent:
        """Wrap a payload given in its JSON form, exactly as `payload.model_dump(mode="json")`
        would give it, without building the model.

        For a producer that emits thousands of events at once (a bulk import) and builds its
        payloads from its own typed domain objects: the model round trip is half the cost of an
        event there. The producer's contract test proves its payloads are that JSON form (they
        validate, and dump back unchanged); consumers validate what they receive as always."""
        return CloudEvent(
            source=self.source,
            type=self.type,
            subject=subject,
            data=data,
            correlationid=context.correlation_id,
            causationid=context.causation_id,
            partitionkey=subject,
            sequence=sequence,
        )

    def render(
        self,
        data: dict[str, Any],
        *,
        subject: str,
        sequence: int,
        context: EventContext,
        time: datetime,
    ) -> RenderedEvent:
        """The event `wrap` would make, straight in its stored form: its JSON is, byte for byte,
        what that event's `model_dump_json()` gives
        (tests/unit/shared/test_envelope_and_registry.py).

        A bulk import stores ten thousand events at once: building and validating each
        envelope model only to dump it again was a third of what an event cost. `time` must be
        timezone-aware; the envelope's other attributes are this spec's own or the caller's."""
        if time.tzinfo is None:
            raise ValueError("an event's time must be timezone-aware")
        if not subject or sequence < 1:
            raise ValueError(
                f"an event needs a subject and a sequence from 1, got {subject!r}, {sequence}"
            )
        event_id = new_event_id()
        envelope = {
            "specversion": "1.0",
            "id": event_id,
            "source": self.source,
            "type": self.type,
            "time": time.astimezone(UTC),
            "subject": subject,
            "datacontenttype": "application/json",
            "data": data,
            "correlationid": context.correlation_id,
            "causationid": context.causation_id,
            "partitionkey": subject,
            "sequence": sequence,
        }
        return RenderedEvent(event_id, self.type, to_json(envelope).decode())

    def parse(self, event: CloudEvent) -> P:
        if event.type != self.type:
            raise ValueError(f"expected an event of type {self.type}, got {event.type}")
        try:
            return self.payload.model_validate(event.data)
        except ValidationError as error:
            raise UnreadablePayload(self.type, error) from error


class EventRegistry:
    def __init__(self) -> None:
        self._specs: dict[str, EventSpec[Any]] = {}

    def register(
        self, type_: str, payload: type[P], *, service: str, description: str
    ) -> EventSpec[P]:
        if not _TYPE_PATTERN.match(type_):
            raise ValueError(f"event type {type_!r} is not of the form org.kitflow.<svc>.<...>.vN")
        if not type_.startswith(f"org.kitflow.{service}."):
            raise ValueError(f"event type {type_!r} is not owned by service {service!r}")
        if type_ in self._specs:
            raise ValueError(f"event type {type_!r} is registered twice")
        spec: EventSpec[P] = EventSpec(
            type=type_, payload=payload, service=service, description=description
        )
        self._specs[type_] = spec
        return spec

    def get(self, type_: str) -> EventSpec[Any]:
        try:
            return self._specs[type_]
        except KeyError:
            raise UnknownEventTypeError(type_) from None

    def __contains__(self, type_: object) -> bool:
        return type_ in self._specs

    def all(self) -> list[EventSpec[Any]]:
        return sorted(self._specs.values(), key=lambda s: s.type)


registry = EventRegistry()
