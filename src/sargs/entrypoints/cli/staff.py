"""`sargs staff`: console accounts (add, disable, list) and their second factor (mfa enrol/reset)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated

import segno
import typer
from rich.table import Table

from sargs.core.errors import SargsError
from sargs.entrypoints.cli.output import console
from sargs.entrypoints.cli.output import fail as _fail
from sargs.entrypoints.container import Container


def make_staff_cli(container: Callable[..., Container]) -> typer.Typer:
    """The `sargs staff` commands."""
    staff_app = typer.Typer(help="Staff accounts for the web console.", no_args_is_help=True)
    mfa_app = typer.Typer(help="The second factor (TOTP) of staff accounts.", no_args_is_help=True)
    staff_app.add_typer(mfa_app, name="mfa")

    @staff_app.command("add")
    def staff_add(
        email: Annotated[str, typer.Option(help="Sign-in e-mail.")],
        name: Annotated[str, typer.Option(help="Full name.")],
        role: Annotated[str, typer.Option(help="admin | dpo | operator | marketing | auditor")],
        controller: Annotated[
            list[str] | None, typer.Option(help="Belongs to these controllers (repeat).")
        ] = None,
        password_stdin: Annotated[
            bool, typer.Option("--password-stdin", help="Read the password from standard input.")
        ] = False,
    ) -> None:
        """Create a staff account (password hashed with argon2). Admin and DPO accounts enrol a
        second factor at their first sign-in, or beforehand with `sargs staff mfa enrol`."""
        from sargs.domains.staff.service import add_staff

        c = container(publish=False)
        for ctl in controller or []:
            if c.registry.policies:
                try:
                    c.registry.policy_for(ctl)
                except SargsError as exc:
                    raise _fail(exc.message) from None
        if password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
        try:
            with c.sessions.begin() as session:
                view = add_staff(
                    session=session,
                    email=email,
                    name=name,
                    role=role,
                    password=password,
                    controllers=controller or None,
                    now=c.clock.now(),
                )
        except SargsError as exc:
            raise _fail(exc.message) from None
        console.print(
            f"staff {view.id} added: {view.email} ({view.role}; {', '.join(view.controllers or ['all'])})"
        )

    @staff_app.command("disable")
    def staff_disable(email: str) -> None:
        """Disable an account; its console sessions end at once."""
        from sargs.domains.staff.service import disable_staff

        c = container(publish=False)
        try:
            with c.sessions.begin() as session:
                disable_staff(session=session, email=email, now=c.clock.now())
        except SargsError as exc:
            raise _fail(exc.message) from None
        console.print(f"disabled {email}")

    @staff_app.command("list")
    def staff_list() -> None:
        """List staff accounts (never their password hashes)."""
        from sargs.domains.staff.service import list_staff

        c = container(publish=False)
        table = Table("id", "e-mail", "name", "role", "controllers", "status", "last sign-in")
        with c.read_sessions.begin() as session:
            for v in list_staff(session=session):
                table.add_row(
                    v.id,
                    v.email,
                    v.name,
                    v.role,
                    ", ".join(v.controllers or ["all"]),
                    "disabled" if v.disabled else "active",
                    str(v.last_login_at or "—"),
                )
        console.print(table)

    @mfa_app.command("enrol")
    def mfa_enrol(
        email: str,
        qr: Annotated[
            bool, typer.Option("--qr/--no-qr", help="Also draw the QR code in the terminal.")
        ] = True,
    ) -> None:
        """Give an account its authenticator now: prints the key, its otpauth:// URI (and QR code)
        and ten recovery codes, once. Nothing printed here can be shown again."""
        from sargs.domains.staff.signin import enrol_by_email
        from sargs.entrypoints.web.reauth import staff_mfa_key

        c = container(publish=False)
        try:
            with c.sessions.begin() as session:
                enrolment, confirmed = enrol_by_email(
                    session=session, email=email, key=staff_mfa_key(c), now=c.clock.now()
                )
        except SargsError as exc:
            raise _fail(exc.message) from None
        console.print(f"authenticator enrolled for {email}; shown once:", highlight=False)
        console.print(f"key: {enrolment.secret}", markup=False, highlight=False)
        console.print(f"uri: {enrolment.uri}", markup=False, highlight=False)
        if qr:
            segno.make(enrolment.uri, error="m").terminal(out=sys.stdout, compact=True)
        console.print("recovery codes (each works once):", highlight=False)
        for code in confirmed.recovery_codes:
            console.print(f"  {code}", markup=False, highlight=False)

    @mfa_app.command("reset")
    def mfa_reset(email: str) -> None:
        """Forget an account's authenticator and recovery codes (a lost phone) and end its
        sessions. A role that requires a second factor enrols again after its next password."""
        from sargs.domains.staff.signin import reset_by_email

        c = container(publish=False)
        try:
            with c.sessions.begin() as session:
                reset_by_email(session=session, email=email, now=c.clock.now())
        except SargsError as exc:
            raise _fail(exc.message) from None
        console.print(f"second factor reset for {email}")

    return staff_app
