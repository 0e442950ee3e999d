"""Migration 0005: requests started in the portal before the workflow existed become received
rights requests with their due date and the person's identities; the trail is append-only."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from sargs.migrations import downgrade, upgrade
from tests.helpers import PG_URL


def test_portal_intents_become_received_requests_and_the_trail_refuses_changes(tmp_path: Path) -> None:
    url = PG_URL or f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    downgrade(url, "0004")
    engine = create_engine(url)
    at = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    try:
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO subjects (id, created_at, chain_length) VALUES ('s1', :at, 0)"), {"at": at}
            )
            conn.execute(
                text(
                    "INSERT INTO subject_identities (subject_id, kind, value, verified, created_at) "
                    "VALUES ('s1', 'msisdn', '+37129000123', true, :at)"
                ),
                {"at": at},
            )
            conn.execute(
                text(
                    "INSERT INTO request_intents (id, subject_id, controller, kind, details, channel, status, "
                    "created_at) VALUES ('r1', 's1', 'lmt', 'access', 'all of it', 'portal', 'received', :at)"
                ),
                {"at": at},
            )
        upgrade(url)
        with engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT kind, status, channel, details, identities, due_at FROM dsr_requests WHERE id = 'r1'"
                )
            ).one()
        assert (row.kind, row.status, row.channel, row.details) == (
            "access",
            "received",
            "portal",
            "all of it",
        )
        assert "msisdn:+37129000123" in str(row.identities)
        assert str(row.due_at).startswith("2026-12-01")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO dsr_events (request_id, at, actor_kind, action, data) "
                    "VALUES ('r1', :at, 'system', 'received', '{}')"
                ),
                {"at": at},
            )
        for statement in ("UPDATE dsr_events SET action = 'x'", "DELETE FROM dsr_events"):
            with pytest.raises(DBAPIError), engine.begin() as conn:
                conn.execute(text(statement))
    finally:
        with engine.begin() as conn:
            for t in ("dsr_events", "dsr_requests", "request_intents", "subject_identities", "subjects"):
                if t == "dsr_events" and PG_URL:
                    conn.execute(text("TRUNCATE dsr_events CASCADE"))
                elif t != "dsr_events":
                    conn.execute(text(f"DELETE FROM {t}"))
        engine.dispose()
        upgrade(url)
