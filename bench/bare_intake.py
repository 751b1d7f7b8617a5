"""The reference of bench.gateway_intake: a bare FastAPI endpoint for a need.

    KITFLOW_BENCH_STORE_URL=... KITFLOW_BENCH_DB=... uvicorn bench.bare_intake:app

It validates the same body as the needs service's POST /v1/needs (the service's own
`NeedCreate` model) and inserts one document into the same store: no identity, no roles, no
catalogue, no duplicate check, no outbox. What the whole path costs beyond that is the ratio.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from fastapi import FastAPI
from kitflow_needs.api.schemas import NeedCreate
from pymongo import AsyncMongoClient

client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(os.environ["KITFLOW_BENCH_STORE_URL"])
needs = client[os.environ["KITFLOW_BENCH_DB"]]["needs"]
app = FastAPI()


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/v1/needs", status_code=201)
async def create_need(body: NeedCreate) -> dict[str, str]:
    need_id = uuid.uuid4().hex
    await needs.insert_one({"_id": need_id, **body.model_dump(mode="json")})
    return {"need_id": need_id}
