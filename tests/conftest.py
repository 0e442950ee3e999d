"""Shared fixtures: a migrated database per test (SQLite by default, PostgreSQL when
SARGS_TEST_DATABASE_URL is set), the example policies, a fixed clock, an API client."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from argon2 import PasswordHasher, profiles
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, make_url, text

import sargs.domains.models  # noqa: F401
import sargs.domains.staff.passwords as _passwords
from sargs.bootstrap import build, create_app, example_policy_paths
from sargs.core.clock import FixedClock
from sargs.core.config import Settings
from sargs.core.db import Base
from sargs.domains.policy.loader import load_policy
from sargs.domains.policy.schema import Policy
from sargs.domains.tokens.service import create_token
from sargs.entrypoints.container import Container
from sargs.migrations import upgrade
from tests.helpers import PG_SERVER_URL, PG_URL, create_test_database, drop_test_database

# Staff passwords and recovery codes are argon2id-hashed at production cost (64 MiB, 3 passes,
# about 0.2 s each here); a test that enrols a DPO (a password and ten recovery codes) would spend
# seconds hashing. In-process tests use argon2's cheapest profile instead: the hashes stay argon2id
# and verify the same way. Processes the tests start (serve, worker, demo) keep the defaults.
_passwords._hasher = PasswordHasher.from_parameters(profiles.CHEAPEST)

# The suite never reads a ./sargs.env the developer may have (the CLI reads one from the folder it
# runs in): an empty settings file instead. Tests of that file set SARGS_ENV_FILE themselves.
os.environ.setdefault("SARGS_ENV_FILE", os.devnull)
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def pytest_report_header() -> str:
    if not PG_URL:
        return "sargs database: SQLite (set SARGS_TEST_DATABASE_URL to a PostgreSQL server for PostgreSQL)"
    server = make_url(PG_SERVER_URL or "").render_as_string(hide_password=True)
    return (
        f"sargs database: PostgreSQL {make_url(PG_URL).database}, created on {server} and dropped at the end"
    )


# Tests that never touch the database under test run on SQLite only: the PostgreSQL run deselects
# them (SARGS_TEST_ALL_ON_POSTGRES=1 keeps them). They are
#   tests/unit, tests/fuzz           pure functions (policy loader, parsers, rate limits, canonical JSON, ...)
#   tests/e2e/test_demo.py,
#   tests/e2e/test_readme_walkthrough.py   `sargs demo` in a subprocess, which always makes its own
#                                    SQLite database (the tests drop SARGS_DATABASE_URL from its env)
# and within them only tests whose fixtures do not reach the test database (db_url, so container,
# client, ...): any test there that uses one still runs on PostgreSQL.
BACKEND_INDEPENDENT = (
    "tests/unit/",
    "tests/fuzz/",
    "tests/e2e/test_demo.py",
    "tests/e2e/test_readme_walkthrough.py",
)
_DATABASE_FIXTURES = {"_template_db", "db_url"}
_deselected_key = pytest.StashKey[int]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not PG_URL or os.environ.get("SARGS_TEST_ALL_ON_POSTGRES") == "1":
        return
    keep, drop = [], []
    for item in items:
        where = item.path.relative_to(config.rootpath).as_posix()
        uses_database = _DATABASE_FIXTURES & set(getattr(item, "fixturenames", ()))
        independent = where.startswith(BACKEND_INDEPENDENT) and not uses_database
        (drop if independent else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
    config.stash[_deselected_key] = len(drop)


def pytest_report_collectionfinish(config: pytest.Config) -> str | None:
    count = config.stash.get(_deselected_key, 0)
    if not count:
        return None
    return (
        f"sargs: {count} tests that never touch the database (tests/unit, tests/fuzz, the demo and README "
        "walkthrough) run on SQLite only and are deselected here; SARGS_TEST_ALL_ON_POSTGRES=1 keeps them"
    )


def pytest_sessionstart(session: pytest.Session) -> None:
    create_test_database()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _pg_engine is not None:
        _pg_engine.dispose()
    drop_test_database()


@pytest.fixture(scope="session")
def example_policies() -> list[Policy]:
    return [load_policy(p) for p in example_policy_paths()]


@pytest.fixture(scope="session")
def _template_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated database made once per session."""
    if PG_URL:  # this session's own, new database (see tests.helpers)
        upgrade(PG_URL)
        return PG_URL
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return str(path)


_pg_engine: Engine | None = None


