"""The warehouse app over a 2G link, against the same receipt sent as a bare API call.

    uv run python -m bench.warehouse_2g [--receipts 5]

The stock service and the gateway run as real processes (uvicorn) against the store and broker;
a fresh Chromium profile on a 360 px screen reaches the gateway through Chromium's own network
emulation (Chrome DevTools Protocol `Network.emulateNetworkConditions`: 250 kbit/s each way,
300 ms of latency per request). Measured in the same run, over the same emulated link:
- first load: the app opened for the first time until its sign-in form is translated and
  ready; bytes as transferred (compressed, headers included) by the page, and separately by
  the service worker keeping its offline copy (which runs after the page is usable);
- a receipt in the app: from pressing save to the record shown as sent (acknowledged by the
  server), the bytes of its request and answer, and of the stock read that follows it;
- the same receipt as a bare API call from the page (`fetch` with the same headers and body:
  request and answer only).
Reported as medians over `--receipts` receipts each (after one warm-up), written as JSON to
bench/results/. The broker and store come from KITFLOW_TEST_* variables, else they are started
as the tests start them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from kitflow_gateway.config import DEV_ADMIN_PASSWORD
from playwright.async_api import BrowserContext, Page, Request, async_playwright, expect

from tests.support.infra import start_infra
from tests.support.services import service_process

RESULTS = Path(__file__).resolve().parent / "results"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic"]
KBIT_PER_S = 250
LATENCY_MS = 300
WAREHOUSE = "MOP-SUB"
STOREKEEPER = "bench-storekeeper@iom.int"
PASSWORD = "a long bench passphrase"


Row = tuple[str, str, int, int, bool]


@dataclass
class Traffic:
    """Every finished request, in order; sized (headers and encoded bodies) when asked."""

    requests: list[Request] = field(default_factory=list)

    def add(self, request: Request) -> None:
        self.requests.append(request)

    async def since(self, start: int) -> list[Row]:
        rows: list[Row] = []
        for request in self.requests[start:]:
            sizes = await request.sizes()
            sent = sizes["requestHeadersSize"] + sizes["requestBodySize"]
            received = sizes["responseHeadersSize"] + sizes["responseBodySize"]
            path = "/" + request.url.split("://", 1)[1].split("/", 1)[1]
            worker = request.service_worker is not None
            rows.append((request.method, path, sent, received, worker))
        return rows


def _totals(rows: list[Row]) -> dict[str, int]:
    return {
        "requests": len(rows),
        "sent": sum(r[2] for r in rows),
        "received": sum(r[3] for r in rows),
        "total": sum(r[2] + r[3] for r in rows),
    }


async def _seed(gateway_url: str) -> None:
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
        token = (
            await client.post(
                "/v1/auth/token",
                data={
                    "grant_type": "password",
                    "username": "admin@iom.int",
                    "password": DEV_ADMIN_PASSWORD,
                },
            )
        ).json()["access_token"]
        admin = {"Authorization": f"Bearer {token}"}
        for path, body in (
            (
                "/v1/warehouses",
                {
                    "code": WAREHOUSE,
                    "name": "Mopti sub-office",
                    "organisation": "IOM",
                    "type": "main",
                    "admin1_pcode": "ML05",
                    "admin2_pcode": "ML0501",
                },
            ),
            (
                "/v1/items",
                {
                    "code": "KIT-NFI",
                    "name_en": "NFI kit",
                    "name_fr": "Kit BNA",
                    "category": "nfi",
                    "unit": "kit",
                },
            ),
            (
                "/v1/users",
                {
                    "username": STOREKEEPER,
                    "password": PASSWORD,
                    "organisation": "IOM",
                    "roles": ["warehouse"],
                    "warehouses": [WAREHOUSE],
                },
            ),
        ):
            response = await client.post(path, headers=admin, json=body)
            if response.status_code != 201:
                raise RuntimeError(f"{path}: {response.status_code} {response.text[:300]}")


async def _throttle(context: BrowserContext, page: Page) -> None:
    session = await context.new_cdp_session(page)
    await session.send("Network.enable")
    await session.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": LATENCY_MS,
            "downloadThroughput": KBIT_PER_S * 1000 / 8,
            "uploadThroughput": KBIT_PER_S * 1000 / 8,
            "connectionType": "cellular2g",
        },
    )


async def _first_load(page: Page, url: str, traffic: Traffic) -> dict[str, Any]:
    started = time.perf_counter()
    await page.goto(f"{url}/warehouse/")
    await expect(page.get_by_role("button", name="Se connecter")).to_be_visible(timeout=120_000)
    seconds = time.perf_counter() - started
    # The service worker's offline copy, after the page is usable: waited for, then counted.
    await page.evaluate("() => navigator.serviceWorker.ready")
    await expect(page.locator("#offline-ready")).to_be_visible(timeout=120_000)
    await page.wait_for_load_state("networkidle")
    rows = await traffic.since(0)
    return {
        "seconds_until_usable": seconds,
        "page": _totals([r for r in rows if not r[4]]),
        "service_worker": _totals([r for r in rows if r[4]]),
        "files": [{"path": r[1], "received": r[3], "worker": r[4]} for r in rows],
    }


async def _sign_in(page: Page) -> None:
    await page.get_by_label("Nom d'utilisateur").fill(STOREKEEPER)
    await page.get_by_label("Mot de passe").fill(PASSWORD)
    await page.get_by_role("button", name="Se connecter").click()
    await expect(page.locator("#who")).to_have_text(f"{STOREKEEPER} (IOM)", timeout=120_000)
    await expect(page.locator("#stock-as-of")).to_contain_text("Tel que vu", timeout=120_000)


# The moment of the press on save (the form's submit), then of the record drawn as sent.
ARM = """() => document.getElementById("record-form").addEventListener(
  "submit", () => { window.__savedAt = performance.now(); }, { capture: true, once: true })"""
ACKNOWLEDGED = """(sentBefore) => {
  if (document.querySelectorAll("#queue-list li.state-sent").length > sentBefore) {
    window.__ackAt = performance.now();
    return true;
  }
  return false;
}"""


async def _receipt_in_app(page: Page, n: int, traffic: Traffic) -> dict[str, Any]:
    await page.get_by_role("button", name="Saisir", exact=True).click()
    await page.get_by_label("Mouvement", exact=True).select_option("receipt")
    await page.get_by_label("N° du bon de réception").fill(f"GRN-APP-{n}")
    await page.get_by_label("Provenance (bailleur ou fournisseur)").fill("ECHO")
    await page.get_by_label("Article", exact=True).select_option("KIT-NFI")
    await page.get_by_label("Quantité", exact=True).fill("10")
    await page.wait_for_load_state("networkidle")
    start = len(traffic.requests)
    await page.evaluate(ARM)
    await page.get_by_role("button", name="Enregistrer", exact=True).click()
    await page.wait_for_function(ACKNOWLEDGED, arg=n, polling="raf", timeout=120_000)
    milliseconds = await page.evaluate("() => window.__ackAt - window.__savedAt")
    # The stock read that follows the acknowledgement.
    await page.wait_for_load_state("networkidle")
    await page.wait_for_timeout(1500)
    rows = await traffic.since(start)
    movement = [r for r in rows if r[0] == "POST"]
    reads = [r for r in rows if r[0] == "GET" and r[1].startswith("/v1/")]
    return {
        "seconds_to_acknowledged": milliseconds / 1000,
        "movement": _totals(movement),
        "stock_read_after": _totals(reads),
    }


BARE_CALL = """async ([n, token]) => {
  const start = performance.now();
  const response = await fetch("/v1/warehouses/MOP-SUB/receipts", {
    method: "POST",
    headers: {
      Accept: "application/json",
      "Accept-Language": "fr-ML, fr;q=0.9, en;q=0.5",
      Authorization: `Bearer ${token}`,
      "Content-Type": "application/json",
      "Idempotency-Key": crypto.randomUUID(),
    },
    body: JSON.stringify({ grn_number: `GRN-API-${n}`, source: "ECHO",
      lines: [{ item_code: "KIT-NFI", quantity: 10, lot: "" }] }),
    cache: "no-store",
  });
  await response.json();
  if (response.status !== 201) throw new Error(`HTTP ${response.status}`);
  return performance.now() - start;
}"""


async def _receipt_bare(page: Page, n: int, token: str, traffic: Traffic) -> dict[str, Any]:
    await page.wait_for_load_state("networkidle")
    start = len(traffic.requests)
    milliseconds = await page.evaluate(BARE_CALL, [n, token])
    await page.wait_for_load_state("networkidle")
    await page.wait_for_timeout(500)
    return {
        "seconds_to_acknowledged": milliseconds / 1000,
        "movement": _totals(await traffic.since(start)),
    }


def _median(runs: list[dict[str, Any]], *path: str) -> float:
    values = []
    for run in runs:
        value: Any = run
        for name in path:
            value = value[name]
        values.append(value)
    return float(statistics.median(values))


async def _browse(url: str, receipts: int) -> dict[str, Any]:
    # Playwright reports the service worker's own requests only with this switch.
    os.environ["PW_EXPERIMENTAL_SERVICE_WORKER_NETWORK_EVENTS"] = "1"
    traffic = Traffic()
    async with async_playwright() as playwright:
        with tempfile.TemporaryDirectory() as profile:
            context = await playwright.chromium.launch_persistent_context(
                profile,
                executable_path=CHROMIUM,
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": 360, "height": 740},
                locale="fr-FR",
            )
            context.on("requestfinished", traffic.add)
            try:
                page = context.pages[0] if context.pages else await context.new_page()
                await _throttle(context, page)
                first = await _first_load(page, url, traffic)
                await _sign_in(page)
                token = await page.evaluate(
                    """() => new Promise((resolve) => {
                      const open = indexedDB.open("kitflow-warehouse");
                      open.onsuccess = () => {
                        const get = open.result.transaction("kept").objectStore("kept")
                          .get("session");
                        get.onsuccess = () => resolve(get.result.token);
                      };
                    })"""
                )
                app_runs, bare_runs = [], []
                for n in range(receipts + 1):  # the first of each warms up and is not counted
                    app = await _receipt_in_app(page, n, traffic)
                    bare = await _receipt_bare(page, n, token, traffic)
                    print(
                        f"receipt {n}: app {app['seconds_to_acknowledged']:.2f} s "
                        f"{app['movement']['total']} B; bare {bare['seconds_to_acknowledged']:.2f}"
                        f" s {bare['movement']['total']} B{'' if n else '   (warm-up)'}",
                        flush=True,
                    )
                    if n:
                        app_runs.append(app)
                        bare_runs.append(bare)
            finally:
                await context.close()
    return {"first_load": first, "app_receipts": app_runs, "bare_receipts": bare_runs}


async def main(receipts: int) -> dict[str, Any]:
    infra, stop_infra = start_infra()
    namespace = f"bench{uuid.uuid4().hex[:8]}"
    quiet = {"KITFLOW_LOG_LEVEL": "WARNING"}
    stock = service_process("stock", infra, namespace, **quiet)
    stock.start()
    gateway = service_process(
        "gateway", infra, namespace, KITFLOW_GATEWAY_STOCK_URL=stock.url, **quiet
    )
    gateway.start()
    try:
        await stock.wait_ready()
        # The gateway's readiness includes needs and distribution, which this bench leaves out.
        async with httpx.AsyncClient(timeout=2) as probe:
            for _ in range(300):
                try:
                    if (await probe.get(f"{gateway.url}/healthz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        await _seed(gateway.url)
        measured = await _browse(gateway.url, receipts)
    finally:
        gateway.stop()
        stock.stop()
        stop_infra()
    apps, bares = measured["app_receipts"], measured["bare_receipts"]
    report = {
        "benchmark": "warehouse app over emulated 2G vs the same receipt as a bare API call",
        "date": datetime.now(UTC).isoformat(),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "store": infra.kind,
        "link": {"kbit_per_s": KBIT_PER_S, "latency_ms": LATENCY_MS},
        "first_load": measured["first_load"],
        "receipt_in_app": {
            "seconds_median": _median(apps, "seconds_to_acknowledged"),
            "bytes_median": _median(apps, "movement", "total"),
            "sent_median": _median(apps, "movement", "sent"),
            "received_median": _median(apps, "movement", "received"),
            "stock_read_after_bytes_median": _median(apps, "stock_read_after", "total"),
        },
        "receipt_bare_api": {
            "seconds_median": _median(bares, "seconds_to_acknowledged"),
            "bytes_median": _median(bares, "movement", "total"),
            "sent_median": _median(bares, "movement", "sent"),
            "received_median": _median(bares, "movement", "received"),
        },
        "runs": {"app": apps, "bare": bares},
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "warehouse_2g.json").write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--receipts", type=int, default=5)
    args = parser.parse_args()
    result = asyncio.run(main(args.receipts))
    first = result["first_load"]
    app, bare = result["receipt_in_app"], result["receipt_bare_api"]
    print(
        f"first load  {first['page']['received'] / 1024:6.1f} KB received by the page in "
        f"{first['seconds_until_usable']:.1f} s; service worker's copy "
        f"{first['service_worker']['total'] / 1024:.1f} KB more  (aim: < 150 KB)"
    )
    print(
        f"receipt app {app['seconds_median']:5.2f} s  {app['bytes_median']:6.0f} B "
        f"(+ {app['stock_read_after_bytes_median']:.0f} B stock read)  (aim: < 3 s, < 2 KB)"
    )
    print(f"receipt API {bare['seconds_median']:5.2f} s  {bare['bytes_median']:6.0f} B")
