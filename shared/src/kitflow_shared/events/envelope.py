"""The CloudEvents 1.0 envelope, structured JSON mode (one JSON document per event).

Structured mode keeps the whole event as one document: it is stored as-is in the outbox, sent
as-is as a Kafka record value, and parked as-is on a dead-letter topic.
Spec: https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md and the Kafka protocol
binding (https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/bindings/kafka-protocol-binding.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from kitflow_shared.ids import random_uuid

CONTENT_TYPE = "application/cloudevents+json"
# The outbox entry's field that holds the whole event as JSON text.
OUTBOX_JSON = "json"


def new_event_id() -> str:
    return random_uuid()


def utc_now() -> datetime:
    return datetime.now(UTC)


class CloudEvent(BaseModel):
    """One event. Extension attributes: correlationid, causationid, partitionkey, sequence."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(default_factory=new_event_id, min_length=1)
    source: str = Field(min_length=1, examples=["/services/stock"])
    type: str = Field(min_length=1, examples=["org.kitflow.stock.warehouse.registered.v1"])
    time: AwareDatetime = Field(default_factory=utc_now)
    subject: str = Field(min_length=1, description="The aggregate id")
    datacontenttype: Literal["application/json"] = "application/json"
    data: dict[str, Any]
    correlationid: str = Field(min_length=1, description="The request or saga this belongs to")
    causationid: str | None = Field(default=None, description="The message that caused it")
    partitionkey: str = Field(min_length=1, description="The Kafka key: the aggregate id")
    sequence: int = Field(ge=1, description="The aggregate's version after the change")

    @field_validator("time")
    @classmethod
    def _in_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    def to_document(self) -> dict[str, Any]:
        """The form kept in an outbox array: the event's JSON as one string, plus its id (the
        relay prunes by it) and type (for whoever inspects the outbox).

        One string rather than the event as a nested document: the store keeps and returns it
        without walking some forty fields, and the relay sends those very bytes. A nested
        document costs about twice as much to write (see the needs service's import benchmark).
        """
        return {"id": self.id, "type": self.type, OUTBOX_JSON: self.model_dump_json()}

    @classmethod
    def from_document(cls, entry: dict[str, Any]) -> CloudEvent:
        """An outbox entry back as an event; entries written as nested documents by earlier
        versions are read as well."""
        raw = entry.get(OUTBOX_JSON)
        if isinstance(raw, str):
            return cls.model_validate_json(raw)
        return cls.model_validate(entry)

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> CloudEvent:
        return cls.model_validate_json(raw)


@dataclass(frozen=True, slots=True)
class RenderedEvent:
    """An event already in the form an outbox keeps (see `CloudEvent.to_document`): its id, its
    type and its whole JSON, made by `EventSpec.render` without building the model."""

    id: str
    type: str
    json: str

    def to_document(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, OUTBOX_JSON: self.json}

    def event(self) -> CloudEvent:
        return CloudEvent.model_validate_json(self.json)


@dataclass(frozen=True)
class EventContext:
    """Why an event is being emitted: the correlation it belongs to and what caused it."""

    correlation_id: str
    causation_id: str | None = None

    @classmethod
    def new(cls) -> EventContext:
        return cls(correlation_id=new_event_id())

    @classmethod
    def caused_by(cls, event: CloudEvent) -> EventContext:
        return cls(correlation_id=event.correlationid, causation_id=event.id)
