"""Operating Sargs (issue 14): /metrics, /livez and /readyz, request ids and the access log."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from sargs.bootstrap import create_app
from sargs.core.config import Settings
from sargs.core.logging import configure_logging
from sargs.domains.access.principal import Principal
from sargs.domains.breaches import service as breaches
from sargs.domains.jobs.model import WorkerJob
from sargs.domains.retention.model import RetentionRun
from sargs.domains.sms import outbox as sms_outbox
from sargs.entrypoints.container import Container
from sargs.migrations import downgrade, upgrade
from tests.conftest import NOW

Auth = Callable[..., dict[str, str]]
TOKEN = "metrics-token-0123456789"
PHONE = "+37129123456"
EMAIL = "juris.berzins@example.lv"
NAME = "Juris Bērziņš"
REQUEST = {
    "controller": "lytagra-lv",
    "kind": "access",
    "channel": "post",
    "identities": [f"email:{EMAIL}", f"msisdn:{PHONE}"],
    "requester": {"name": NAME, "address": "Cēsis", "contact": EMAIL, "signed": True},
}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value} of a Prometheus text exposition."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


@pytest.fixture
def log_lines() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The JSON lines the `sargs` loggers write while the test runs."""
    stream = io.StringIO()
    configure_logging("DEBUG", stream=stream)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    configure_logging("INFO")


def app_with(container: Container, **settings: Any) -> TestClient:
    container.settings = Settings(database_url=container.settings.database_url, **settings)
    return TestClient(create_app(container))


# --- /metrics: who may read it -------------------------------------------------------------------


def test_metrics_are_not_served_outside_demo_mode_without_a_token(container: Container) -> None:
    with app_with(container, demo=False) as client:
        assert client.get("/metrics").status_code == 404


def test_metrics_need_the_metrics_token_when_one_is_set(container: Container) -> None:
    with app_with(container, demo=True, metrics_token=TOKEN) as client:
        assert client.get("/metrics").status_code == 401
        wrong = client.get("/metrics", headers={"Authorization": "Bearer " + TOKEN[:-1] + "x"})
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
        ok = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200 and ok.headers["content-type"].startswith("text/plain")
        assert "sargs_metrics_database_up 1.0" in ok.text


def test_a_short_metrics_token_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="metrics_token"):
        Settings(metrics_token="short")


def test_metrics_are_open_in_demo_mode_without_a_token(client: TestClient) -> None:
    assert client.get("/metrics").status_code == 200


# --- /metrics: what it says ----------------------------------------------------------------------


def test_requests_are_counted_per_route_template_and_no_label_carries_personal_data(
    client: TestClient, auth: Auth
) -> None:
    op = auth("operator", ["lytagra-lv"])
    filed = client.post("/api/v1/dsr/requests", json=REQUEST, headers=op)
    assert filed.status_code == 201, filed.text
    rid = filed.json()["id"]
    assert client.get(f"/api/v1/dsr/requests/{rid}", headers=op).status_code == 200
    client.get(f"/api/v1/subjects/msisdn:{PHONE}/consents", headers=auth("admin"))
    client.get(f"/api/v1/subjects/email:{EMAIL}/consents")
    client.get(f"/no/such/page/{EMAIL}/{PHONE}")

    text = client.get("/metrics").text
    for secret in (PHONE, PHONE[1:], "29123456", EMAIL, "juris", "Juris", "Bērziņš", rid, "Cēsis"):
        assert secret not in text
    found = samples(text)
    routes = {dict(labels).get("route") for (name, labels) in found if name == "sargs_http_requests_total"}
    assert {
        "/api/v1/dsr/requests",
        "/api/v1/dsr/requests/{request_id}",
        "/api/v1/subjects/{identity}/consents",
        "unmatched",
    } <= routes
    key = ("sargs_http_requests_total", (("method", "GET"), ("route", "unmatched"), ("status", "4xx")))
    assert found[key] == 1
    hist = (
        "sargs_http_request_duration_seconds_count",
        (("method", "POST"), ("route", "/api/v1/dsr/requests"), ("status", "2xx")),
    )
    assert found[hist] == 1
    assert found[("sargs_dsr_open", (("controller", "lytagra-lv"),))] == 1
    assert found[("sargs_dsr_open", (("controller", "lmt"),))] == 0


