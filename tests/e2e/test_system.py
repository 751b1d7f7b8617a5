"""The whole system as processes: four services under uvicorn, the real broker and store."""

from __future__ import annotations

import signal

import httpx
import pytest

from tests.support.infra import Infra
from tests.support.services import SERVICES, ServiceProcess, service_process

pytestmark = pytest.mark.infra


async def test_all_four_services_start_and_report_health_readiness_and_metrics(
    infra: Infra, topics: str, processes: list[ServiceProcess]
) -> None:
    backends = {s: service_process(s, infra, topics) for s in SERVICES if s != "gateway"}
    gateway = service_process(
        "gateway",
        infra,
        topics,
        **{f"KITFLOW_GATEWAY_{s.upper()}_URL": p.url for s, p in backends.items()},
    )
    for process in [*backends.values(), gateway]:
        processes.append(process.start())
    for process in processes:
        ready = await process.wait_ready()
        assert ready["status"] == "ready"
    ready = await gateway.wait_ready()
    assert ready["checks"] == {"store": "ok", "stock": "ok", "needs": "ok", "distribution": "ok"}
    async with httpx.AsyncClient() as client:
        for process in processes:
            health = (await client.get(f"{process.url}/healthz")).json()
            assert health == {"status": "ok", "service": process.service}
            checks = (await client.get(f"{process.url}/readyz")).json()["checks"]
            if process.service != "gateway":
                assert checks == {"store": "ok", "broker": "ok"}
            metrics = await client.get(f"{process.url}/metrics")
            assert metrics.status_code == 200
            assert "kitflow_http_requests_total" in metrics.text
            docs = await client.get(f"{process.url}/openapi.json")
            assert docs.json()["info"]["title"] == f"kitflow {process.service}"

    # A service that goes away is listed, with the reason; the gateway stays ready (its other
    # routes work: tests/e2e/test_gateway_partial_outage.py).
    backends["needs"].stop()
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{gateway.url}/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["needs"].startswith("failed")
    assert response.json()["unavailable"] == ["needs"]
    for process in processes:
        # uvicorn re-raises SIGTERM after its graceful shutdown, hence -15 with a clean log.
        assert process.stop() in (0, -signal.SIGTERM, None)
        assert "Application shutdown complete" in process.log_path.read_text(), process.service
