"""The `sargs` command line (Typer + Rich). Built by `sargs.bootstrap.main`."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from sargs.core.config import Settings
from sargs.core.errors import SargsError
from sargs.domains.delivery import LEASE
from sargs.domains.policy.loader import load_policy
from sargs.domains.policy.schema import Policy
from sargs.domains.sms.outbox import DeliveryReport, deliver_due, status_counts
from sargs.domains.sms.ports import SmsSender
from sargs.domains.sms.signatures import sign_json
from sargs.entrypoints.cli.breaches import make_breach_cli
from sargs.entrypoints.cli.dsr import make_dsr_cli
from sargs.entrypoints.cli.examples import add_policy_examples
from sargs.entrypoints.cli.reports import add_policy_notify, make_ropa_cli
from sargs.entrypoints.cli.retention import retention_cli
from sargs.entrypoints.cli.sources import make_sources_cli
from sargs.entrypoints.container import Container

console = Console()
err = Console(stderr=True, soft_wrap=True)

BuildFn = Callable[..., Container]
AppFn = Callable[[Container], Any]


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print("[bold red]error:[/] ", end="")
    err.print(message, markup=False, highlight=False)
    return typer.Exit(code)


def make_cli(
    *,
    build: BuildFn,
    create_app: AppFn,
    example_policies: Callable[[], list[Path]],
    sms_sender: Callable[[Settings], SmsSender],
) -> typer.Typer:
    """The Typer application, with the bootstrap's factories injected."""
    app = typer.Typer(help="Sargs: privacy operations from a published privacy policy.", no_args_is_help=True)
    policy_app = typer.Typer(help="Policy files.", no_args_is_help=True)
    ledger_app = typer.Typer(help="The consent ledger.", no_args_is_help=True)
    token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
    db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
    staff_app = typer.Typer(help="Staff accounts for the web console.", no_args_is_help=True)
    app.add_typer(staff_app, name="staff")
    app.add_typer(policy_app, name="policy")
    app.add_typer(ledger_app, name="ledger")
    app.add_typer(token_app, name="token")
    app.add_typer(db_app, name="db")
    sms_app = typer.Typer(help="The SMS keyword channel and its outbox.", no_args_is_help=True)
    app.add_typer(sms_app, name="sms")
    app.add_typer(make_breach_cli(lambda: container()), name="breach")
    app.add_typer(make_ropa_cli(lambda **kw: container(**kw)), name="ropa")
    add_policy_notify(policy_app, lambda **kw: container(**kw))
    add_policy_examples(policy_app, example_policies)
    app.add_typer(make_sources_cli(lambda: container(publish=False)), name="sources")

    state: dict[str, Any] = {}

    @app.callback()
    def _root(
        database_url: Annotated[
            str | None, typer.Option("--database-url", envvar="SARGS_DATABASE_URL", help="SQLAlchemy URL.")
        ] = None,
        policy: Annotated[
            list[Path] | None,
            typer.Option("--policy", "-p", help="Policy file (repeatable); or SARGS_POLICY_FILES."),
        ] = None,
    ) -> None:
        overrides: dict[str, Any] = {}
        if database_url:
            overrides["database_url"] = database_url
        if policy:
            overrides["policy_files"] = policy
        state["settings"] = lambda: Settings(**overrides)

    def settings() -> Settings:
        factory: Callable[[], Settings] = state.get("settings", Settings)
        return factory()

    def container(*, publish: bool = True, schema: bool = True) -> Container:
        try:
            return build(settings(), publish_policies=publish, require_schema=schema)
        except SargsError as exc:
            raise _fail(exc.message) from None

    app.add_typer(make_dsr_cli(lambda: container()), name="dsr")
    from sargs.entrypoints.cli.web import make_mail_cli, make_weblog_cli

    app.add_typer(make_mail_cli(container), name="mail")
    app.add_typer(make_weblog_cli(container), name="weblog")
    app.add_typer(retention_cli(container), name="retention")
    from sargs.entrypoints.cli.worker import add_worker_command

    add_worker_command(app, container, sms_sender)

    # --- policy -------------------------------------------------------------------------------

    @policy_app.command("check")
    def policy_check(files: Annotated[list[Path], typer.Argument(help="Policy YAML files.")]) -> None:
        """Validate policy files; print what each declares, or every problem with its line."""
        failed = False
        for path in files:
            try:
                policy = load_policy(path)
            except SargsError as exc:
                failed = True
                err.print(f"[bold red]✗ {path}[/]")
                for problem in exc.details.get("problems") or [exc.message]:
                    err.print(f"  {problem}", markup=False, highlight=False)
                continue
            _print_policy(path, policy)
        if failed:
            raise typer.Exit(1)

    @policy_app.command("reminders")
    def policy_reminders() -> None:
        """Which policies are due for their periodic review (R-POL-3)."""
        import datetime as dt

        c = container(publish=False, schema=False)
        for r in c.registry.review_reminders(today=dt.date.today()):
            mark = "[red]OVERDUE[/]" if r.overdue else "[green]ok[/]"
            console.print(f"{r.policy_id} {r.version}: published {r.published}, review due {r.due} {mark}")

    # --- ledger -------------------------------------------------------------------------------

    @ledger_app.command("verify")
    def ledger_verify(
        full: Annotated[bool, typer.Option("--full", help="Verify every chain from its start.")] = False,
    ) -> None:
        """Verify the hash chains from their checkpoints (every event with --full); exit 1 if any
        event was altered, removed or reordered."""
        from rich.progress import Progress

        from sargs.domains.consent.checkpoints import verify_incremental

        c = container(publish=False)
        with Progress(console=err, transient=True) as progress:
            task = progress.add_task("verifying events", total=None)
            with c.sessions.begin() as session:  # the checkpoints move with the verification
                report = verify_incremental(
                    session=session,
                    now=c.clock.now(),
                    full=full,
                    progress=lambda n: progress.update(task, completed=n),
                )
        if report.ok and report.incremental:
            console.print(
                f"[green]✓ ledger intact:[/] {report.events} new events verified in {report.subjects} subject "
                f"chains ({report.resumed} unchanged since their checkpoint; --full re-reads every event)\n"
                f"  digest {report.digest}"
            )
            return
        if report.ok:
            console.print(
                f"[green]✓ ledger intact:[/] {report.events} events in {report.subjects} subject chains\n"
                f"  digest {report.digest} (keep it: a later digest must extend, not contradict it)"
            )
            return
        err.print(
            f"[bold red]✗ ledger tampered:[/] {len(report.problems)} problem(s) in {report.events} events"
        )
        for problem in report.problems[:50]:
            err.print(f"  {problem}", markup=False, highlight=False)
        if len(report.problems) > 50:
            err.print(f"  … and {len(report.problems) - 50} more")
        raise typer.Exit(1)

    # --- tokens -------------------------------------------------------------------------------

    @token_app.command("create")
    def token_create(
        role: Annotated[str, typer.Option(help="admin | dpo | operator | marketing | auditor")],
        name: Annotated[str, typer.Option(help="What the token is for.")] = "cli",
        controller: Annotated[list[str] | None, typer.Option(help="Limit to these controllers.")] = None,
        days: Annotated[int | None, typer.Option(help="Expire after this many days.")] = None,
    ) -> None:
        """Create an API token; it is printed once and stored only as a hash."""
        from sargs.domains.tokens.service import create_token

        c = container(publish=False)
        for ctl in controller or []:
            if c.registry.policies:
                try:
                    c.registry.policy_for(ctl)
                except SargsError as exc:
                    raise _fail(exc.message) from None
        try:
            with c.sessions.begin() as session:
                issued = create_token(
                    session=session,
                    name=name,
                    role=role,
                    now=c.clock.now(),
                    controllers=controller or None,
                    valid_days=days,
                )
        except SargsError as exc:
            raise _fail(exc.message) from None
        err.print(f"token {issued.id} (role {issued.role}) — shown once, store it now:")
        print(issued.secret)

    @token_app.command("list")
    def token_list() -> None:
        """List tokens (never their secrets)."""
        from sargs.domains.tokens.service import list_tokens

        c = container(publish=False)
        table = Table("id", "name", "role", "controllers", "expires", "revoked")
        with c.read_sessions.begin() as session:
            for t in list_tokens(session=session):
                table.add_row(
                    t.id,
                    t.name,
                    t.role,
                    ", ".join(t.controllers or ["all"]),
                    str(t.expires_at or "—"),
                    str(t.revoked_at or "—"),
                )
        console.print(table)

    @token_app.command("revoke")
    def token_revoke(token_id: str) -> None:
        """Revoke a token (running servers stop accepting it within 30 seconds)."""
        from sargs.domains.tokens.service import revoke_token

        c = container(publish=False)
        try:
            with c.sessions.begin() as session:
                revoke_token(session=session, token_id=token_id, now=c.clock.now())
        except SargsError as exc:
            raise _fail(exc.message) from None
        console.print(f"revoked {token_id}")

    # --- staff --------------------------------------------------------------------------------

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
        """Create a staff account (password hashed with argon2)."""
        import sys

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

    # --- database -----------------------------------------------------------------------------

    @db_app.command("upgrade")
    def db_upgrade(revision: str = "head") -> None:
        """Apply migrations up to REVISION (default: the latest)."""
        from sargs.migrations import upgrade

        url = settings().database_url
        upgrade(url, revision)
        console.print(f"database upgraded to {revision}")

    @db_app.command("downgrade")
    def db_downgrade(revision: str) -> None:
        """Revert migrations down to REVISION ('base' removes every table)."""
        from sargs.migrations import downgrade

        downgrade(settings().database_url, revision)
        console.print(f"database downgraded to {revision}")

    # --- sms --------------------------------------------------------------------------------

    @sms_app.command("send")
    def sms_send(
        once: Annotated[bool, typer.Option("--once", help="Send what is due, then stop.")] = False,
        interval: Annotated[float, typer.Option(help="Seconds between polls when idle.", min=0.1)] = 2.0,
        batch: Annotated[int, typer.Option(help="Messages claimed per round.", min=1, max=1000)] = 100,
        lease: Annotated[
            float, typer.Option(help="Seconds a crashed worker's batch waits before others retry it.", min=4)
        ] = LEASE.total_seconds(),
    ) -> None:
        """Deliver queued replies and codes through SARGS_SMS_PROVIDER (console or http).

        Safe to run several at once and to kill at any moment: a message is leased while it is
        being sent, retried with backoff on transient failures and never marked sent twice."""
        c = container(publish=False)
        try:
            sender = sms_sender(c.settings)
        except SargsError as exc:
            raise _fail(exc.message) from None
        totals = DeliveryReport()
        try:
            while True:
                report = deliver_due(
                    sessions=c.sessions,
                    sender=sender,
                    now=c.clock.now,
                    limit=batch,
                    lease=timedelta(seconds=lease),
                )
                totals.sent, totals.retried, totals.failed = (
                    totals.sent + report.sent,
                    totals.retried + report.retried,
                    totals.failed + report.failed,
                )
                if report.handled:
                    err.print(f"sent {report.sent}, to retry {report.retried}, failed {report.failed}")
                if once and not report.handled:
                    break
                if not report.handled:
                    time.sleep(interval)
        except KeyboardInterrupt:
            pass
        console.print(f"delivered {totals.sent}, to retry later {totals.retried}, failed {totals.failed}")

    @sms_app.command("simulate")
    def sms_simulate(
        sender: Annotated[str, typer.Option("--from", help="The sender's phone number.")],
        text: Annotated[str, typer.Option(help="The message text, e.g. 'JAUNUMI' or 'JAUNUMI STOP'.")],
        to: Annotated[str | None, typer.Option(help="The number texted (default: the only one).")] = None,
    ) -> None:
        """Handle one inbound message as if the provider had delivered it; print the outcome and reply."""
        from sargs.core.ids import new_id
        from sargs.domains.sms.service import InboundMessage, handle_inbound

        c = container()
        routes = c.sms.routes
        if to is None:
            if len(routes) != 1:
                known = ", ".join(r.config.number for r in routes) or "none"
                raise _fail(f"say which number with --to (configured: {known})")
            to = routes[0].config.number
        msg = InboundMessage(provider="cli", message_id=f"cli-{new_id()}", sender=sender, to=to, text=text)
        try:
            with c.sessions.begin() as session:
                result = handle_inbound(session=session, directory=c.sms, msg=msg, now=c.clock.now())
        except SargsError as exc:
            raise _fail(exc.message) from None
        console.print(
            f"outcome: [bold]{result.outcome}[/] ({result.command} {result.keyword or ''})".rstrip()
        )
        if result.detail:
            console.print(f"detail:  {result.detail}", markup=False)
        console.print(f"reply:   {result.reply_text}", markup=False, highlight=False)
        console.print("(queued in the outbox; `sargs sms send` delivers it)")

    @sms_app.command("outbox")
    def sms_outbox() -> None:
        """How many texts are queued, being sent, sent and failed."""
        c = container(publish=False)
        with c.read_sessions.begin() as session:
            counts = status_counts(session=session)
        table = Table("status", "messages")
        for status in ("queued", "sending", "sent", "failed"):
            table.add_row(status, str(counts.get(status, 0)))
        console.print(table)

    # --- serving ------------------------------------------------------------------------------

    @app.command()
    def serve(
        host: str = "127.0.0.1",
        port: int = 8000,
        workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    ) -> None:
        """Serve the API, the staff console (/console) and the portal (/portal)."""
        import uvicorn

        s = settings()
        try:
            s.require_safe_secrets()
        except SargsError as exc:
            raise _fail(exc.message) from None
        if not s.policy_files:
            err.print("[yellow]warning:[/] no policy files given (--policy or SARGS_POLICY_FILES)")
        if workers > 1:
            os.environ["SARGS_DATABASE_URL"] = s.database_url
            os.environ["SARGS_POLICY_FILES"] = ",".join(str(p) for p in s.policy_files)
            uvicorn.run(
                "sargs.bootstrap:app_from_env",
                factory=True,
                host=host,
                port=port,
                workers=workers,
                log_level="warning",
            )
            return
        c = container()
        uvicorn.run(create_app(c), host=host, port=port, log_level="warning", access_log=False)

    @app.command()
    def demo(
        subjects: Annotated[int, typer.Option(help="How many people to generate.")] = 3000,
        directory: Annotated[Path, typer.Option("--dir", help="Where the demo database lives.")] = Path(
            ".demo"
        ),
        host: str = "127.0.0.1",
        port: int = 8000,
        serve_after: Annotated[
            bool, typer.Option("--serve/--no-serve", help="Start the server afterwards.")
        ] = True,
    ) -> None:
        """A fresh SQLite database with both example policies and sample people, then the server."""
        import uvicorn

        from sargs.domains.tokens.service import create_token
        from sargs.entrypoints.cli.demo_data import generate
        from sargs.migrations import upgrade

        directory.mkdir(parents=True, exist_ok=True)
        db = directory / "sargs-demo.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{db.resolve()}"
        upgrade(url)
        s = Settings(database_url=url, policy_files=example_policies(), demo=True)
        if not s.dsr_reminder_to:  # staff alerts and digests (breach deadlines, reviews) go to the demo's DPO
            s = s.model_copy(update={"dsr_reminder_to": ["dpo@demo.sargs.example"]})
        try:
            c = build(s)
        except SargsError as exc:
            raise _fail(exc.message) from None
        from rich.progress import Progress

        with Progress(console=err, transient=True) as progress:
            task = progress.add_task("generating people and consent histories", total=subjects)
            stats = generate(
                container=c, subjects=subjects, progress=lambda n: progress.update(task, completed=n)
            )
        from sargs.entrypoints.cli.demo_sources import create_demo_sources

        sources_line = create_demo_sources(c, directory)  # sets SARGS_SOURCE_<ID>_URL for the server
        import secrets

        from sargs.domains.staff.service import add_staff

        staff_password = secrets.token_urlsafe(12)
        with c.sessions.begin() as session:
            admin = create_token(session=session, name="demo admin", role="admin", now=c.clock.now())
            marketing = create_token(
                session=session, name="demo marketing", role="marketing", now=c.clock.now()
            )
            for role in ("dpo", "operator"):
                add_staff(
                    session=session,
                    email=f"{role}@demo.sargs.example",
                    name=f"Demo {role}",
                    role=role,
                    password=staff_password,
                    controllers=None if role == "dpo" else ["lmt"],
                    now=c.clock.now(),
                )
        base = f"http://{host}:{port}"
        console.print(
            f"[bold green]Sargs demo[/] — {db} — {stats.subjects} people, {stats.events} consent events"
        )
        console.print(f"policies: {', '.join(f'{p.id} {p.version}' for p in c.registry.policies)}")
        console.print(sources_line)
        console.print(f"admin token:     {admin.secret}")
        console.print(f"marketing token: {marketing.secret}")
        console.print(f"API docs:        {base}/docs")
        console.print(
            f"staff console:   {base}/console/  dpo@demo.sargs.example or operator@demo.sargs.example, "
            f"password {staff_password}"
        )
        console.print(f"retention:       {base}/console/retention (as dpo), or `sargs retention plan`")
        console.print(
            f"portal:          {base}/portal/   sign in with {stats.sample_msisdn}; the code SMS is printed here"
        )
        console.print(  # issue 7: website visitors
            f"sample website:  {base}/demo-site/   the cookie banner (one <script> tag); {base}/.well-known/gpc.json\n"
        )
        console.print("Try these:", style="bold")
        for line in demo_curls(
            base,
            admin.secret,
            marketing.secret,
            stats.sample_msisdn,
            stats.sample_event_id,
            sms_secret=s.sms_webhook_secret,
        ):
            console.print(line, soft_wrap=True, highlight=False)
        if serve_after:
            console.print(
                f"\nserving on {base} (Ctrl+C to stop), with a worker: SMS replies, codes and e-mail are "
                "printed here; fulfilment and retention runs go to the worker"
            )
            from sargs.entrypoints.cli.worker import worker_ports
            from sargs.entrypoints.worker.runner import Worker

            worker = Worker(c, worker_ports(s, sms_sender))
            worker.start()
            try:
                uvicorn.run(create_app(c), host=host, port=port, log_level="warning", access_log=False)
            finally:
                worker.shutdown()

    return app