def _empty_postgres() -> None:
    """Empty every table of this session's PostgreSQL database and restart its sequences.

    TRUNCATE of the 42 tables took 0.12-0.25 s a test (it makes new files for each table); DELETE
    from each, in one server-side block, takes about 5 ms. The append-only tables (access_log,
    dsr_events, breach_changes) refuse DELETE through their triggers, so the block runs with
    session_replication_role = replica (this transaction only), which fires no user trigger and no
    foreign-key check: every table is emptied, so nothing dangles. Sequences that were used restart
    at their start value, as RESTART IDENTITY did. That setting needs a superuser; any other role
    gets the TRUNCATE."""
    global _pg_engine
    assert PG_URL
    if _pg_engine is None:
        _pg_engine = create_engine(PG_URL)
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with _pg_engine.begin() as conn:
        if conn.execute(text("SELECT current_setting('is_superuser')")).scalar() == "on":
            names = ", ".join(f"'{name}'" for name in tables)
            conn.execute(
                text(
                    "DO $$ DECLARE t text; BEGIN "
                    "SET LOCAL session_replication_role = replica; "
                    f"FOREACH t IN ARRAY ARRAY[{names}] LOOP EXECUTE format('DELETE FROM %I', t); END LOOP; "
                    "PERFORM setval(format('%I.%I', schemaname, sequencename)::regclass, start_value, false) "
                    "FROM pg_sequences WHERE schemaname = current_schema() AND last_value IS NOT NULL; "
                    "END $$"
                )
            )
        else:
            conn.execute(text(f"TRUNCATE TABLE {', '.join(tables)} RESTART IDENTITY CASCADE"))


@pytest.fixture
def db_url(_template_db: str, tmp_path: Path) -> Iterator[str]:
    """A clean, migrated database for one test."""
    if PG_URL:
        yield PG_URL
        _empty_postgres()
        return
    path = tmp_path / "sargs.db"
    shutil.copy(_template_db, path)
    yield f"sqlite:///{path}"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def container(db_url: str, example_policies: list[Policy], clock: FixedClock) -> Iterator[Container]:
    c = build(Settings(database_url=db_url, demo=True), clock=clock, policies=example_policies)
    yield c
    c.close()


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container)) as c:
        yield c


@pytest.fixture
def token(container: Container) -> Callable[..., str]:
    """token("operator", controllers=["lmt"]) -> a bearer secret."""

    def make(role: str, controllers: list[str] | None = None) -> str:
        with container.sessions.begin() as session:
            return create_token(
                session=session,
                name=f"test {role}",
                role=role,
                now=container.clock.now(),
                controllers=controllers,
            ).secret

    return make


@pytest.fixture
def auth(token: Callable[..., str]) -> Callable[..., dict[str, str]]:
    """auth("admin") -> request headers carrying a fresh token of that role."""

    def make(role: str = "admin", controllers: list[str] | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token(role, controllers)}"}

    return make


# --- people and access (staff, portal codes) ------------------------------------------------------


class FakeCodeSender:
    """Captures portal codes instead of sending them."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []  # (channel, to, text)

    def send_sms(self, to: str, text: str, *, session: object = None) -> None:
        self.sent.append(("sms", to, text))

    def send_email(self, to: str, subject: str, text: str) -> None:
        self.sent.append(("email", to, text))

    def last_code(self, to: str | None = None) -> str:
        import re

        for _channel, address, body in reversed(self.sent):
            if to is None or address == to:
                match = re.search(r"\b(\d{6})\b", body)
                assert match, body
                return match.group(1)
        raise AssertionError(f"no code was sent to {to}")


@pytest.fixture
def codes(container: Container) -> FakeCodeSender:
    """The container's CodeSender, replaced by a fake that keeps what was sent."""
    fake = FakeCodeSender()
    container.code_sender = fake
    return fake


@pytest.fixture
def staff_member(container: Container) -> Callable[..., tuple[str, str]]:
    """staff_member("operator", controllers=["lmt"]) -> (email, password) of a new account.

    A role that must sign in with a second factor (admin, DPO, SARGS_STAFF_MFA_ROLES) is enrolled,
    or any role with mfa=True; its authenticator is kept in tests.web_helpers.AUTHENTICATORS, where
    console_login finds it. mfa=False leaves the account unenrolled (it is sent to enrolment)."""
    from sargs.domains.staff.mfa import mfa_required
    from sargs.domains.staff.service import add_staff
    from sargs.domains.staff.signin import enrol_by_email
    from sargs.entrypoints.web.reauth import staff_mfa_key
    from tests.web_helpers import AUTHENTICATORS, Authenticator

    counter = iter(range(1, 10_000))

    def make(role: str, controllers: list[str] | None = None, mfa: bool | None = None) -> tuple[str, str]:
        email, password = f"{role}{next(counter)}@staff.example", f"{role}-password-long"
        if mfa is None:
            mfa = mfa_required(role, set(container.settings.staff_mfa_roles))
        with container.sessions.begin() as session:
            add_staff(
                session=session,
                email=email,
                name=f"Test {role}",
                role=role,
                password=password,
                controllers=controllers,
                now=container.clock.now(),
            )
            if mfa:
                enrolment, confirmed = enrol_by_email(
                    session=session, email=email, key=staff_mfa_key(container), now=container.clock.now()
                )
                AUTHENTICATORS[email] = Authenticator(enrolment.secret, list(confirmed.recovery_codes))
        return email, password

    return make


@pytest.fixture(autouse=True)
def _sargs_environment_restored() -> Iterator[None]:
    """In-process CLI runs put a settings file's SARGS_* values into os.environ (as the CLI does for
    the process it runs in); CliRunner restores only what it set. Each test starts from the same."""
    before = {k: v for k, v in os.environ.items() if k.startswith("SARGS_")}
    yield
    for name in [k for k in os.environ if k.startswith("SARGS_") and k not in before]:
        del os.environ[name]
    os.environ.update(before)
