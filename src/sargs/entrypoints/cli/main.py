"""The `sargs` command line (Typer + Rich). Built by `sargs.bootstrap.main`."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from sargs.core import startup
from sargs.core.config import ENV_FILE_NAME, Settings, load_env_file
from sargs.core.errors import SargsError
from sargs.domains.policy.loader import load_policy
from sargs.domains.policy.schema import Policy
from sargs.domains.sms.ports import SmsSender
from sargs.entrypoints.cli.breaches import make_breach_cli
from sargs.entrypoints.cli.demo import add_demo_command
from sargs.entrypoints.cli.dsr import make_dsr_cli
from sargs.entrypoints.cli.examples import add_policy_examples
from sargs.entrypoints.cli.ledger import make_ledger_cli
from sargs.entrypoints.cli.output import DATABASE_URL_KEY, SargsGroup, console, err, need_policies
from sargs.entrypoints.cli.policy_schema import add_policy_schema
from sargs.entrypoints.cli.receipts import make_receipts_cli
from sargs.entrypoints.cli.reports import add_policy_notify, make_ropa_cli
from sargs.entrypoints.cli.retention import retention_cli
from sargs.entrypoints.cli.sms import make_sms_cli
from sargs.entrypoints.cli.sources import make_sources_cli
from sargs.entrypoints.cli.staff import make_staff_cli
from sargs.entrypoints.cli.subjects import make_subjects_cli
from sargs.entrypoints.container import Container

BuildFn = Callable[..., Container]
AppFn = Callable[[Container], Any]


def make_cli(
    *,
    build: BuildFn,
    create_app: AppFn,
    example_policies: Callable[[], list[Path]],
    sms_sender: Callable[[Settings], SmsSender],
) -> typer.Typer:
    """The Typer application, with the bootstrap's factories injected."""
    app = typer.Typer(
        cls=SargsGroup,  # configuration and connection problems: one line, no traceback
        help="Sargs: privacy operations from a published privacy policy.",
        no_args_is_help=True,
    )
    policy_app = typer.Typer(help="Policy files.", no_args_is_help=True)
    token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
    db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
    app.add_typer(make_staff_cli(lambda **kw: container(**kw)), name="staff")
    app.add_typer(policy_app, name="policy")
    app.add_typer(make_ledger_cli(lambda **kw: container(**kw)), name="ledger")
    app.add_typer(token_app, name="token")
    app.add_typer(db_app, name="db")
    app.add_typer(make_breach_cli(lambda: container()), name="breach")
    app.add_typer(make_ropa_cli(lambda **kw: container(**kw)), name="ropa")
    app.add_typer(make_receipts_cli(), name="receipts")
    add_policy_notify(policy_app, lambda **kw: container(**kw))
    add_policy_examples(policy_app, example_policies)
    add_policy_schema(policy_app)
    app.add_typer(make_sources_cli(lambda: container(publish=False)), name="sources")

    state: dict[str, Any] = {}

    @app.callback()
    def _root(
        ctx: typer.Context,
        database_url: Annotated[
            str | None, typer.Option("--database-url", envvar="SARGS_DATABASE_URL", help="SQLAlchemy URL.")
        ] = None,
        policy: Annotated[
            list[Path] | None,
            typer.Option("--policy", "-p", help="Policy file (repeatable); or SARGS_POLICY_FILES."),
        ] = None,
        env_file: Annotated[
            Path | None,
            typer.Option(
                "--env-file",
                envvar="SARGS_ENV_FILE",
                help=f"Read SARGS_* settings from this file (default: ./{ENV_FILE_NAME} if there is one, "
                "as `sargs demo` writes); the environment wins over it.",
            ),
        ] = None,
    ) -> None:
        if ctx.invoked_subcommand != "serve":  # serve resumes it once its application is built
            startup.resume()
        if env_file is not None:
            state["from_file"] = load_env_file(env_file)
        elif Path(ENV_FILE_NAME).is_file():
            state["from_file"] = load_env_file(Path(ENV_FILE_NAME))
        overrides: dict[str, Any] = {}
        if database_url:
            overrides["database_url"] = database_url
        if policy:
            overrides["policy_files"] = policy
        state["settings"] = lambda: Settings(**overrides)
        ctx.meta[DATABASE_URL_KEY] = lambda: settings().database_url

    def settings() -> Settings:
        factory: Callable[[], Settings] = state.get("settings", Settings)
        return factory()

    def container(*, publish: bool = True, schema: bool = True) -> Container:
        return build(settings(), publish_policies=publish, require_schema=schema)

    # check-signature needs no database: only the settings' trust store (SARGS_ESIGN_TRUST)
    app.add_typer(
        make_dsr_cli(
            lambda: container(), signatures=lambda: container(publish=False, schema=False).signatures
        ),
        name="dsr",
    )
    from sargs.entrypoints.cli.web import make_mail_cli, make_weblog_cli

    app.add_typer(make_mail_cli(container), name="mail")
    app.add_typer(make_weblog_cli(container), name="weblog")
    app.add_typer(retention_cli(container), name="retention")
    app.add_typer(make_subjects_cli(lambda: container()), name="subjects")
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
        need_policies(c)
        for r in c.registry.review_reminders(today=dt.date.today()):
            mark = "[red]OVERDUE[/]" if r.overdue else "[green]ok[/]"
            console.print(f"{r.policy_id} {r.version}: published {r.published}, review due {r.due} {mark}")

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
                c.registry.policy_for(ctl)  # an unknown controller: one line (SargsGroup)
        with c.sessions.begin() as session:
            issued = create_token(
                session=session,
                name=name,
                role=role,
                now=c.clock.now(),
                controllers=controller or None,
                valid_days=days,
            )
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
        with c.sessions.begin() as session:
            revoke_token(session=session, token_id=token_id, now=c.clock.now())
        console.print(f"revoked {token_id}")

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

    # --- serving ------------------------------------------------------------------------------

    @app.command()
    def serve(
        host: str = "127.0.0.1",
        port: int = 8000,
        workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    ) -> None:
        """Serve the API, the staff console (/console) and the portal (/portal)."""
        import uvicorn

        from sargs.entrypoints.cli.listen import bind, probe

        if "SARGS_DEMO" in state.get("from_file", ()):
            # Demo mode switches off the refusal of default secrets: a settings file (perhaps one in
            # a folder someone else controls) may not do that; only the environment may.
            os.environ.pop("SARGS_DEMO", None)
            err.print(
                "[yellow]warning:[/] ignoring SARGS_DEMO from the settings file: serve takes demo mode only from the environment"
            )
        s = settings()
        s.require_safe_secrets()
        if not s.policy_files:
            err.print("[yellow]warning:[/] no policy files given (--policy or SARGS_POLICY_FILES)")
        if workers > 1:
            probe(host, port)
            os.environ["SARGS_DATABASE_URL"] = s.database_url
            os.environ["SARGS_POLICY_FILES"] = ",".join(str(p) for p in s.policy_files)
            startup.resume()
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
        sock = bind(host, port)
        config = uvicorn.Config(create_app(c), host=host, port=port, log_level="warning", access_log=False)
        startup.resume()
        uvicorn.Server(config).run(sockets=[sock])

    app.add_typer(make_sms_cli(container, sms_sender), name="sms")
    add_demo_command(
        app, build=build, create_app=create_app, example_policies=example_policies, sms_sender=sms_sender
    )

    return app


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
