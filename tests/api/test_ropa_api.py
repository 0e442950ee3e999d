"""The Art. 30 record and processors over HTTP, and audience exports refused to a processor without a
contract in force (R-ROPA-1,2)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sargs.bootstrap import build, create_app
from sargs.core.clock import FixedClock
from sargs.core.config import Settings
from sargs.domains.policy.schema import Policy
from sargs.domains.tokens.service import create_token


def test_the_record_downloads_per_controller_in_every_format(
    client: TestClient, auth: Callable[..., dict[str, str]]
) -> None:
    dpo = auth("dpo")
    r = client.get("/api/v1/ropa/lmt", params={"format": "csv", "lang": "en"}, headers=dpo)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["controller", "controller_name", "dpo", "purpose_id"]
    assert {row[3] for row in rows[1:]} >= {"offers", "loyalty", "service"}
    r = client.get("/api/v1/ropa/lytagra-lv", params={"format": "pdf"}, headers=dpo)
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    assert 'filename="record-of-processing-lytagra-lv-lv.pdf"' in r.headers["content-disposition"]
    r = client.get("/api/v1/ropa/lmt-retail", params={"format": "json"}, headers=dpo)
    assert r.json()["processors"][0]["name"] == "TSC"
    r = client.get("/api/v1/ropa/lmt", params={"format": "html", "lang": "lv"}, headers=dpo)
    assert "<h1>Apstrādes darbību reģistrs</h1>" in r.text
    assert client.get("/api/v1/ropa/nobody", headers=dpo).status_code == 422


def test_the_record_is_for_dpo_admin_and_auditor_within_their_companies(
    client: TestClient, auth: Callable[..., dict[str, str]]
) -> None:
    assert client.get("/api/v1/ropa/lmt", headers=auth("auditor")).status_code == 200
    assert client.get("/api/v1/ropa/lmt", headers=auth("marketing")).status_code == 403
    assert client.get("/api/v1/ropa/lmt", headers=auth("dpo", ["lytagra-lv"])).status_code == 403
    listed = client.get("/api/v1/processors", headers=auth("dpo", ["lmt-retail"])).json()
    assert [(p["id"], p["controller"], p["in_force"]) for p in listed] == [("tsc", "lmt-retail", True)]


def _policies(example_policies: list[Policy], **contract: Any) -> list[Policy]:
    """The examples, with TSC engaged by LMT for `offers` and its contract changed as given."""
    out = []
    for policy in example_policies:
        data = policy.model_dump()
        for proc in data["processors"]:
            if proc["id"] == "tsc":
                proc.update(controllers=["lmt"], purposes=["offers"], data_categories=["contact"])
                proc["contract"].update(contract)
        out.append(Policy.model_validate(data))
    return out


@pytest.fixture
def app_with(
    db_url: str, clock: FixedClock, example_policies: list[Policy]
) -> Iterator[Callable[..., tuple[TestClient, str]]]:
    clients: list[TestClient] = []

    def make(**contract: Any) -> tuple[TestClient, str]:
        container = build(
            Settings(database_url=db_url, demo=True),
            clock=clock,
            policies=_policies(example_policies, **contract),
        )
        with container.sessions.begin() as session:
            secret = create_token(session=session, name="m", role="marketing", now=clock.now()).secret
        client = TestClient(create_app(container))
        clients.append(client)
        return client, secret

    yield make
    for c in clients:
        c.close()


def test_an_audience_goes_to_a_processor_only_with_a_contract_in_force(
    app_with: Callable[..., tuple[TestClient, str]],
) -> None:
    client, secret = app_with()
    headers = {"Authorization": f"Bearer {secret}"}
    params = {"controller": "lmt", "processor": "tsc"}
    assert client.get("/api/v1/audiences/offers", params=params, headers=headers).status_code == 200
    r = client.get("/api/v1/audiences/loyalty", params=params, headers=headers)
    assert r.status_code == 409 and "not engaged for purpose 'loyalty'" in r.json()["error"]["message"]
    r = client.get("/api/v1/audiences/offers", params={**params, "processor": "acme"}, headers=headers)
    assert r.status_code == 422 and r.json()["error"]["field"] == "processor"


@pytest.mark.parametrize(
    ("contract", "why"),
    [
        ({"status": "terminated"}, "contract is terminated"),
        ({"expires": "2026-01-31"}, "expired on 2026-01-31"),
        ({"data_protection_clause": False}, "no data-protection clause"),
    ],
)
def test_an_audience_export_to_a_processor_without_a_contract_in_force_is_refused_saying_why(
    app_with: Callable[..., tuple[TestClient, str]], contract: dict[str, Any], why: str
) -> None:
    client, secret = app_with(**contract)
    r = client.get(
        "/api/v1/audiences/offers",
        params={"controller": "lmt", "processor": "tsc"},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert r.status_code == 409
    assert r.json()["error"]["field"] == "processor" and why in r.json()["error"]["message"]
