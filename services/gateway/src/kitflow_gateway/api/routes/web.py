"""The web pages' static files: the warehouse app at `/warehouse/`, the partner portal at
`/partner/`, and what every page shares (the translation module and its catalogues) at
`/web/shared/`.

Like the dashboard, the pages hold no data and load without authentication; they sign in
themselves. Every file is read, hashed and gzip-compressed once at import and answered from
memory, looked up in a table, so no request path ever reaches the file system, and a phone on
2G downloads each file compressed and only when it changed (ETag). The service worker's source
carries the hash of the whole shell and the list of its files: a new release changes the
worker's bytes, so browsers install it and refresh their offline copy.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from kitflow_shared.web.problems import problem_response

router = APIRouter(include_in_schema=False)

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

WEB_DIR = Path(__file__).resolve().parents[2] / "web"
WAREHOUSE_PREFIX = "/warehouse/"
PARTNER_PREFIX = "/partner/"
SHARED_PREFIX = "/web/shared/"
SERVICE_WORKER = "sw.js"
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
# Already compressed, or too small to gain from it.
UNCOMPRESSED = {".png"}


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes | None
    media_type: str
    etag: str


def make_asset(body: bytes, suffix: str) -> Asset:
    packed = None if suffix in UNCOMPRESSED else gzip.compress(body, 9, mtime=0)
    if packed is not None and len(packed) >= len(body):
        packed = None
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return Asset(body, packed, MEDIA_TYPES[suffix], etag)


def _files(folder: Path, prefix: str) -> dict[str, tuple[bytes, str]]:
    return {
        prefix + path.relative_to(folder).as_posix(): (path.read_bytes(), path.suffix)
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.suffix in MEDIA_TYPES
    }


def _load_assets() -> dict[str, Asset]:
    files = _files(WEB_DIR / "warehouse", WAREHOUSE_PREFIX) | _files(
        WEB_DIR / "shared", SHARED_PREFIX
    )
    # The portal is used online (it has no service worker): its files are served, not cached
    # for offline use, so they stay out of the warehouse app's shell.
    portal = _files(WEB_DIR / "partner", PARTNER_PREFIX)
    worker_path = WAREHOUSE_PREFIX + SERVICE_WORKER
    worker, suffix = files.pop(worker_path)
    # The app's own entry page is `/warehouse/`, not `/warehouse/index.html`.
    shell = sorted(WAREHOUSE_PREFIX if p.endswith("/index.html") else p for p in files)
    version = hashlib.sha256(b"".join(files[p][0] for p in sorted(files))).hexdigest()[:16]
    worker = worker.replace(b'"__SHELL_VERSION__"', json.dumps(version).encode())
    worker = worker.replace(b'["__SHELL_FILES__"]', json.dumps(shell).encode())
    assets = {path: make_asset(body, ext) for path, (body, ext) in (files | portal).items()}
    assets[worker_path] = make_asset(worker, suffix)
    assets[WAREHOUSE_PREFIX] = assets.pop(WAREHOUSE_PREFIX + "index.html")
    assets[PARTNER_PREFIX] = assets.pop(PARTNER_PREFIX + "index.html")
    assets |= _own_catalogues(PARTNER_PREFIX, "partner.")
    return assets


def _own_catalogues(prefix: str, key_prefix: str) -> dict[str, Asset]:
    """A page's own catalogues (`<prefix>i18n/<lang>.json`): the shared ones cut to the keys
    that page uses, so that its first load does not carry every other page's strings."""
    own = {}
    for source in sorted((WEB_DIR / "shared" / "i18n").glob("*.json")):
        keys = json.loads(source.read_text(encoding="utf-8"))
        kept = {key: text for key, text in keys.items() if key.startswith(key_prefix)}
        body = json.dumps(kept, ensure_ascii=False, indent=1).encode() + b"\n"
        own[f"{prefix}i18n/{source.name}"] = make_asset(body, ".json")
    return own


ASSETS = _load_assets()


def _accepts_gzip(request: Request) -> bool:
    return "gzip" in request.headers.get("accept-encoding", "").lower()


def _answer(request: Request, path: str) -> Response:
    return answer_from(request, ASSETS, path)


def answer_from(request: Request, assets: Mapping[str, Asset], path: str) -> Response:
    """The asset at `path`, gzipped when the client takes it, with its ETag (a 304 when the
    client has it already): the field's links are slow, every byte saved counts."""
    asset = assets.get(path)
    if asset is None:
        return problem_response(404, "Not found", f"no web asset at {path!r}", slug="not-found")
    compressed = asset.gzipped is not None and _accepts_gzip(request)
    # Each encoding is its own representation, so it has its own tag.
    etag = asset.etag[:-1] + '-gzip"' if compressed else asset.etag
    headers = {**SECURITY_HEADERS, "ETag": etag, "Vary": "Accept-Encoding"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    if asset.gzipped is not None and compressed:
        headers["Content-Encoding"] = "gzip"
        return Response(asset.gzipped, media_type=asset.media_type, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


@router.get("/warehouse")
async def warehouse_without_slash() -> RedirectResponse:
    """The app's scope ends with a slash (its service worker controls `/warehouse/...`)."""
    return RedirectResponse(WAREHOUSE_PREFIX, status_code=308)


@router.get("/warehouse/{asset:path}")
async def warehouse_asset(request: Request, asset: str) -> Response:
    """The warehouse app's page (at `/warehouse/`), scripts, styles, manifest and icons."""
    return _answer(request, WAREHOUSE_PREFIX + asset)


@router.get("/partner")
async def partner_without_slash() -> RedirectResponse:
    """The portal's modules are addressed relative to `/partner/`."""
    return RedirectResponse(PARTNER_PREFIX, status_code=308)


@router.get("/partner/{asset:path}")
async def partner_asset(request: Request, asset: str) -> Response:
    """The partner portal's page (at `/partner/`), scripts and styles."""
    return _answer(request, PARTNER_PREFIX + asset)


@router.get("/web/shared/{asset:path}")
async def shared_asset(request: Request, asset: str) -> Response:
    """What every web page shares: the translation module and its catalogues."""
    return _answer(request, SHARED_PREFIX + asset)
