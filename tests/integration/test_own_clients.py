"""Issue 19, done when: outside the demo (a fresh database, `sargs db upgrade`, both example
policies, no sample people), a number imported as an LMT client texts METADATI and is granted; a
number never imported is refused with the reason; a client the next sync no longer finds leaves
METADATI's audience and the ledger still verifies. SQLite and PostgreSQL (SARGS_TEST_DATABASE_URL)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from sargs.bootstrap import build, create_app, example_policy_paths, sms_sender
from sargs.core.clock import FixedClock
from sargs.core.config import Settings
from sargs.domains.consent.checks import check_consent
from sargs.domains.consent.model import ConsentEvent
from sargs.domains.consent.verify import verify_ledger
from sargs.domains.policy.loader import load_policy
from sargs.domains.sms.signatures import sign_json
from sargs.domains.subjects.identifiers import Identity
from sargs.domains.subjects.service import find_subject_id
from sargs.entrypoints.cli.main import make_cli
from sargs.entrypoints.container import Container
from tests.conftest import NOW
from tests.helpers import PG_URL

SECRET = "an sms webhook secret for this test"
CLIENT = "+37129100001"  # imported as an LMT client
KEPT = "+37129100002"  # imported and still in billing at the next sync
STRANGER = "+37126200003"  # never imported
POLICIES = [str(p) for p in example_policy_paths()]
cli = make_cli(
    build=build, create_app=create_app, example_policies=example_policy_paths, sms_sender=sms_sender
)


def sargs(*args: str, url: str, env: dict[str, str] | None = None) -> str:
    full = ["--database-url", url, *[a for p in POLICIES for a in ("--policy", p)], *args]
    result = CliRunner().invoke(cli, full, env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def fresh_url(tmp_path: Path, db_url: str) -> str:
    """PostgreSQL: the per-test database (emptied); SQLite: a brand-new file nothing has touched."""
    return db_url if PG_URL else f"sqlite:///{tmp_path / 'fresh.db'}"


@pytest.fixture
def billing(tmp_path: Path) -> Iterator[sa.Engine]:
    """The billing system's subscribers table, as the telecom example's client_group_sources says."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'billing.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE subscribers (id INTEGER PRIMARY KEY, msisdn TEXT, account_no TEXT, status TEXT)"
        )
        conn.exec_driver_sql(
            "INSERT INTO subscribers (msisdn, account_no, status) VALUES "
            "('29100002', 'LMT-2', 'active'), ('+37129100009', 'LMT-9', 'closed')"
        )
    yield engine
    engine.dispose()


def text_in(client: TestClient, sender: str, text: str, message_id: str) -> dict[str, object]:
    body = json.dumps({"message_id": message_id, "from": sender, "to": "29307777", "text": text}).encode()
    r = client.post(
        "/api/v1/sms/inbound",
        content=body,
        headers={"Content-Type": "application/json", "X-Sargs-Signature": sign_json(SECRET, body)},
    )
    assert r.status_code == 201, r.text
    out: dict[str, object] = r.json()
    return out


def audience(client: TestClient, container: Container) -> set[str]:
    from sargs.domains.tokens.service import create_token

    with container.sessions.begin() as session:
        secret = create_token(
            session=session, name="marketing", role="marketing", now=container.clock.now()
        ).secret
    r = client.get(
        "/api/v1/audiences/metadata",
        params={"controller": "lmt", "channel": "sms", "format": "ndjson"},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert r.status_code == 200, r.text
    return {json.loads(line)["contact"] for line in r.text.splitlines() if line.strip()}


def test_an_imported_client_may_give_metadati_until_the_next_sync_drops_them(
    fresh_url: str, tmp_path: Path, billing: sa.Engine
) -> None:
    sargs("db", "upgrade", url=fresh_url)
    clients = tmp_path / "clients.csv"
    clients.write_text(f"msisdn,customer,controller,client_group\n{CLIENT},LMT-1,lmt,own\n{KEPT},,lmt,own\n")
    assert "2 new people" in sargs("subjects", "import", str(clients), url=fresh_url)

    clock = FixedClock(NOW)
    settings = Settings(database_url=fresh_url, sms_webhook_secret=SECRET)
    container = build(settings, clock=clock, policies=[load_policy(Path(p)) for p in POLICIES])
    try:
        with TestClient(create_app(container)) as client:
            granted = text_in(client, CLIENT, "METADATI", "m-1")
            assert granted["outcome"] == "granted", granted
            assert text_in(client, KEPT, "METADATI", "m-2")["outcome"] == "granted"

            refused = text_in(client, STRANGER, "METADATI", "m-3")
            assert refused["outcome"] == "refused" and refused["event_ids"] == []
            assert "may be given only by: LMT clients" in str(refused["detail"])
            assert "Other operators' clients" in str(refused["detail"])
            assert audience(client, container) == {CLIENT, KEPT}

            # The next sync: billing lists KEPT (in national form) but no longer CLIENT.
            clock.advance(hours=1)
            env = {"SARGS_CLIENTS_BILLING_URL": str(billing.url)}
            out = sargs("subjects", "sync", url=fresh_url, env=env)
            assert "1 left" in out and "1 consents lapsed" in out, out
            assert audience(client, container) == {KEPT}

            # Run again: nothing changes.
            clock.advance(hours=1)
            assert "nothing to change" in sargs("subjects", "sync", url=fresh_url, env=env)

            with container.sessions.begin() as session:
                report = verify_ledger(session=session)
                assert report.ok, report.problems
                sid = find_subject_id(session=session, identity=Identity("msisdn", CLIENT))
                assert sid is not None
                # Exact for point-in-time answers: granted before the lapse, not after.
                assert check_consent(
                    session=session, subject_id=sid, controller="lmt", purpose="metadata", at=NOW
                ).allowed
                assert not check_consent(
                    session=session, subject_id=sid, controller="lmt", purpose="metadata"
                ).allowed
                lapse = session.scalars(
                    sa.select(ConsentEvent).where(
                        ConsentEvent.subject_id == sid, ConsentEvent.action == "withdraw"
                    )
                ).one()
                assert (lapse.actor_type, lapse.actor_id) == ("system", "client-group")
                assert lapse.evidence == {
                    "lapsed": "client_group",
                    "from": "own",
                    "to": "other_operator",
                    "by": "sync:lmt-group/billing",
                }
            # Texting METADATI again is now refused with the reason.
            again = text_in(client, CLIENT, "METADATI", "m-4")
            assert again["outcome"] == "refused"
        assert "ledger intact" in sargs("ledger", "verify", url=fresh_url)
    finally:
        container.close()
