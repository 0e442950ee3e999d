"""`sargs demo`: a fresh SQLite database with both example policies and sample people, a server and
a worker in one process, and the example commands to try."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from sargs.core.config import Settings
from sargs.domains.sms.ports import SmsSender
from sargs.domains.sms.signatures import sign_json
from sargs.entrypoints.cli.output import console, err
from sargs.entrypoints.container import Container


def add_demo_command(
    app: typer.Typer,
    *,
    build: Callable[..., Container],
    create_app: Callable[[Container], Any],
    example_policies: Callable[[], list[Path]],
    sms_sender: Callable[[Settings], SmsSender],
) -> None:
    """Register `sargs demo` on the root command."""

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
        """A fresh SQLite database with both example policies and sample people, then the server.
        It writes DIR/sargs.env: `sargs` run in DIR (or with --env-file DIR/sargs.env) uses the demo."""
        import uvicorn

        from sargs.domains.tokens.service import create_token
        from sargs.entrypoints.cli.demo_data import generate
        from sargs.entrypoints.cli.listen import bind
        from sargs.migrations import upgrade

        sock = bind(host, port) if serve_after else None  # a busy port fails now, not after the setup
        directory.mkdir(parents=True, exist_ok=True)
        db = directory / "sargs-demo.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{db.resolve()}"
        upgrade(url)
        from sargs.entrypoints.cli.demo_esign import file_demo_esign_requests, prepare_demo_esign

        esign = prepare_demo_esign(directory)  # issue 16: a test CA made here, now; its trust folder
        s = Settings(database_url=url, policy_files=example_policies(), demo=True, esign_trust=esign.trust)
        if not s.dsr_reminder_to:  # staff alerts and digests (breach deadlines, reviews) go to the demo's DPO
            s = s.model_copy(update={"dsr_reminder_to": ["dpo@demo.sargs.example"]})
        c = build(s)
        from rich.progress import Progress

        with Progress(console=err, transient=True) as progress:
            task = progress.add_task("generating people and consent histories", total=subjects)
            stats = generate(
                container=c, subjects=subjects, progress=lambda n: progress.update(task, completed=n)
            )
        from sargs.entrypoints.cli.demo_sources import (
            FAKE_MAILER_PATH,
            create_demo_platform,
            create_demo_sources,
        )

        sources = create_demo_sources(c, directory)  # sets SARGS_SOURCE_<ID>_URL for the server
        base = f"http://{host}:{port}"
        platform = create_demo_platform(c, base)  # the fake e-mail platform, served with the app
        env_file = write_env_file(directory, s, {**sources.urls, **platform.settings})
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
        esign_lines = file_demo_esign_requests(c, esign)
        console.print(
            f"[bold green]Sargs demo[/] — {db} — {stats.subjects} people, {stats.events} consent events"
        )
        console.print(f"policies: {', '.join(f'{p.id} {p.version}' for p in c.registry.policies)}")
        console.print(sources.line)
        console.print(platform.line, highlight=False)
        console.print(f"admin token:     {admin.secret}")
        console.print(f"marketing token: {marketing.secret}")
        console.print(f"API docs:        {base}/docs")
        console.print(
            f"staff console:   {base}/console/  dpo@demo.sargs.example or operator@demo.sargs.example, "
            f"password {staff_password}"
        )
        console.print(
            "                 the DPO adds an authenticator app (TOTP) at the first sign-in; "
            "the operator needs none",
            soft_wrap=True,
        )
        console.print(f"retention:       {base}/console/retention (as dpo), or `sargs retention plan`")
        console.print(  # issue 16
            f"e-signatures:    trust folder {esign.trust}; sample {esign.signed} and a tampered copy "
            f"{esign.tampered}\n                 `sargs dsr check-signature FILE` checks one; e-mail requests:",
            soft_wrap=True,
            highlight=False,
        )
        for line in esign_lines:
            console.print(f"                 {line}", soft_wrap=True, highlight=False)
        portal_phone = sources.customer_msisdn or stats.sample_msisdn
        customer = f" (a {sources.customer_source} customer)" if sources.customer_msisdn else ""
        console.print(
            f"portal:          {base}/portal/   sign in with {portal_phone}{customer}; the code SMS is printed here"
        )
        console.print(  # issue 7: website visitors
            f"sample website:  {base}/demo-site/   the cookie banner (one <script> tag); {base}/.well-known/gpc.json\n"
        )
        console.print(
            f"command line:    the demo's settings are in {env_file}; sargs reads them when run in "
            f"{directory} (cd {directory}), or anywhere with --env-file {env_file.resolve()}\n"
            "                 (sargs is .venv/bin/sargs in a checkout; `. .venv/bin/activate` puts it on PATH)\n"
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
                app = create_app(c)
                if platform.fake is not None:  # an erasure at the retailer reaches it over HTTP
                    app.mount(FAKE_MAILER_PATH, platform.fake.app())
                config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
                uvicorn.Server(config).run(sockets=[sock] if sock else None)
            finally:
                worker.shutdown()


def write_env_file(directory: Path, settings: Settings, source_urls: dict[str, str]) -> Path:
    """DIR/sargs.env: the settings that reach this demo (database, policies, sources, demo mode)."""
    from sargs.core.config import ENV_FILE_NAME, env_file_text

    values = {
        "SARGS_DATABASE_URL": settings.database_url,
        "SARGS_POLICY_FILES": ",".join(str(p) for p in settings.policy_files),
        "SARGS_DEMO": "true",
        **({"SARGS_ESIGN_TRUST": str(settings.esign_trust.resolve())} if settings.esign_trust else {}),
        **source_urls,
        "SARGS_DSR_REMINDER_TO": ",".join(settings.dsr_reminder_to),
    }
    path = directory / ENV_FILE_NAME
    path.write_text(
        env_file_text(
            values,
            comment="Written by `sargs demo`: the settings that reach the demo. `sargs` reads this file\n"
            "when run in this folder, or with --env-file PATH (SARGS_ENV_FILE); the environment wins.",
        ),
        encoding="utf-8",
    )
    return path


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
        f"curl -s {auth} -H 'X-Access-Reason: demo' '{base}/api/v1/consents/{event_id}/receipt?format=jwt'"
        f"  # signed; keys: {base}/.well-known/jwks.json",
        f"curl -s {auth} '{base}/api/v1/audit?limit=5'",
        f"curl -s -H 'Authorization: Bearer {marketing}' '{base}/api/v1/audiences/offers?controller=lmt&channel=sms&format=csv' | head",
        f"curl -s -X POST {base}/api/v1/sms/inbound -H 'Content-Type: application/json' "
        f"-H 'X-Sargs-Signature: {signature}' -d '{sms}'",
        f"curl -s {auth} -H 'X-Access-Reason: demo' '{base}/api/v1/sms/messages?identity=msisdn:%2B37129900001'",
    ]
