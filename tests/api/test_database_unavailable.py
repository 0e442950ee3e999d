"""A database that is down answers 503 at once, with a message and Retry-After, and writes
nothing (R-CON-5; issue 8's outage drill runs the real thing: `make reliability`)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from sargs.bootstrap import create_app
from sargs.core.db import make_engine, make_session_factory
from sargs.entrypoints.container import Container
from tests.web_helpers import console_login

UNREACHABLE = {
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:1/nowhere",  # nothing listens on port 1
    "sqlite": "sqlite:////nonexistent-directory/sargs.db",  # cannot be opened
}


def go_down(container: Container, which: str) -> None:
    engine = make_engine(UNREACHABLE[which])
    container.sessions = make_session_factory(engine)
    container.read_sessions = make_session_factory(engine, readonly=True)


@pytest.mark.parametrize("which", sorted(UNREACHABLE))
def test_api_requests_fail_fast_with_503_and_a_clear_message(
    which: str, container: Container, auth: Callable[..., dict[str, str]]
) -> None:
    headers = auth("admin")  # made while the database is still up
    go_down(container, which)
    client = TestClient(create_app(container), raise_server_exceptions=False)
    started = time.monotonic()
    r = client.post(
        "/api/v1/consents",
        json={"controller": "lmt", "identity": "msisdn:+37129000901", "purpose": "offers", "action": "grant"},
        headers=headers,
    )
    assert time.monotonic() - started < 10
    assert r.status_code == 503, r.text
    assert r.headers["retry-after"] == "5"
    assert r.json()["error"] == {
        "code": "unavailable",
        "message": "the database is unavailable; nothing was changed, try again shortly",
    }


@pytest.mark.parametrize("which", sorted(UNREACHABLE))
def test_pages_fail_with_a_503_page_in_both_languages(
    which: str, container: Container, staff_member: Callable[..., tuple[str, str]]
) -> None:
    client = TestClient(create_app(container), raise_server_exceptions=False)
    console_login(client, *staff_member("operator", ["lmt"]))
    go_down(container, which)
    r = client.get("/console/")
    assert r.status_code == 503
    assert r.headers["content-type"].startswith("text/html")
    assert "Datubāze pašlaik nav pieejama" in r.text and "The database is unavailable" in r.text
