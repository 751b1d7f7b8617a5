"""The AsyncAPI 3.0 document of kitflow's events, generated from the code.

    python -m kitflow_shared.asyncapi > docs/asyncapi.json

Channels are the declared topics, messages are the registered event types with their payload
schemas inside the CloudEvents envelope, operations say which service sends what and which
consumer group receives it. The committed `docs/asyncapi.json` is checked against this output
by a contract test, so the document cannot drift from the code.
"""

from __future__ import annotations

import json
from typing import Any

import kitflow_shared.contracts  # noqa: F401  (registers every event type)
from kitflow_shared.events import CloudEvent, registry
from kitflow_shared.topics import CONSUMER_GROUPS, EVENT_TOPICS, TopicSpec

VERSION = "0.1.0"


def _channel_id(topic: str) -> str:
    return "".join(part.capitalize() for part in topic.split(".")[1:])  # StockEvents


def _message_id(event_type: str) -> str:
    return event_type.removeprefix("org.kitflow.").replace(".", "-")


def document() -> dict[str, Any]:
    schemas, messages, by_service = _messages()
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic in EVENT_TOPICS:
        service = topic.name.split(".")[1]
        channel = _channel_id(topic.name)
        service_messages = by_service.get(service, [])
        channels[channel] = _channel(topic, service_messages)
        operations[f"{service}Publishes"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel}"},
            "summary": f"The {service} service publishes through its outbox (at least once).",
            "messages": [{"$ref": f"#/channels/{channel}/messages/{m}"} for m in service_messages],
        }
    operations.update(_receive_operations())
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "kitflow events",
            "version": VERSION,
            "description": "Integration events of kitflow's services: CloudEvents 1.0 in "
            "structured JSON mode, explicit versioned types, state-carrying payloads with the "
            "aggregate's sequence.",
        },
        "defaultContentType": "application/cloudevents+json",
        "channels": dict(sorted(channels.items())),
        "operations": dict(sorted(operations.items())),
        "components": {
            "messages": dict(sorted(messages.items())),
            "schemas": dict(sorted(schemas.items())),
        },
    }


def _messages() -> tuple[dict[str, Any], dict[str, Any], dict[str, list[str]]]:
    """The schemas (the envelope, each payload and its parts), one message per registered event
    type, and the message ids each service publishes."""
    envelope = CloudEvent.model_json_schema()
    envelope.pop("title", None)
    schemas: dict[str, Any] = {"CloudEvent": envelope}
    messages: dict[str, Any] = {}
    by_service: dict[str, list[str]] = {}
    for spec in registry.all():
        payload = spec.payload.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in payload.pop("$defs", {}).items():
            schemas[name] = definition
        schemas[spec.payload.__name__] = payload
        message = _message_id(spec.type)
        messages[message] = {
            "name": spec.type,
            "title": spec.type,
            "summary": spec.description,
            "contentType": "application/cloudevents+json",
            "payload": {
                "allOf": [
                    {"$ref": "#/components/schemas/CloudEvent"},
                    {
                        "type": "object",
                        "properties": {
                            "type": {"const": spec.type},
                            "source": {"const": spec.source},
                            "data": {"$ref": f"#/components/schemas/{spec.payload.__name__}"},
                        },
                    },
                ]
            },
        }
        by_service.setdefault(spec.service, []).append(message)
    return schemas, messages, by_service


def _channel(topic: TopicSpec, messages: list[str]) -> dict[str, Any]:
    return {
        "address": topic.name,
        "description": f"{topic.purpose}. Keyed by aggregate id; kept "
        f"{'forever' if topic.retention_ms < 0 else str(topic.retention_ms) + ' ms'}; "
        f"{topic.partitions} partitions. Prefixed by KITFLOW_NAMESPACE when set.",
        "messages": {m: {"$ref": f"#/components/messages/{m}"} for m in messages},
    }


def _receive_operations() -> dict[str, Any]:
    operations: dict[str, Any] = {}
    for group in CONSUMER_GROUPS:
        consumer = group.name.split(".")[1]
        for topic_name in group.subscribes:
            channel = _channel_id(topic_name)
            operations[f"{consumer}Receives{channel}"] = {
                "action": "receive",
                "channel": {"$ref": f"#/channels/{channel}"},
                "summary": f"Consumer group {group.name}: effects applied once (idempotent), "
                f"offsets committed after the effect, poison messages parked on "
                f"{group.dead_letter.name}.",
            }
    return operations


def render() -> str:
    return json.dumps(document(), indent=2, sort_keys=False, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(render(), end="")