def test_gauges_are_read_from_the_database_at_each_scrape(client: TestClient, container: Container) -> None:
    now = container.clock.now()
    dpo = Principal(kind="staff", id="dpo-1", role="dpo", controllers=None)
    with container.sessions.begin() as session:
        sms_outbox.enqueue(
            session=session, to=PHONE, text="LMT: paldies", kind="reply", now=now - timedelta(minutes=5)
        )
        sms_outbox.enqueue(session=session, to=PHONE, text="LMT: vēlreiz", kind="reply", now=now)
        breaches.register_breach(
            session=session,
            registry=container.registry,
            controller="lmt",
            values={
                "title": "Loyalty database copied",
                "nature": "Unauthorised access to the loyalty programme database via a stolen password.",
                "breach_types": ["confidentiality"],
                "aware_at": now - timedelta(hours=50),
                "data_categories": ["identification"],
                "subject_categories": ["own"],
                "affected_tables": [],
            },
            by=dpo,
            now=now,
        )
        session.add(
            RetentionRun(
                id="r" * 32,
                policy_id="retailer",
                source_id="shop",
                status="finished",
                as_of=now,
                started_at=now,
                finished_at=now,
                started_by="test",
                batch_size=100,
                rows_removed=42,
                counts={},
                checkpoint={},
            )
        )
        session.add(
            WorkerJob(
                name="ledger_verify",
                next_run_at=now,
                last_started_at=now - timedelta(seconds=3),
                last_finished_at=now,
                last_ok=True,
                runs=5,
                failures=1,
            )
        )
    found = samples(client.get("/metrics").text)
    assert found[("sargs_outbox_waiting", (("outbox", "sms"),))] == 2
    assert found[("sargs_outbox_oldest_age_seconds", (("outbox", "sms"),))] == pytest.approx(300)
    assert found[("sargs_outbox_waiting", (("outbox", "mail"),))] == 0
    assert found[("sargs_breach_deadline_hours_left", (("controller", "lmt"),))] == pytest.approx(22)
    assert found[("sargs_breaches_awaiting_notification", (("controller", "lmt"),))] == 1
    assert found[("sargs_retention_rows_removed_total", (("policy", "retailer"), ("source", "shop")))] == 42
    assert found[("sargs_job_runs_total", (("job", "ledger_verify"),))] == 5
    assert found[("sargs_job_failures_total", (("job", "ledger_verify"),))] == 1
    assert found[("sargs_ledger_verify_ok", ())] == 1
    assert found[("sargs_ledger_verify_last_timestamp_seconds", ())] == NOW.timestamp()


def test_dsr_gauges_separate_due_soon_from_overdue(
    client: TestClient, auth: Auth, container: Container
) -> None:
    from sqlalchemy import update

    from sargs.domains.dsr.model import DsrRequest

    op = auth("operator", ["lytagra-lv"])
    ids = [client.post("/api/v1/dsr/requests", json=REQUEST, headers=op).json()["id"] for _ in range(3)]
    now = container.clock.now()
    with container.sessions.begin() as session:
        for rid, due in zip(
            ids, (now - timedelta(days=1), now + timedelta(days=3), now + timedelta(days=20)), strict=True
        ):
            session.execute(update(DsrRequest).where(DsrRequest.id == rid).values(due_at=due))
    found = samples(client.get("/metrics").text)
    lytagra = (("controller", "lytagra-lv"),)
    assert found[("sargs_dsr_open", lytagra)] == 3
    assert found[("sargs_dsr_overdue", lytagra)] == 1
    assert found[("sargs_dsr_due_within_7_days", lytagra)] == 1


# --- liveness and readiness ---------------------------------------------------------------------


@pytest.fixture
def unreachable(container: Container) -> Iterator[Container]:
    """A container whose database cannot be opened and which has no policy loaded."""
    from sqlalchemy import create_engine

    from sargs.core.db import make_session_factory
    from sargs.domains.policy.registry import PolicyRegistry

    engine = create_engine("sqlite:////nonexistent/directory/sargs.db")
    yield Container(
        settings=container.settings,
        engine=engine,
        sessions=make_session_factory(engine),
        read_sessions=make_session_factory(engine, readonly=True),
        registry=PolicyRegistry([]),
    )
    engine.dispose()


def test_liveness_answers_without_the_database(unreachable: Container) -> None:
    with TestClient(create_app(unreachable)) as client:
        r = client.get("/livez")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_no_database_and_no_policy_is_not_ready_naming_both(unreachable: Container) -> None:
    with TestClient(create_app(unreachable)) as client:
        r = client.get("/readyz")
        scrape = client.get("/metrics")
    assert r.status_code == 503
    assert r.json()["status"] == "not_ready"
    assert r.json()["failed"] == ["database", "migrations", "policies"]
    assert r.json()["checks"]["database"] == "unavailable (OperationalError)"
    assert r.json()["checks"]["policies"] == "no policy loaded"
    assert scrape.status_code == 200 and "sargs_metrics_database_up 0.0" in scrape.text


def test_ready_when_database_migrations_and_policies_are(client: TestClient) -> None:
    r = client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ready", "checks": {"database": "ok", "migrations": "ok", "policies": "ok"}}
    assert client.get("/api/v1/health").json()["status"] == "ok"  # the old check still answers


def test_a_database_behind_the_migrations_head_is_not_ready(client: TestClient, db_url: str) -> None:
    downgrade(db_url, "-1")
    try:
        r = client.get("/readyz")
    finally:
        upgrade(db_url)
    assert r.status_code == 503
    assert r.json()["failed"] == ["migrations"]
    assert "sargs db upgrade" in r.json()["checks"]["migrations"]


# --- request id and access log ------------------------------------------------------------------


