"""A rights request at one company of the group never reaches into another's records: erasure
keeps identifiers another company's consents hang on, and staff see only what the requester gave."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from sargs.bootstrap import example_policy_paths
from sargs.domains.dsr.model import DsrRequest
from sargs.domains.policy.loader import load_policy
from sargs.domains.policy.schema import Policy
from sargs.domains.subjects.identifiers import parse_identity
from sargs.domains.subjects.service import add_identity, find_subject_id
from sargs.entrypoints.container import Container
from sargs.integrations.sources.samples import KnownPerson, create_shop
from sargs.integrations.sources.sql import sql_connector_factory
from tests.dsr_fakes import with_empty_mailer
from tests.helpers import fulfil_via_worker, sql_sources_only
from tests.integration.sources.conftest import source_url as source_url

PHONE = "msisdn:+37129123456"
OTHER_EMAIL = "email:held.by.telecom@example.lv"
REQUESTER = {"name": "A B", "address": "Rīga", "contact": "a.b@example.lv", "signed": True}
Auth = Callable[..., dict[str, str]]


def _telecom_client(client: TestClient, auth: Auth, container: Container) -> None:
    r = client.post(
        "/api/v1/consents",
        json={
            "controller": "lmt",
            "identity": PHONE,
            "purpose": "offers",
            "action": "grant",
            "channel": "api",
        },
        headers=auth("admin"),
    )
    assert r.status_code == 201, r.text
    with container.sessions.begin() as s:
        sid = find_subject_id(session=s, identity=parse_identity(PHONE))
        assert sid is not None
        add_identity(
            session=s, subject_id=sid, identity=parse_identity(OTHER_EMAIL), now=container.clock.now()
        )


def _file(client: TestClient, headers: dict[str, str], kind: str) -> str:
    body = {
        "controller": "lytagra-lv",
        "kind": kind,
        "channel": "post",
        "identities": [PHONE],
        "requester": REQUESTER,
        **({"ground": "no_longer_needed"} if kind == "erasure" else {}),
    }
    r = client.post("/api/v1/dsr/requests", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_erasure_at_the_retailer_keeps_the_identifiers_the_telecoms_consents_hang_on(
    client: TestClient, auth: Auth, container: Container, source_url: Callable[[str], str]
) -> None:
    shop = source_url("shop")
    create_shop(shop, people=5, now=container.clock.now(), known=[KnownPerson(msisdn=PHONE.split(":")[1])])
    container.sources = with_empty_mailer(sql_connector_factory({"SARGS_SOURCE_SHOP_URL": shop}))
    _telecom_client(client, auth, container)
    dpo = auth("dpo", ["lytagra-lv"])
    rid = _file(client, dpo, "erasure")
    verified = client.post(
        f"/api/v1/dsr/requests/{rid}/verify",
        json={"method": "certified_copy", "evidence": {"certified_by": "notary"}},
        headers=dpo,
    )
    assert verified.status_code == 200, verified.text
    done = fulfil_via_worker(client, container, rid, dpo)
    assert done.status_code == 200, done.text
    assert done.json()["status"] in ("fulfilled", "partially_fulfilled"), done.text  # the shop was erased
    check = client.get(
        f"/api/v1/consents/check?controller=lmt&identity={PHONE}&purpose=offers", headers=auth("admin")
    )
    assert check.json()["allowed"] is True  # the telecom still finds its client and the consent
    answer = client.get(
        f"/api/v1/dsr/requests/{rid}/response?format=html&lang=en",
        headers={**dpo, "X-Access-Reason": "answering the request"},
    )
    assert done.json()["decision"]["identifiers_kept_for_other_companies"] is True
    assert "citiem grupas uzņēmumiem" in answer.text  # told in the request's language (lv)


def test_staff_see_only_the_identifiers_the_requester_gave(
    client: TestClient, auth: Auth, container: Container
) -> None:
    _telecom_client(client, auth, container)
    operator = auth("operator", ["lytagra-lv"])
    rid = _file(client, operator, "access")
    with container.read_sessions.begin() as s:
        row = s.get(DsrRequest, rid)
        assert row is not None and row.identities == ["msisdn:+37129123456"]  # what the console shows
    assert "held.by.telecom" not in client.get(f"/api/v1/dsr/requests/{rid}", headers=operator).text


def test_fulfilment_is_in_the_access_log_even_when_a_source_fails_part_way(
    client: TestClient, auth: Auth, container: Container
) -> None:
    from sqlalchemy import select

    from sargs.domains.audit.model import AccessLogEntry

    _telecom_client(client, auth, container)  # no shop database configured: the source fails
    dpo = auth("dpo", ["lytagra-lv"])
    rid = _file(client, dpo, "erasure")
    client.post(
        f"/api/v1/dsr/requests/{rid}/verify",
        json={"method": "certified_copy", "evidence": {"certified_by": "notary"}},
        headers=dpo,
    )
    done = fulfil_via_worker(client, container, rid, dpo)
    assert done.status_code == 200 and done.json()["status"] == "in_progress", done.text
    with container.read_sessions.begin() as s:
        logged = s.scalars(
            select(AccessLogEntry.route).where(
                AccessLogEntry.action == "change", AccessLogEntry.controller == "lytagra-lv"
            )
        ).all()
    assert any("fulfil" in route for route in logged), logged


@pytest.fixture(scope="module")
def example_policies() -> list[Policy]:
    """Without the retailer's paper archive: its manual task is tested in test_dsr_followups."""
    return sql_sources_only([load_policy(p) for p in example_policy_paths()])