def demo_curls(
    base: str, admin: str, marketing: str, msisdn: str, event_id: str, *, sms_secret: str
) -> list[str]:
    """The example commands `sargs demo` prints (tests run them against the app)."""
    auth = f"-H 'Authorization: Bearer {admin}'"
    sms = json.dumps(
        {"message_id": "demo-sms-1", "from": "+37129900001", "to": "29307777", "text": "Jaunumi"},
        separators=(",", ":"),
    )
    signature = sign_json(sms_secret, sms.encode())
    q_msisdn = msisdn.replace("+", "%2B")  # a bare + in a query string means a space
    return [
        f"curl -s {base}/api/v1/health",
        f"curl -s {auth} '{base}/api/v1/consents/check?controller=lmt&identity=msisdn:{q_msisdn}&purpose=offers'",
        f"curl -s {auth} -H 'Content-Type: application/json' -X POST {base}/api/v1/consents "
        f'-d \'{{"controller":"lmt","identity":"msisdn:{msisdn}","purpose":"offers","action":"withdraw"}}\'',
        f"curl -s {auth} -H 'X-Access-Reason: demo' '{base}/api/v1/subjects/msisdn:{q_msisdn}/consents'",
        f"curl -s {auth} -H 'X-Access-Reason: demo' '{base}/api/v1/consents/{event_id}/receipt?lang=en'",
        f"curl -s {auth} '{base}/api/v1/audit?limit=5'",
        f"curl -s -H 'Authorization: Bearer {marketing}' '{base}/api/v1/audiences/offers?controller=lmt&channel=sms&format=csv' | head",
        f"curl -s -X POST {base}/api/v1/sms/inbound -H 'Content-Type: application/json' "
        f"-H 'X-Sargs-Signature: {signature}' -d '{sms}'",
        f"curl -s {auth} -H 'X-Access-Reason: demo' '{base}/api/v1/sms/messages?identity=msisdn:%2B37129900001'",
    ]


def _print_policy(path: Path, policy: Policy) -> None:
    console.print(
        f"[bold green]✓ {path}[/]: policy {policy.id} version {policy.version} (published {policy.policy.published})"
    )
    controllers = Table("controller", "legal name", "reg. no.", title="Controllers", title_justify="left")
    for c in policy.controllers:
        controllers.add_row(c.id, c.legal_name, c.registration_number)
    console.print(controllers)
    purposes = Table(
        "purpose",
        "controllers",
        "legal basis",
        "SMS",
        "eligible",
        "channels",
        title="Purposes",
        title_justify="left",
    )
    for p in policy.purposes:
        purposes.add_row(
            p.id,
            ", ".join(p.controllers or ["all"]),
            p.legal_basis,
            p.sms_keyword or "",
            ", ".join(p.eligible_groups or ["everyone"]) if p.needs_consent else "",
            ", ".join(p.consent_channels),
        )
    console.print(purposes)
    if policy.retention_rules:
        retention = Table("rule", "purpose", "kept", "after", "then", title="Retention", title_justify="left")
        for r in policy.retention_rules:
            retention.add_row(r.id, r.purpose, r.period.iso() if r.period else "until", r.anchor, r.action)
        console.print(retention)
