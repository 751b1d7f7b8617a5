"""JSON Schema snapshots of every event contract and of the envelope.

`make snapshots` rewrites them; `test_event_contracts.py` fails when the code's schemas differ
from the committed ones, so a contract change is always a reviewed diff. An additive change
(a new optional field) is fine under the same type version; a breaking one needs a new type.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import kitflow_shared.contracts  # noqa: F401  (registers every event type)
from kitflow_shared.events import CloudEvent, registry

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"


def current_schemas() -> dict[str, dict[str, Any]]:
    schemas = {"envelope.cloudevent": CloudEvent.model_json_schema()}
    for spec in registry.all():
        schema = spec.payload.model_json_schema()
        schema["x-kitflow-event"] = {
            "type": spec.type,
            "source": spec.source,
            "description": spec.description,
        }
        schemas[spec.type] = schema
    return schemas


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write() -> None:
    SNAPSHOTS.mkdir(exist_ok=True)
    for name, schema in current_schemas().items():
        (SNAPSHOTS / f"{name}.json").write_text(render(schema))


if __name__ == "__main__":
    write()
