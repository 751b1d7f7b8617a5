"""Snapshots of the services' OpenAPI documents, which the gateway publishes as its own (ADR 0016).

The gateway may not import the services (import contract), yet its OpenAPI document must carry
their request and response schemas and parameter constraints, so that a partner can generate a
typed client. `make snapshots` writes each service's public operations (the /v1 paths) and their
components into `kitflow_gateway/service_openapi/<service>.json`, which the gateway ships and
loads; `test_gateway_openapi.py` regenerates them from the services' apps and fails when a
committed snapshot is stale or the gateway's document disagrees with it.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from kitflow_distribution.bootstrap import create_app as create_distribution
from kitflow_gateway.api.openapi import SNAPSHOTS
from kitflow_needs.bootstrap import create_app as create_needs
from kitflow_stock.bootstrap import create_app as create_stock

SERVICE_APPS = {
    "stock": create_stock,
    "needs": create_needs,
    "distribution": create_distribution,
}
PUBLIC_PREFIX = "/v1/"


def snapshot_of(app: FastAPI) -> dict[str, Any]:
    """The public operations of a service and the components they use (no version, no info:
    those change without the contract changing)."""
    document = app.openapi()
    return {
        "paths": {
            path: operations
            for path, operations in sorted(document["paths"].items())
            if path.startswith(PUBLIC_PREFIX)
        },
        "components": {"schemas": document.get("components", {}).get("schemas", {})},
    }


async def _current() -> dict[str, dict[str, Any]]:
    # The apps are only built, never started: building wants a running loop (aiokafka).
    return {name: snapshot_of(create()) for name, create in SERVICE_APPS.items()}


def current_snapshots() -> dict[str, dict[str, Any]]:
    return asyncio.run(_current())


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def path_of(service: str) -> Path:
    return SNAPSHOTS / f"{service}.json"


def write() -> None:
    SNAPSHOTS.mkdir(exist_ok=True)
    for service, document in current_snapshots().items():
        path_of(service).write_text(render(document))


if __name__ == "__main__":
    write()
