"""The coordinator dashboard: one HTML page at `/` and its static assets under `/dashboard/`.

The page itself is public (it holds no data); every API call it makes carries the bearer token
from the OAuth2 password flow. Only files shipped in the package's `dashboard/` folder are
served, looked up in a table built at import, so no request path ever reaches the file system.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response
from kitflow_shared.web.problems import problem_response

router = APIRouter(include_in_schema=False)

DASHBOARD_DIR = Path(__file__).resolve().parents[2] / "dashboard"
INDEX = DASHBOARD_DIR / "index.html"
MEDIA_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
}
# Self only: no inline script or style, no third-party origin, no framing (clickjacking).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Revalidate every time: a new release must not run against a cached old script.
    "Cache-Control": "no-cache",
}
ASSETS: dict[str, Path] = {
    path.relative_to(DASHBOARD_DIR).as_posix(): path
    for path in DASHBOARD_DIR.rglob("*")
    if path.is_file() and path.suffix in MEDIA_TYPES
}


@router.get("/")
async def dashboard() -> FileResponse:
    """The dashboard page (no authentication: it signs in itself)."""
    return FileResponse(INDEX, media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS)


@router.get("/dashboard/{asset:path}")
async def dashboard_asset(asset: str) -> Response:
    """A stylesheet, script module or map data (`map/mali.json`) of the dashboard."""
    path = ASSETS.get(asset)
    if path is None:
        return problem_response(
            404, "Not found", f"no dashboard asset named {asset!r}", slug="not-found"
        )
    return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], headers=SECURITY_HEADERS)
