"""Sargs' own expired data goes with the same plans, runs and log: used sign-in codes a day after
they expire, web sessions a month after they end; nothing younger is touched."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from sargs.domains.access.model import WebSession
from sargs.domains.portal.model import OneTimeCode
from sargs.domains.retention.history import destruction_log
from sargs.domains.retention.internal import INTERNAL_SOURCE
from sargs.domains.retention.model import RetentionRun
from sargs.domains.retention.plan import plan
from sargs.domains.retention.runs import run_retention
from sargs.domains.web.model import WebAccessLog
from sargs.entrypoints.container import Container
from tests.conftest import NOW


def _code(i: int, expires_ago: timedelta) -> OneTimeCode:
    at = NOW - expires_ago
    return OneTimeCode(
        id=f"code{i}",
        purpose="signin",
        identity_digest="d" * 64,
        subject_id=None,
        code_hmac="h" * 64,
        created_at=at - timedelta(minutes=10),
        expires_at=at,
    )


def _session(i: int, *, ended_ago: timedelta | None, expires_in: timedelta) -> WebSession:
    return WebSession(
        id=f"ws{i}",
        token_sha256=f"{i:064d}",
        kind="staff",
        owner_id="o",
        created_at=NOW - timedelta(days=90),
        last_seen_at=NOW - timedelta(days=40),
        expires_at=NOW + expires_in,
        ended_at=NOW - ended_ago if ended_ago is not None else None,
    )


@pytest.fixture
def seeded(container: Container) -> None:
    with container.sessions.begin() as session:
        session.add_all([_code(i, timedelta(days=2)) for i in range(5)])
        session.add_all([_code(10 + i, timedelta(hours=3)) for i in range(2)])  # expired today: kept
        session.add(_session(1, ended_ago=timedelta(days=31), expires_in=timedelta(days=1)))
        session.add(_session(2, ended_ago=None, expires_in=-timedelta(days=45)))
        session.add(_session(3, ended_ago=timedelta(days=2), expires_in=timedelta(hours=1)))  # ended lately
        session.add(_session(4, ended_ago=None, expires_in=timedelta(hours=5)))  # live


def test_expired_codes_and_sessions_are_planned_purged_and_logged(container: Container, seeded: None) -> None:
    connectors: Callable[..., object] = lambda rules: None  # noqa: E731 - no external source is planned
    with container.read_sessions.begin() as session:
        (internal,) = plan(
            session=session,
            registry=container.registry,
            connectors=connectors,
            now=NOW,  # type: ignore[arg-type]
            source_id=INTERNAL_SOURCE,
        )
    assert {t.table: t.counts.to_purge for t in internal.tables} == {
        "one_time_codes": 5,
        "web_sessions": 2,
        "web_access_log:lmt": 0,  # the telecom's web section keeps access logs under `website-logs`
    }

    report = run_retention(
        sessions=container.sessions,
        registry=container.registry,
        connectors=connectors,  # type: ignore[arg-type]
        clock=container.clock.now,
        policy_id="ignored",
        source_id=INTERNAL_SOURCE,
        started_by="test",
        batch_size=2,
    )
    assert report.status == "finished" and report.rows_removed == 7
    assert report.counts == {"one_time_codes": {"deleted": 5}, "web_sessions": {"deleted": 2}}
    with container.read_sessions.begin() as session:
        assert session.scalar(select(func.count()).select_from(OneTimeCode)) == 2
        assert set(session.scalars(select(WebSession.id))) == {"ws3", "ws4"}
        log = destruction_log(session=session)
        assert sum(e.rows for e in log) == 7 and {e.source_id for e in log} == {INTERNAL_SOURCE}
        assert session.scalars(select(RetentionRun)).one().policy_id == INTERNAL_SOURCE


def _log_line(i: int, controller: str, age: timedelta) -> WebAccessLog:
    return WebAccessLog(
        controller=controller,
        line_key=f"k{i}",
        visitor="v" * 32,
        ip_prefix="192.0.2.0/24",
        requested_at=NOW - age,
        method="GET",
        path="/",
        status=200,
        ingested_at=NOW,
    )


def test_website_access_logs_go_after_the_policys_period_for_that_website_only(container: Container) -> None:
    year = timedelta(days=366)
    with container.sessions.begin() as session:
        session.add_all([_log_line(i, "lmt", year + timedelta(days=i)) for i in range(3)])  # past P12M
        session.add(_log_line(10, "lmt", timedelta(days=200)))  # younger: kept
        session.add(_log_line(11, "lytagra-lv", 3 * year))  # no web access-log rule for the retailer: kept
    connectors: Callable[..., object] = lambda rules: None  # noqa: E731
    with container.read_sessions.begin() as session:
        (internal,) = plan(
            session=session,
            registry=container.registry,
            connectors=connectors,
            now=NOW,  # type: ignore[arg-type]
            source_id=INTERNAL_SOURCE,
        )
    logs = next(t for t in internal.tables if t.table == "web_access_log:lmt")
    assert logs.rules == ("website-logs",) and logs.counts.to_purge == 3
    report = run_retention(
        sessions=container.sessions,
        registry=container.registry,
        connectors=connectors,  # type: ignore[arg-type]
        clock=container.clock.now,
        policy_id="ignored",
        source_id=INTERNAL_SOURCE,
        started_by="test",
        batch_size=2,
    )
    assert report.counts["web_access_log:lmt"] == {"deleted": 3}
    with container.read_sessions.begin() as session:
        left = set(session.scalars(select(WebAccessLog.line_key)))
        assert left == {"k10", "k11"}
        assert any(e.table_name == "web_access_log:lmt" and e.rows for e in destruction_log(session=session))
