"""A KoboToolbox form's burst: 1,000 submissions absorbed without a refusal or a loss, against
posting the same needs through POST /v1/needs, in the same run.

    uv run python -m bench.kobo_burst [--submissions 1000] [--concurrency 50]

The needs app runs in this process (as the integration tests run it) against the real broker
and store, with its relay and consumers working. Kobo's side: every submission is posted at
once, `--concurrency` in flight at a time (Kobo's background workers deliver a form's backlog
in parallel), then every one is delivered again (Kobo's retry after a lost answer). The
reference: the same needs, as JSON bodies of POST /v1/needs, same concurrency, into the same
store. The report gives each side's needs/s, the ratio Kobo / API (the price of keeping each
submission and reading it as an HXL row), and asserts: every submission answered 201, every
retry 200 with the same need, exactly one need per submission. Written as JSON to
bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from kitflow_needs.bootstrap import create_app
from kitflow_shared.topics import ensure_topics
from kitflow_shared.web.identity import Role
from pymongo import AsyncMongoClient

from bench.saving import save
from tests.support.infra import Infra, start_infra
from tests.support.services import identity

Document = dict[str, Any]
CERCLES = [
    ("ML05", "ML0501", "Mopti"),
    ("ML05", "ML0502", "Bandiagara"),
    ("ML06", "ML0601", "Tombouctou"),
    ("ML07", "ML0701", "Gao"),
]
MAPPING = {
    "lieu/region": "#adm1+code",
    "lieu/cercle": "#adm2+code",
    "lieu/site": "#loc+name",
    "menage/nb_menages": "#inneed+hh",
    "menage/nb_personnes": "#inneed+ind",
    "statut": "#beneficiary+type",
    "severite": "#severity",
    "date_evaluation": "#date+assessed",
    "article": "#item+code",
    "quantite": "#item+num",
}


def assessment(i: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The i-th site's assessment as a Kobo submission and as a POST /v1/needs body."""
    admin1, admin2, _ = CERCLES[i % len(CERCLES)]
    households = 20 + i % 300
    site = f"Site {i:04d}"
    kobo = {
        "_uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"kobo-burst/{i}")),
        "_id": 100_000 + i,
        "_submission_time": "2026-12-01T09:14:03",
        "_xform_id_string": "aJ9xF2evaluation_abris",
        "lieu/region": admin1,
        "lieu/cercle": admin2,
        "lieu/site": site,
        "menage/nb_menages": str(households),
        "menage/nb_personnes": str(households * 5),
        "statut": "idp",
        "severite": "3",
        "date_evaluation": "2026-11-30",
        "article": "KIT-NFI",
        "quantite": str(households),
    }
    api = {
        "location": {"admin1_pcode": admin1, "admin2_pcode": admin2, "site_name": site},
        "population": {"households": households, "individuals": households * 5},
        "displacement_status": "idp",
        "assessment": {"date": "2026-11-30", "source": "partner-assessment"},
        "severity": 3,
        "items": [{"item_code": "KIT-NFI", "quantity": households}],
    }
    return kobo, api


async def _burst(
    client: httpx.AsyncClient,
    path: str,
    bodies: list[dict[str, Any]],
    headers: Any,
    concurrency: int,
) -> tuple[float, list[httpx.Response]]:
    gate = asyncio.Semaphore(concurrency)

    async def post(body: dict[str, Any]) -> httpx.Response:
        async with gate:
            return await client.post(path, json=body, headers=headers)

    started = time.perf_counter()
    answers = await asyncio.gather(*(post(b) for b in bodies))
    return time.perf_counter() - started, list(answers)


@asynccontextmanager
async def _needs_app(infra: Infra) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """A fresh needs app and database: each side alone, so that neither side's needs are the
    other's duplicate candidates (the same sites, another organisation)."""
    namespace = f"b{uuid.uuid4().hex[:10]}"
    await ensure_topics(infra.kafka_bootstrap, namespace)
    store: AsyncMongoClient[Document] = AsyncMongoClient(infra.store_url, tz_aware=True)
    database = f"{namespace}_kitflow_needs"
    with pytest.MonkeyPatch.context() as mp:
        for name, value in {
            "KITFLOW_ENV": "test",
            "KITFLOW_NAMESPACE": namespace,
            "KITFLOW_KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap,
            "KITFLOW_STORE_URL": infra.store_url,
        }.items():
            mp.setenv(name, value)
        app = create_app()
        try:
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(
                    transport=transport, base_url="http://needs", timeout=120
                ) as client:
                    yield client, store[database]
        finally:
            await store.drop_database(database)
            await store.close()


async def run(infra: Infra, submissions: int, concurrency: int) -> dict[str, Any]:
    partner = identity("NRC", Role.PARTNER)
    pairs = [assessment(i) for i in range(submissions)]
    path = "/v1/integrations/kobo/submissions"
    async with _needs_app(infra) as (client, db):
        put = await client.put(
            "/v1/integrations/kobo/mapping", json={"fields": MAPPING}, headers=partner
        )
        assert put.status_code == 200, put.text
        kobo_s, first = await _burst(client, path, [k for k, _ in pairs], partner, concurrency)
        retry_s, retried = await _burst(client, path, [k for k, _ in pairs], partner, concurrency)
        kobo_needs = await db["needs"].count_documents({})
        refused = await db["kobo_submissions"].count_documents({"state": "refused"})
    async with _needs_app(infra) as (client, db):
        api_s, posted = await _burst(
            client, "/v1/needs", [a for _, a in pairs], partner, concurrency
        )
        api_needs = await db["needs"].count_documents({})
    first_codes = Counter(a.status_code for a in first)
    retry_codes = Counter(a.status_code for a in retried)
    api_codes = Counter(a.status_code for a in posted)
    same_need = all(
        a.json()["need_id"] == b.json()["need_id"]
        for a, b in zip(first, retried, strict=True)
        if a.status_code == 201
    )
    assert first_codes == {201: submissions}, first_codes
    assert retry_codes == {200: submissions}, retry_codes
    assert same_need, "a retry answered with another need"
    assert kobo_needs == submissions, kobo_needs
    assert refused == 0, refused
    assert api_codes == {201: submissions}, api_codes
    assert api_needs == submissions, api_needs
    kobo_rate, api_rate = submissions / kobo_s, submissions / api_s
    return {
        "benchmark": "kobo_burst",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": platform.platform(),
        "python": platform.python_version(),
        "submissions": submissions,
        "concurrency": concurrency,
        "kobo_first_delivery": dict(first_codes),
        "kobo_retry": dict(retry_codes),
        "kobo_needs_stored": kobo_needs,
        "kobo_refused_kept": refused,
        "kobo_needs_per_s": round(kobo_rate, 1),
        "kobo_retries_per_s": round(submissions / retry_s, 1),
        "api_needs_per_s": round(api_rate, 1),
        "ratio": round(kobo_rate / api_rate, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    infra, stop = start_infra()
    try:
        result = asyncio.run(run(infra, args.submissions, args.concurrency))
    finally:
        stop()
    out = save("kobo_burst", result)
    print(
        f"{result['submissions']} Kobo submissions: {result['kobo_first_delivery']} then "
        f"retried {result['kobo_retry']}, {result['kobo_needs_stored']} needs, "
        f"{result['kobo_refused_kept']} refused; Kobo {result['kobo_needs_per_s']} needs/s, "
        f"POST /v1/needs {result['api_needs_per_s']} needs/s, ratio {result['ratio']}; "
        f"written to {out}"
    )


if __name__ == "__main__":
    main()
