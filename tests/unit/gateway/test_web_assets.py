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
)
# t(...) with something else than a literal: only these, whose keys are literals elsewhere.
INDIRECT = {"t(node.dataset.i18n)", "t(key)", "t(field.label)", "t(key, params = {})"}


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
