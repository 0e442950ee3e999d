"""Staff accounts: argon2 hashes, sign-in with lockout, disabling, who may create whom."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from sargs.core.errors import Conflict, InvalidInput, PermissionDenied, Unauthenticated
from sargs.domains.access.principal import Principal
from sargs.domains.staff.model import StaffMember
from sargs.domains.staff.service import MAX_FAILED_LOGINS, add_staff, authenticate_staff, disable_staff
from sargs.entrypoints.container import Container

PASSWORD = "a very long password"


def add(container: Container, email: str = "op@staff.example", **kw: object) -> None:
    with container.sessions.begin() as s:
        add_staff(
            session=s,
            email=email,
            name="Op",
            role=kw.pop("role", "operator"),  # type: ignore[arg-type]
            password=kw.pop("password", PASSWORD),  # type: ignore[arg-type]
            now=container.clock.now(),
            **kw,  # type: ignore[arg-type]
        )


def sign_in(container: Container, email: str, password: str) -> Principal | None:
    with container.sessions.begin() as s:
        try:
            return authenticate_staff(session=s, email=email, password=password, now=container.clock.now())
        except Unauthenticated:
            return None


def test_password_is_stored_as_an_argon2id_hash(container: Container) -> None:
    add(container, controllers=["lmt"])
    with container.read_sessions.begin() as s:
        row = s.query(StaffMember).one()
    assert row.password_hash.startswith("$argon2id$") and PASSWORD not in row.password_hash
    principal = sign_in(container, "OP@staff.example", PASSWORD)
    assert principal == Principal("staff", row.id, "operator", ("lmt",))


def test_short_passwords_unknown_roles_and_duplicates_are_refused(container: Container) -> None:
    with pytest.raises(InvalidInput):
        add(container, password="short")
    with pytest.raises(InvalidInput):
        add(container, role="root")
    add(container)
    with pytest.raises(Conflict):
        add(container, email="Op@Staff.example")


def test_repeated_wrong_passwords_lock_the_account_even_for_the_right_one(
    container: Container, clock
) -> None:  # type: ignore[no-untyped-def]
    add(container)
    for _ in range(MAX_FAILED_LOGINS):
        assert sign_in(container, "op@staff.example", "wrong password!") is None
    assert sign_in(container, "op@staff.example", PASSWORD) is None
    clock.advance(minutes=16)
    assert sign_in(container, "op@staff.example", PASSWORD) is not None


def test_a_disabled_account_cannot_sign_in(container: Container) -> None:
    add(container)
    with container.sessions.begin() as s:
        disable_staff(session=s, email="op@staff.example", now=container.clock.now())
    assert sign_in(container, "op@staff.example", PASSWORD) is None


def test_unknown_email_fails_like_a_wrong_password(container: Container) -> None:
    assert sign_in(container, "nobody@staff.example", PASSWORD) is None


def test_a_dpo_creates_operators_but_not_admins_and_an_operator_creates_nobody(container: Container) -> None:
    dpo = Principal("staff", "d", "dpo", ("lmt",))
    add(container, email="new@staff.example", controllers=["lmt"], by=dpo)
    with pytest.raises(PermissionDenied):
        add(container, email="boss@staff.example", role="admin", by=dpo)
    with pytest.raises(PermissionDenied):
        add(container, email="x@staff.example", controllers=["lytagra-lv"], by=dpo)
    with pytest.raises(PermissionDenied):
        add(container, email="y@staff.example", by=Principal("staff", "o", "operator", None))


def test_cli_adds_lists_and_disables_staff(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from sargs.bootstrap import build, create_app, example_policy_paths, sms_sender
    from sargs.entrypoints.cli import main as cli_main
    from sargs.entrypoints.cli.main import make_cli

    monkeypatch.setenv("SARGS_DATABASE_URL", db_url)
    monkeypatch.setattr(cli_main.console, "width", 200)
    cli = make_cli(
        build=build, create_app=create_app, example_policies=example_policy_paths, sms_sender=sms_sender
    )
    runner = CliRunner()
    args = ["staff", "add", "--email", "dpo@lmt.example", "--name", "Data Officer", "--role", "dpo"]
    r = runner.invoke(cli, [*args, "--controller", "lmt", "--password-stdin"], input=PASSWORD + "\n")
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["staff", "list"])
    assert "dpo@lmt.example" in r.output and "active" in r.output
    r = runner.invoke(cli, ["staff", "disable", "dpo@lmt.example"])
    assert r.exit_code == 0
    assert "disabled" in runner.invoke(cli, ["staff", "list"]).output
    r = runner.invoke(cli, [*args[:3], "x@lmt.example", *args[4:], "--password-stdin"], input="short\n")
    assert r.exit_code == 1
