"""`sargs subjects import` and `sargs subjects sync` (issue 19) against a real database: CSV and
NDJSON, bad rows named by line while the rest land, idempotence, --dry-run, conflicting
identities, batches, joins and leaves from a declared source, and a source that fails mid-read."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from sargs.bootstrap import build, create_app, example_policy_paths, sms_sender
from sargs.core.errors import SourceUnavailable
from sargs.domains.consent.checks import check_consent
from sargs.domains.consent.service import Actor, record_consent
from sargs.domains.consent.verify import verify_ledger
from sargs.domains.policy.clients import ClientGroupSource
from sargs.domains.subjects.identifiers import Identity
from sargs.domains.subjects.model import Subject, SubjectGroup, SubjectIdentity
from sargs.domains.subjects.service import client_group, find_subject_id
from sargs.domains.subjects.sync import find_source, sync_source
from sargs.entrypoints.cli.main import make_cli
from sargs.entrypoints.container import Container

cli = make_cli(
    build=build, create_app=create_app, example_policies=example_policy_paths, sms_sender=sms_sender
)
POLICIES = [a for p in example_policy_paths() for a in ("--policy", str(p))]


def sargs(*args: str, url: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(cli, ["--database-url", url, *POLICIES, *args], env=env, catch_exceptions=False)


def group_of(container: Container, kind: str, value: str, controller: str = "lmt") -> str | None:
    with container.sessions.begin() as s:
        sid = find_subject_id(session=s, identity=Identity(kind, value))  # type: ignore[arg-type]
        return None if sid is None else client_group(session=s, subject_id=sid, controller=controller)


def count(container: Container, model: type) -> int:
    with container.sessions.begin() as s:
        return s.scalar(sa.select(sa.func.count()).select_from(model)) or 0


def test_csv_import_lands_good_rows_names_bad_ones_and_is_idempotent(
    db_url: str, container: Container, tmp_path: Path
) -> None:
    f = tmp_path / "clients.csv"
    f.write_text(
        "msisdn,email,customer,controller,client_group\n"
        "+37129500001,Anna@Example.LV,LMT-1,lmt,own\n"  # 2
        "29500002,,,,own\n"  # 3: national form; controller from --controller
        "not-a-number,,,lmt,own\n"  # 4
        "+37129500003,,,lmt,gold\n"  # 5
        ",,,lmt,own\n"  # 6
        '"+37129500004","b@example.lv",,lytagra-lv,client\n'  # 7: the retailer
        "0037129500001,anna@example.lv,,lmt,own\n"  # 8: the same person, another spelling
        "+37129500002,anna@example.lv,,lmt,own\n",  # 9: the phone is line 3's, the e-mail Anna's
        encoding="utf-8",
    )
    r = sargs("subjects", "import", str(f), "--controller", "lmt", "--batch", "2", url=db_url)
    assert r.exit_code == 1, r.output
    for line, reason in [
        (4, "not a phone number"),
        (5, "unknown client group 'gold'"),
        (6, "no identity"),
        (9, "belong to different people"),
    ]:
        assert f"line {line}: " in r.stderr and reason in r.stderr, r.stderr
    assert "line 8" not in r.stderr
    assert "3 new people" in r.stdout and "4 failed" in r.stdout, r.stdout
    assert group_of(container, "email", "anna@example.lv") == "own"
    assert group_of(container, "customer", "LMT-1") == "own"
    assert group_of(container, "msisdn", "+37129500002") == "own"
    assert group_of(container, "msisdn", "+37129500004", "lytagra-lv") == "client"
    people, identities = count(container, Subject), count(container, SubjectIdentity)

    again = sargs("subjects", "import", str(f), "--controller", "lmt", url=db_url)
    assert "nothing to change" in again.stdout and "4 unchanged" in again.stdout, again.stdout
    assert (count(container, Subject), count(container, SubjectIdentity)) == (people, identities)


def test_ndjson_import_dry_run_writes_nothing_then_the_real_run_matches_it(
    db_url: str, container: Container, tmp_path: Path
) -> None:
    f = tmp_path / "clients.ndjson"
    rows = [
        {"msisdn": "+37129600001", "groups": {"lmt": "own", "lmt-retail": "own"}},
        {"email": "c@example.lv", "controller": "lmt", "client_group": "own"},
        "[1, 2]",
        '{"msisdn": "+37129600002", "client_group": "own", "controller": "lmt", "vip": true}',
        "{not json",
    ]
    f.write_text(
        "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n\n", encoding="utf-8"
    )
    dry = sargs("subjects", "import", str(f), "--dry-run", url=db_url)
    assert "dry run: would change: 5 rows: 2 new people, 3 group changes" in dry.stdout, dry.stdout
    assert "line 3: each line must be a JSON object" in dry.stderr
    assert "line 4: unknown field(s): vip" in dry.stderr
    assert "line 5: not JSON" in dry.stderr
    assert count(container, Subject) == 0 and count(container, SubjectGroup) == 0
    real = sargs("subjects", "import", str(f), url=db_url)
    assert "changed: 5 rows: 2 new people, 3 group changes" in real.stdout, real.stdout
    assert group_of(container, "msisdn", "+37129600001", "lmt-retail") == "own"


def test_a_file_that_cannot_be_read_is_refused_before_anything_is_written(
    db_url: str, tmp_path: Path
) -> None:
    bad_header = tmp_path / "a.csv"
    bad_header.write_text("phone_number,group\n+37129000001,own\n")
    r = sargs("subjects", "import", str(bad_header), url=db_url)
    assert r.exit_code == 1 and "unknown: phone_number" in r.stderr
    r = sargs("subjects", "import", str(tmp_path / "missing.csv"), url=db_url)
    assert r.exit_code == 1 and "cannot read" in r.stderr
    r = sargs("subjects", "import", str(tmp_path / "a.xlsx"), url=db_url)
    assert r.exit_code == 1 and "--format" in r.stderr


class Billing:
    """The billing system's subscribers: a real SQLite table the telecom example's source reads."""

    def __init__(self, path: Path) -> None:
        self.engine = sa.create_engine(f"sqlite:///{path}")
        self.url = str(self.engine.url)
        with self.engine.begin() as c:
            c.exec_driver_sql(
                "CREATE TABLE subscribers (id INTEGER PRIMARY KEY, msisdn TEXT, account_no TEXT, status TEXT)"
            )

    def set(self, *rows: tuple[str | None, str | None, str]) -> None:
        with self.engine.begin() as c:
            c.exec_driver_sql("DELETE FROM subscribers")
            for msisdn, account, status in rows:
                c.execute(
                    sa.text("INSERT INTO subscribers (msisdn, account_no, status) VALUES (:m, :a, :s)"),
                    {"m": msisdn, "a": account, "s": status},
                )


@pytest.fixture
def billing(tmp_path: Path) -> Iterator[Billing]:
    b = Billing(tmp_path / "billing.db")
    yield b
    b.engine.dispose()


def grant(container: Container, phone: str, purpose: str) -> None:
    with container.sessions.begin() as s:
        sid = find_subject_id(session=s, identity=Identity("msisdn", phone))
        assert sid is not None
        out = record_consent(
            session=s,
            registry=container.registry,
            subject_id=sid,
            controller="lmt",
            purpose=purpose,
            action="grant",
            channel="staff",
            actor=Actor("staff", "t"),
            now=container.clock.now(),
        )
        assert out.event is not None, out.rejection


def status(container: Container, phone: str, purpose: str) -> str:
    with container.sessions.begin() as s:
        sid = find_subject_id(session=s, identity=Identity("msisdn", phone))
        assert sid is not None
        return check_consent(session=s, subject_id=sid, controller="lmt", purpose=purpose).status


def sync(container: Container, rows: Any = None, dry_run: bool = False) -> Any:
    policy, source = find_source(container.registry, "billing")
    container.clock.advance(minutes=10)  # type: ignore[attr-defined]
    return sync_source(
        sessions=container.sessions,
        registry=container.registry,
        policy=policy,
        source=source,
        rows=rows if rows is not None else container.client_rows(source),
        clock=container.clock.now,
        region="LV",
        dry_run=dry_run,
        batch_size=2,
    )


def test_sync_joins_and_leaves_lapsing_own_only_consents_and_rejoining_grants_nothing(
    container: Container, billing: Billing, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SARGS_CLIENTS_BILLING_URL", billing.url)
    billing.set(
        ("+37129700001", "LMT-1", "active"), ("29700002", None, "active"), ("+37129700003", None, "closed")
    )
    first = sync(container)
    assert (first.created, first.joined, first.left) == (2, 2, 0)
    assert group_of(container, "customer", "LMT-1") == "own"
    assert group_of(container, "msisdn", "+37129700003") is None  # closed: not a client
    for purpose in ("metadata", "location", "offers"):
        grant(container, "+37129700001", purpose)

    billing.set(("29700002", None, "active"))
    dry = sync(container, dry_run=True)
    assert (dry.left, dry.lapsed, dry.changed) == (1, 0, 1)  # leaves estimated; lapses not run
    assert group_of(container, "msisdn", "+37129700001") == "own"
    second = sync(container)
    assert (second.joined, second.left, second.lapsed) == (0, 1, 2), second.summary()
    assert group_of(container, "msisdn", "+37129700001") == "other_operator"
    assert [status(container, "+37129700001", p) for p in ("metadata", "location", "offers")] == [
        "withdrawn",
        "withdrawn",
        "granted",
    ]
    third = sync(container)
    assert third.changed == 0 and third.lapsed == 0

    billing.set(("29700002", None, "active"), ("+37129700001", None, "active"))
    back = sync(container)
    assert back.joined == 1 and group_of(container, "msisdn", "+37129700001") == "own"
    assert status(container, "+37129700001", "metadata") == "withdrawn"  # must be given anew
    with container.sessions.begin() as s:
        assert verify_ledger(session=s).ok


def test_a_sync_that_fails_mid_read_moves_nobody_out(container: Container, billing: Billing) -> None:
    rows: list[Mapping[str, Any]] = [{"msisdn": f"+3712980000{i}"} for i in range(5)]
    sync(container, rows=rows)

    def broken() -> Iterator[Mapping[str, Any]]:
        yield rows[0]
        yield rows[1]
        yield rows[2]
        raise SourceUnavailable("the billing database went away")

    with pytest.raises(SourceUnavailable):
        sync(container, rows=broken())
    assert all(group_of(container, "msisdn", r["msisdn"]) == "own" for r in rows)
    # A bad row in the source is reported and the rest still apply, but nobody leaves: the bad row
    # may be the very person who would otherwise lapse.
    report = sync(container, rows=[*rows[:4], {"msisdn": "12"}])
    assert report.failed == 1 and report.errors[0].line == 5 and report.left == 0
    assert report.leaves_held and "1 row(s) could not be applied" in report.leaves_held
    assert group_of(container, "msisdn", rows[4]["msisdn"]) == "own"
    # Once the source reads cleanly, the leave is applied.
    clean = sync(container, rows=rows[:4])
    assert clean.left == 1 and clean.leaves_held is None
    assert group_of(container, "msisdn", rows[4]["msisdn"]) == "other_operator"


def test_an_empty_source_moves_nobody_out(
    db_url: str, container: Container, billing: Billing, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SARGS_CLIENTS_BILLING_URL", billing.url)
    billing.set(("+37129900011", None, "active"), ("+37129900012", None, "active"))
    assert sync(container).joined == 2
    billing.set()  # the table was emptied (or a view or filter went wrong)
    report = sync(container)
    assert report.left == 0 and report.leaves_held and "no rows while 2 people" in report.leaves_held
    assert group_of(container, "msisdn", "+37129900011") == "own"
    r = sargs("subjects", "sync", url=db_url, env={"SARGS_CLIENTS_BILLING_URL": billing.url})
    assert r.exit_code == 1 and "leaves held" in r.stderr, r.output
    assert group_of(container, "msisdn", "+37129900012") == "own"


def test_sync_command_reports_each_source_and_an_unconfigured_one(
    db_url: str, container: Container, billing: Billing
) -> None:
    billing.set(("+37129900001", None, "active"))
    r = sargs("subjects", "sync", url=db_url, env={"SARGS_CLIENTS_BILLING_URL": ""})
    assert r.exit_code == 1 and "set SARGS_CLIENTS_BILLING_URL" in r.stderr
    r = sargs("subjects", "sync", "--source", "nope", url=db_url)
    assert r.exit_code == 1 and "no client-group source 'nope'" in r.stderr
    r = sargs("subjects", "sync", url=db_url, env={"SARGS_CLIENTS_BILLING_URL": billing.url})
    assert r.exit_code == 0 and "1 new people" in r.stdout, r.output
    assert group_of(container, "msisdn", "+37129900001") == "own"


def test_the_policy_refuses_a_source_naming_unknown_groups(example_policies: list[Any]) -> None:
    telecom = next(p for p in example_policies if p.client_group_sources)
    src = telecom.client_group_sources[0]
    bad = ClientGroupSource(**{**src.model_dump(), "group": "gold", "leave_group": "own"})
    broken = telecom.model_copy(update={"client_group_sources": [bad]})
    problems = [m for _, m in broken.reference_problems()]
    assert "unknown client group 'gold' (valid: other_operator, own)" in problems
