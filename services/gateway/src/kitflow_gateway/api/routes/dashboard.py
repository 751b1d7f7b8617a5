"""The coordinator dashboard: one HTML page at `/` and its static assets under `/dashboard/`.

The page itself is public (it holds no data); every API call it makes carries the bearer token
from the OAuth2 password flow. Only files shipped in the package's `dashboard/` folder are
served, read into a table at import (gzipped, with ETags, as the other web pages), so no
request path ever reaches the file system.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response

from kitflow_gateway.api.routes.web import (
    MEDIA_TYPES,
    SECURITY_HEADERS,
    Asset,
    answer_from,
    make_asset,
)

router = APIRouter(include_in_schema=False)

DASHBOARD_DIR = Path(__file__).resolve().parents[2] / "dashboard"
INDEX = "index.html"
__all__ = ["ASSETS", "DASHBOARD_DIR", "SECURITY_HEADERS", "router"]
ASSETS: dict[str, Asset] = {
    path.relative_to(DASHBOARD_DIR).as_posix(): make_asset(path.read_bytes(), path.suffix)
    for path in sorted(DASHBOARD_DIR.rglob("*"))
    if path.is_file() and path.suffix in MEDIA_TYPES
}


@router.get("/")
async def dashboard(request: Request) -> Response:
    """The dashboard page (no authentication: it signs in itself)."""
    return answer_from(request, ASSETS, INDEX)


@router.get("/dashboard/{asset:path}")
async def dashboard_asset(request: Request, asset: str) -> Response:
    """A stylesheet, script module or map data (`map/mali.json`) of the dashboard."""
    if asset == INDEX:
        # The page's one address is `/`.
        return answer_from(request, {}, asset)
    return answer_from(request, ASSETS, asset)
