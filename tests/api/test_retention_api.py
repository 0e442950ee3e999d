"""Retention over HTTP (R-RET-2): plans and runs for DPOs, holds with field-naming errors, a busy
source answers 409, and a controller-scoped token neither sees nor purges another controller's source."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from sargs.domains.retention.model import RetentionLease
from sargs.domains.retention.rules import SourceRules
from sargs.entrypoints.container import Container
from sargs.integrations.sources.sql_retention import SqlRetentionConnector
from tests.conftest import NOW
from tests.helpers import run_tasks
from tests.retention_sources import loyalty_tables

Auth = Callable[..., dict[str, str]]


@pytest.fixture
def loyalty(container: Container, tmp_path: Path) -> Iterator[sa.Engine]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'loyalty.db'}")
    metadata = sa.MetaData()
    t = loyalty_tables(metadata)
    metadata.create_all(engine)
    with engine.begin() as conn:
        for i in range(1, 5):
            when = NOW - timedelta(days=1000 if i <= 3 else 10)
            conn.execute(t["members"].insert(), {"id": i, "msisdn": f"+3712900{i:04d}", "joined_at": when})
            conn.execute(t["transactions"].insert(), {"id": i, "member_id": i, "finished_at": when})

    def connectors(rules: SourceRules) -> SqlRetentionConnector:
        return SqlRetentionConnector(rules, engine)

    container.retention_connectors = connectors
    yield engine
    engine.dispose()


def test_a_dpo_plans_runs_and_reads_the_log_of_the_loyalty_source(
    client: TestClient, auth: Auth, container: Container, loyalty: sa.Engine
) -> None:
    headers = auth("dpo")
    plans = client.get("/api/v1/retention/plan", params={"policy": "lmt-group"}, headers=headers).json()
    assert [(p["source"], p["error"]) for p in plans] == [("loyalty", None)]
    assert {t["table"]: t["to_purge"] for t in plans[0]["tables"]} == {"transactions": 3, "members": 3}

    r = client.post(
        "/api/v1/retention/runs",
        json={"policy": "lmt-group", "source": "loyalty", "batch_size": 2},
        headers=headers,
    )
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "queued" and r.headers["Location"] == r.json()["status_url"]
    again = client.post(
        "/api/v1/retention/runs",
        json={"policy": "lmt-group", "source": "loyalty", "batch_size": 2},
        headers=headers,
    )
    assert again.status_code == 202 and again.json()["id"] == r.json()["id"]  # a retry queues nothing twice
    assert run_tasks(container) == 1
    task = client.get(r.headers["Location"], headers=headers).json()
    assert task["status"] == "done" and task["result"]["rows_removed"] == 6, task
    assert {t: c["removed"] for t, c in task["progress"]["tables"].items()} == {
        "transactions": 3,
        "members": 3,
    }
    run_id = task["result"]["run_id"]
    runs = client.get("/api/v1/retention/runs", headers=headers).json()
    assert runs[0]["id"] == run_id and runs[0]["status"] == "finished"
    assert runs[0]["started_by"].startswith("token:")
    log = client.get("/api/v1/retention/log", params={"run": run_id}, headers=headers).json()
    assert sum(e["rows"] for e in log) == 6 and {e["rules"][0] for e in log} == {"loyalty-two-years"}


def test_a_busy_source_answers_409_and_unknown_sources_422(
    client: TestClient, auth: Auth, container: Container, loyalty: sa.Engine
) -> None:
    with container.sessions.begin() as session:
        session.add(
            RetentionLease(
                source_key="lmt-group/loyalty",
                run_id="other",
                owner="o" * 32,
                expires_at=NOW + timedelta(minutes=1),
            )
        )
    r = client.post(
        "/api/v1/retention/runs", json={"policy": "lmt-group", "source": "loyalty"}, headers=auth("dpo")
    )
    assert r.status_code == 409 and "is working on lmt-group/loyalty" in r.json()["error"]["message"]
    r = client.post(
        "/api/v1/retention/runs", json={"policy": "lmt-group", "source": "nope"}, headers=auth("dpo")
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == "source"


def test_holds_over_http_name_the_bad_field_and_mask_people(client: TestClient, auth: Auth) -> None:
    headers = auth("dpo")
    r = client.post(
        "/api/v1/retention/holds", json={"reason": "x", "identity": "msisdn:+37129000001"}, headers=headers
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == "reason"
    r = client.post(
        "/api/v1/retention/holds", json={"reason": "court", "identity": "phone:123"}, headers=headers
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == "identity"
    r = client.post(
        "/api/v1/retention/holds",
        json={"reason": "court case", "identity": "msisdn:29000001"},
        headers=headers,
    )
    assert r.status_code == 201 and r.json()["target"] == "msisdn:+371******01"
    released = client.post(f"/api/v1/retention/holds/{r.json()['id']}/release", headers=headers)
    assert released.status_code == 200 and released.json()["released_at"]
    assert (
        client.post(f"/api/v1/retention/holds/{r.json()['id']}/release", headers=headers).status_code == 409
    )
    assert client.post("/api/v1/retention/holds/nope/release", headers=headers).status_code == 404
    assert client.get("/api/v1/retention/holds", headers=headers).json() == []


def test_a_token_scoped_to_the_retailer_neither_sees_nor_purges_the_telecom_source(
    client: TestClient, auth: Auth, loyalty: sa.Engine
) -> None:
    headers = auth("dpo", controllers=["lytagra-lv"])
    plans = client.get("/api/v1/retention/plan", headers=headers).json()
    assert {p["source"] for p in plans} == {"shop"}
    r = client.post(
        "/api/v1/retention/runs", json={"policy": "lmt-group", "source": "loyalty"}, headers=headers
    )
    assert r.status_code == 403
    with loyalty.connect() as conn:
        assert conn.execute(sa.text("select count(*) from members")).scalar_one() == 4


def test_running_a_source_whose_database_is_not_configured_is_a_422_naming_the_variable(
    client: TestClient, auth: Auth
) -> None:
    r = client.post(
        "/api/v1/retention/runs", json={"policy": "lytagra-group", "source": "shop"}, headers=auth("dpo")
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == "source"
    assert "SARGS_SOURCE_SHOP_URL" in r.json()["error"]["message"]


def test_a_dpo_scoped_to_the_retailer_manages_only_its_own_sources_holds(
    client: TestClient, auth: Auth
) -> None:
    group = auth("dpo")
    telecom_hold = client.post(
        "/api/v1/retention/holds",
        json={"reason": "litigation", "source": "loyalty", "table": "members"},
        headers=group,
    ).json()
    person_hold = client.post(
        "/api/v1/retention/holds", json={"reason": "court case", "identity": "msisdn:29000001"}, headers=group
    ).json()
    retailer = auth("dpo", controllers=["lytagra-lv"])
    assert client.get("/api/v1/retention/holds", headers=retailer).json() == []  # neither is theirs
    for hold in (telecom_hold, person_hold):
        r = client.post(f"/api/v1/retention/holds/{hold['id']}/release", headers=retailer)
        assert r.status_code == 404
    for body in (
        {"reason": "litigation", "source": "loyalty", "table": "members"},
        {"reason": "court case", "identity": "msisdn:29000002"},
    ):
        assert client.post("/api/v1/retention/holds", json=body, headers=retailer).status_code == 403
    own = client.post(
        "/api/v1/retention/holds",
        json={"reason": "tax audit", "source": "shop", "table": "orders"},
        headers=retailer,
    )
    assert own.status_code == 201
    assert [h["id"] for h in client.get("/api/v1/retention/holds", headers=retailer).json()] == [
        own.json()["id"]
    ]
    assert len(client.get("/api/v1/retention/holds", headers=group).json()) == 3  # both still in force
