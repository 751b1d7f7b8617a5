"""HTTP Basic carrying an API key as its password (KoboToolbox's REST Services)."""

from __future__ import annotations

import base64

from kitflow_gateway.api.deps import basic_api_key
from starlette.requests import Request


def _request(authorization: str | None) -> Request:
    headers = [] if authorization is None else [(b"authorization", authorization.encode())]
    return Request({"type": "http", "method": "POST", "path": "/", "headers": headers})


def _basic(text: str) -> str:
    return "Basic " + base64.b64encode(text.encode()).decode()


def test_the_password_is_the_key_and_the_user_name_is_not_read() -> None:
    assert basic_api_key(_request(_basic("NRC:kf_abc_def"))) == "kf_abc_def"
    assert basic_api_key(_request(_basic(":kf_abc_def"))) == "kf_abc_def"
    # A key never holds ':', but the password is everything after the first one.
    assert basic_api_key(_request(_basic("NRC:kf:x"))) == "kf:x"


def test_no_key_is_read_from_anything_else() -> None:
    for authorization in (
        None,
        "Bearer kf_abc_def",
        _basic("NRC"),
        _basic("NRC:"),
        "Basic not-base64!",
        "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),
        "Basic",
    ):
        assert basic_api_key(_request(authorization)) is None, authorization