def test_every_response_carries_a_request_id_and_a_sane_incoming_one_is_kept(client: TestClient) -> None:
    made = client.get("/livez").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    assert client.get("/livez").headers["x-request-id"] != made
    kept = client.get("/livez", headers={"X-Request-ID": "proxy-4f1c.2:ab_CD"})
    assert kept.headers["x-request-id"] == "proxy-4f1c.2:ab_CD"
    for bad in (
        "short",
        "a" * 129,
        "has space in it",
        f"{EMAIL}",
        "<script>alert(1)</script>",
        "+37129123456",
    ):
        answered = client.get("/livez", headers={"X-Request-ID": bad}).headers["x-request-id"]
        assert answered != bad and re.fullmatch(r"[0-9a-f]{32}", answered)
    refused = client.get("/api/v1/health?x=%00")  # a refusal by the middleware carries one too
    assert refused.status_code == 422 and "x-request-id" in refused.headers


def test_log_lines_written_during_a_request_carry_its_id(
    client: TestClient, auth: Auth, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    r = client.get("/api/v1/audit", headers={**auth("admin"), "X-Request-ID": "req-0001-abcdef"})
    assert r.status_code in (200, 422)
    lines = [line for line in log_lines() if line.get("request_id") == "req-0001-abcdef"]
    assert any(line["logger"] == "sargs.access" for line in lines)
    assert all(line.get("request_id") != "req-0001-abcdef" for line in log_lines() if line not in lines)
    logging.getLogger("sargs.test").info("outside any request")
    assert "request_id" not in log_lines()[-1]


def test_the_access_log_names_the_route_template_never_the_identity_in_the_path(
    client: TestClient, auth: Auth, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    admin = {**auth("admin"), "X-Access-Reason": "access log test"}
    client.get(f"/api/v1/subjects/msisdn:{PHONE}/consents", headers=admin)
    client.get(f"/api/v1/subjects/email:{EMAIL}/consents?email={EMAIL}", headers=admin)
    client.get("/api/v1/subjects/customer:C-1001/consents", headers=admin)
    client.get(f"/portal/{EMAIL}/{PHONE}")
    raw = "\n".join(json.dumps(line, ensure_ascii=False) for line in log_lines())
    for secret in (PHONE, "29123456", EMAIL, "juris", "C-1001", "%40"):
        assert secret not in raw
    access = [line for line in log_lines() if line["logger"] == "sargs.access"]
    assert [line["route"] for line in access] == [
        "/api/v1/subjects/{identity}/consents",
        "/api/v1/subjects/{identity}/consents",
        "/api/v1/subjects/{identity}/consents",
        "unmatched",
    ]
    first = access[0]
    assert first["method"] == "GET" and first["status"] == 404 and first["level"] == "info"  # no such person
    assert isinstance(first["duration_ms"], float) and re.fullmatch(r"[0-9a-f]{32}", first["request_id"])


def test_probes_are_logged_at_debug_only(
    client: TestClient, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    client.get("/livez")
    client.get("/readyz")
    assert {line["level"] for line in log_lines() if line["logger"] == "sargs.access"} == {"debug"}


def test_the_access_log_can_be_turned_off(
    container: Container, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    with app_with(container, demo=True, access_log=False) as client:
        assert client.get("/api/v1/health").status_code == 200
        assert "x-request-id" in client.get("/api/v1/health").headers
    assert not [line for line in log_lines() if line["logger"] == "sargs.access"]


MULTIPROCESS_SCRIPT = """
import sys
from fastapi.testclient import TestClient
from sargs.bootstrap import build, create_app, example_policy_paths
from sargs.core.config import Settings

container = build(Settings(database_url=sys.argv[1], demo=True, policy_files=example_policy_paths()))
with TestClient(create_app(container)) as client:
    for _ in range(int(sys.argv[2])):
        assert client.get("/livez").status_code == 200
    if sys.argv[3] == "scrape":
        print(client.get("/metrics").text)
container.close()
"""


def test_multiprocess_mode_adds_up_the_requests_of_every_process(db_url: str, tmp_path: Any) -> None:
    """With PROMETHEUS_MULTIPROC_DIR set, one process's /metrics counts every process's requests."""
    import os
    import subprocess
    import sys

    shared = tmp_path / "prometheus"
    shared.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(shared)}

    def run(requests: int, mode: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", MULTIPROCESS_SCRIPT, db_url, str(requests), mode],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return done.stdout

    run(3, "count")
    run(4, "count")
    found = samples(run(2, "scrape"))
    livez = ("sargs_http_requests_total", (("method", "GET"), ("route", "/livez"), ("status", "2xx")))
    assert found[livez] == 9
    assert found[("sargs_metrics_database_up", ())] == 1


def test_a_line_logged_inside_a_sync_endpoint_carries_the_request_id(
    container: Container, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    app = create_app(container)

    @app.get("/test-only/log")
    def logs() -> dict[str, str]:  # runs in a worker thread
        logging.getLogger("sargs.test").warning("inside the endpoint")
        return {}

    with TestClient(app) as client:
        rid = client.get("/test-only/log", headers={"X-Request-ID": "thread-id-0042"}).headers["x-request-id"]
    inside = [line for line in log_lines() if line["message"] == "inside the endpoint"]
    assert rid == "thread-id-0042" and [line["request_id"] for line in inside] == [rid]
