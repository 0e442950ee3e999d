"""Consent writes that arrive together share one transaction (core.group_commit): each is done as
it would be alone, is answered only after the group has committed, and a bad one fails alone."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sargs.bootstrap import create_app
from sargs.domains.audit.model import AccessLogEntry
from sargs.domains.consent.model import ConsentEvent
from sargs.domains.consent.verify import verify_ledger
from sargs.entrypoints.container import Container
from tests.helpers import run_apart

Auth = Callable[..., dict[str, str]]
ROUTE = "POST /api/v1/consents"
SAME = "msisdn:+37129100000"


def _write(identity: str, action: str = "grant", **extra: Any) -> dict[str, Any]:
    return {"controller": "lmt", "identity": identity, "purpose": "offers", "action": action} | extra


def test_writes_arriving_together_are_each_done_as_alone(
    client: TestClient, auth: Auth, container: Container
) -> None:
    operator = auth("operator")
    r = client.post(
        "/api/v1/consents", json=_write("msisdn:+37129100099", idempotency_key="used"), headers=operator
    )
    assert r.status_code == 201, r.text
    app = create_app(container)  # a fresh app: its group commit starts idle
    sizes: list[int] = []
    writes = app.state.consent_writes
    observe = writes.on_group
    writes.on_group = lambda n: (sizes.append(n), observe(n))
    bodies = (
        [_write(SAME, "grant" if n % 2 == 0 else "withdraw") for n in range(4)]  # one person, four events
        + [_write(f"msisdn:+371291000{n:02d}") for n in range(1, 9)]  # eight people, new
        + [_write("msisdn:+37129100050", idempotency_key="twin")] * 2  # the same request twice
    )

    async def send_all(bodies: list[dict[str, Any]]) -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sargs") as http:
            return await asyncio.gather(
                *[http.post("/api/v1/consents", json=b, headers=operator) for b in bodies]
            )

    answers = run_apart(send_all(bodies))
    codes = [r.status_code for r in answers]
    assert codes[:12] == [201] * 12, [r.text for r in answers]
    assert sorted(codes[12:14]) == [200, 201]  # one written, the other its replay
    assert answers[12].json()["event"]["id"] == answers[13].json()["event"]["id"]
    assert max(sizes) > 1  # they did share transactions

    # A group with a bad write in it (an idempotency key reused for another request): it fails
    # alone, the others are written.
    bad = _write("msisdn:+37129100051", purpose="metadata", idempotency_key="used")
    more = run_apart(send_all([_write("msisdn:+37129100052"), bad, _write("msisdn:+37129100053")]))
    assert [r.status_code for r in more] == [201, 409, 201]
    assert "idempotency_key" in more[1].text

    same = [r.json()["event"] for r in answers[:4]]
    assert sorted(e["chain_seq"] for e in same) == [1, 2, 3, 4]  # one chain, in order, none lost
    with container.read_sessions.begin() as s:
        report = verify_ledger(session=s)
        assert report.ok, report.problems
        events = s.scalar(select(func.count()).select_from(ConsentEvent))
        logged = s.scalar(select(func.count()).where(AccessLogEntry.route == ROUTE))
        unlogged_409 = s.scalar(
            select(func.count()).where(AccessLogEntry.route == ROUTE, AccessLogEntry.outcome != "ok")
        )
    assert events == 1 + 13 + 2  # the first write, 12 + the one twin, 2; nothing of the refused one
    assert logged == 1 + 14 + 2 and unlogged_409 == 0  # a row per answered 2xx, none for the 409
    last = max(same, key=lambda e: e["chain_seq"])
    r = client.get(
        "/api/v1/consents/check",
        params={"controller": "lmt", "identity": SAME, "purpose": "offers"},
        headers=auth("marketing"),
    )
    assert r.json()["event_id"] == last["id"]  # the latest in the chain is the current state


def test_a_grouped_write_is_answered_only_after_its_group_commits(
    auth: Auth, container: Container, monkeypatch: Any
) -> None:
    """A group whose commit fails answers none of its writes as written, and keeps none of them."""
    import sargs.core.group_commit as group_commit

    app = create_app(container)
    operator = auth("operator")
    real = group_commit.GroupCommit._commit
    failing = {"on": True}

    def commit_fails_first(self, group):  # type: ignore[no-untyped-def]
        if self.name == "consent-writes" and failing.pop("on", False):
            run = self.run

            def then_fail(session, items):  # type: ignore[no-untyped-def]
                run(session, items)
                raise RuntimeError("the commit failed (test)")

            self.run = then_fail
            try:
                return real(self, group)
            finally:
                self.run = run
        return real(self, group)

    monkeypatch.setattr(group_commit.GroupCommit, "_commit", commit_fails_first)

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://sargs") as http:
            return await http.post("/api/v1/consents", json=_write("msisdn:+37129100077"), headers=operator)

    assert run_apart(send()).status_code == 500
    with container.read_sessions.begin() as s:
        assert s.scalar(select(func.count()).select_from(ConsentEvent)) == 0
        assert s.scalar(select(func.count()).where(AccessLogEntry.route == ROUTE)) == 0
    assert run_apart(send()).status_code == 201
