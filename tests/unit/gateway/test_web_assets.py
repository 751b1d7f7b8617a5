"""The web pages' static files and their translations, without a browser: every key a page or
script uses is in both catalogues (and nothing else is), each translation keeps the same
placeholders, and the files are served compressed, revalidated by ETag, from memory only."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from kitflow_gateway.api.routes import dashboard, web

WEB = web.WEB_DIR
# The coordinator dashboard translates through the same module and catalogues.
PAGES = (WEB, dashboard.DASHBOARD_DIR)
LANGUAGES = ("fr", "en")
# data-i18n="key", data-i18n-attr="attr:key;attr:key", t("key"), and the form fields' labels.
USES = (
    re.compile(r'data-i18n="([^"]+)"'),
    re.compile(r'data-i18n-attr="([^"]+)"'),
    re.compile(r'\bt\("([^"]+)"'),
    re.compile(r'\blabel: "([^"]+)"'),
    # The partner portal hands literal keys to its label helpers (labelFor(id, "partner.x")).
    re.compile(r'"(partner\.[a-z_]+(?:\.[a-z_]+)*)"'),
)
# t(...) with something else than a literal: only these, whose keys are literals elsewhere.
INDIRECT = {
    "t(node.dataset.i18n)",
    "t(key)",
    "t(field.label)",
    "t(key, params = {})",
    "t(section.label)",
}


def _catalogue(language: str) -> dict[str, str]:
    catalogue: dict[str, str] = json.loads(
        (WEB / "shared" / "i18n" / f"{language}.json").read_text(encoding="utf-8")
    )
    return catalogue


def _sources() -> list[Path]:
    return [p for root in PAGES for p in sorted(root.rglob("*")) if p.suffix in {".html", ".js"}]


def _code(path: Path) -> str:
    """The file without its line comments (which show the syntax with made-up keys)."""
    text = path.read_text(encoding="utf-8")
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//"))


def _used_keys() -> set[str]:
    used: set[str] = set()
    for path in _sources():
        text = _code(path)
        for pattern in USES:
            for found in pattern.findall(text):
                if pattern.pattern.startswith("data-i18n-attr"):
                    used.update(pair.split(":")[1].strip() for pair in found.split(";"))
                else:
                    used.add(found)
    return used


def test_every_key_used_is_in_both_catalogues_and_no_other() -> None:
    used = _used_keys()
    for language in LANGUAGES:
        keys = set(_catalogue(language))
        assert used - keys == set(), f"missing from {language}.json"
        assert keys - used == set(), f"unused in {language}.json"


def test_no_translation_is_looked_up_by_a_key_made_at_run_time() -> None:
    for path in _sources():
        calls = set(re.findall(r"\bt\((?!\")[^)]*\)", _code(path)))
        assert calls <= INDIRECT, f"{path.name}: {calls - INDIRECT}"


@pytest.mark.parametrize("key", sorted(_catalogue("en")))
def test_each_translation_is_filled_in_and_keeps_its_placeholders(key: str) -> None:
    english, french = _catalogue("en")[key], _catalogue("fr")[key]
    assert english.strip()
    assert french.strip()
    assert set(re.findall(r"\{\w+\}", english)) == set(re.findall(r"\{\w+\}", french))


@pytest.fixture
def client() -> TestClient:
    app = FastAPI()
    app.include_router(web.router)
    return TestClient(app)


def test_the_app_page_is_served_compressed_and_revalidated(client: TestClient) -> None:
    page = client.get("/warehouse/", headers={"Accept-Encoding": "gzip"})
    assert page.status_code == 200
    assert page.headers["content-encoding"] == "gzip"
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert '<html lang="fr">' in page.text
    again = client.get(
        "/warehouse/", headers={"Accept-Encoding": "gzip", "If-None-Match": page.headers["etag"]}
    )
    assert again.status_code == 304
    assert again.content == b""
    plain = client.get("/warehouse/", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.headers["etag"] != page.headers["etag"]
    assert plain.content == page.content


def test_the_service_worker_names_the_shell_and_its_version(client: TestClient) -> None:
    worker = client.get("/warehouse/sw.js").text
    assert "__SHELL_" not in worker
    shell = json.loads(re.search(r"const SHELL = (\[.*?\]);", worker).group(1))  # type: ignore[union-attr]
    assert "/warehouse/" in shell
    assert "/warehouse/index.html" not in shell
    assert {"/web/shared/i18n.js", "/web/shared/i18n/fr.json", "/warehouse/js/app.js"} <= set(shell)
    for path in shell:
        assert client.get(path).status_code == 200, path


def test_unknown_paths_are_problems_and_the_bare_path_redirects(client: TestClient) -> None:
    missing = client.get("/warehouse/../../bootstrap.py")
    assert missing.status_code == 404
    nothing = client.get("/web/shared/nothing.js")
    assert nothing.status_code == 404
    assert nothing.headers["content-type"] == "application/problem+json"
    bare = client.get("/warehouse", follow_redirects=False)
    assert bare.status_code == 308
    assert bare.headers["location"] == "/warehouse/"


def test_the_partner_portal_is_served_like_the_warehouse_app(client: TestClient) -> None:
    page = client.get("/partner/", headers={"Accept-Encoding": "gzip"})
    assert page.status_code == 200
    assert page.headers["content-encoding"] == "gzip"
    assert page.headers["cache-control"] == "no-cache"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert '<script type="module" src="/partner/js/app.js">' in page.text
    for module in ("app", "api", "needs", "plans", "kobo"):
        script = client.get(f"/partner/js/{module}.js")
        assert script.status_code == 200, module
        assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert client.get("/partner/index.html").status_code == 404
    bare = client.get("/partner", follow_redirects=False)
    assert bare.status_code == 308
    assert bare.headers["location"] == "/partner/"


def test_the_partner_portal_is_not_in_the_warehouse_apps_offline_shell(
    client: TestClient,
) -> None:
    worker = client.get("/warehouse/sw.js").text
    assert "/partner/" not in worker


# What a partner's phone downloads to open the portal, compressed as served: the page, its
# style, every module (all are imported at start) and its own catalogue (its keys only). The
# portal has no offline copy, so a visit after a release downloads it again; over 2G
# (250 kbit/s) 40 KB is about 1.3 s of transfer.
PORTAL_BUDGET_BYTES = 40_000


def test_the_partner_portal_stays_within_its_weight_budget() -> None:
    paths = ["/partner/", "/partner/portal.css", "/partner/i18n/fr.json"]
    paths += [f"/partner/js/{p.name}" for p in sorted((WEB / "partner" / "js").glob("*.js"))]
    # The pages' shared modules (translations, DOM helpers) are part of the portal's load.
    paths += [f"/web/shared/{p.name}" for p in sorted((WEB / "shared").glob("*.js"))]
    sizes = {path: len(web.ASSETS[path].gzipped or web.ASSETS[path].body) for path in paths}
    assert sum(sizes.values()) <= PORTAL_BUDGET_BYTES, sizes


def test_the_partner_portal_loads_its_own_catalogue_of_its_keys_only(client: TestClient) -> None:
    # Every page's strings in one shared file grew the portal's first load past its budget.
    page = client.get("/partner/").text
    assert '<meta name="kitflow-catalogue" content="/partner/i18n/">' in page
    for language in ("fr", "en"):
        shared = client.get(f"/web/shared/i18n/{language}.json").json()
        own = client.get(f"/partner/i18n/{language}.json").json()
        assert own == {key: text for key, text in shared.items() if key.startswith("partner.")}
        assert len(own) > 100


def test_the_dashboard_is_served_compressed_and_revalidated_like_the_other_pages() -> None:
    # It was sent whole on every visit (181 kB of page, modules and map with every view).
    app = FastAPI()
    app.include_router(dashboard.router)
    client = TestClient(app)
    for path in ("/", "/dashboard/js/app.js", "/dashboard/map/mali.json"):
        first = client.get(path, headers={"Accept-Encoding": "gzip"})
        assert first.status_code == 200, path
        assert first.headers["content-encoding"] == "gzip", path
        assert "default-src 'self'" in first.headers["content-security-policy"]
        again = client.get(
            path, headers={"Accept-Encoding": "gzip", "If-None-Match": first.headers["etag"]}
        )
        assert again.status_code == 304, path
    assert client.get("/dashboard/index.html").status_code == 404
    assert client.get("/dashboard/../bootstrap.py").status_code == 404
