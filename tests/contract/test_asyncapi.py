"""The committed AsyncAPI document is the one the code generates, and it is self-consistent."""

import json
from pathlib import Path
from typing import Any

from kitflow_shared.asyncapi import document, render
from kitflow_shared.events import registry

DOC = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.json"


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    node: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def test_the_committed_document_is_the_generated_one() -> None:
    assert DOC.read_text() == render(), (
        "docs/asyncapi.json is stale: run `uv run python -m kitflow_shared.asyncapi > "
        "docs/asyncapi.json` and commit it"
    )


def test_every_reference_resolves_and_every_event_type_is_a_message() -> None:
    doc = json.loads(DOC.read_text())
    for ref in _refs(doc):
        assert _resolve(doc, ref) is not None, ref
    names = {m["name"] for m in doc["components"]["messages"].values()}
    assert names == {spec.type for spec in registry.all()}
    published = {
        m["$ref"]
        for op in doc["operations"].values()
        if op["action"] == "send"
        for m in op["messages"]
    }
    assert len(published) == len(names)  # every message is sent on some channel


def test_it_is_asyncapi_3() -> None:
    doc = document()
    assert doc["asyncapi"] == "3.0.0"
    assert {op["action"] for op in doc["operations"].values()} == {"send", "receive"}
