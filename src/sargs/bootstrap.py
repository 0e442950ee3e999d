"""The one place that picks adapters and builds the application and the CLI's services."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect

from sargs.core.clock import Clock, SystemClock
from sargs.core.config import Settings
from sargs.core.db import make_engine, make_session_factory
from sargs.core.errors import ConfigurationError
from sargs.core.logging import configure_logging
from sargs.domains.dsr.signatures import SignatureChecker
from sargs.domains.policy.loader import load_policy
from sargs.domains.policy.registry import PolicyRegistry, publish
from sargs.domains.policy.schema import Policy
from sargs.domains.portal.ports import CodeSender
from sargs.domains.retention.ports import RetentionConnectorFactory
from sargs.domains.sms.ports import SmsSender
from sargs.domains.sources.ports import ConnectorFactory
from sargs.domains.subjects.sync import ClientRows
from sargs.entrypoints.container import Container

if TYPE_CHECKING:
    from fastapi import FastAPI

    from sargs.integrations.ratelimit import RateLimits

# The example policies ship inside the package (sargs/examples/*.yaml, package data), so an installed
# wheel finds them too. pip installs packages as files, so this is a real directory.
EXAMPLES = Path(str(resources.files("sargs") / "examples"))


def example_policy_paths() -> list[Path]:
    """The example policies bundled with the package (telecom and retailer)."""
    return [EXAMPLES / "telecom.yaml", EXAMPLES / "retailer.yaml"]


def code_sender(settings: Settings, clock: Clock) -> CodeSender:
    """Portal codes: by SMS through the outbox; by e-mail over SMTP when SARGS_SMTP_HOST is set."""
    from sargs.integrations.codes import ChannelCodeSender
    from sargs.integrations.mail.smtp import SmtpMailer

    mailer = None
    if settings.smtp_host:
        mailer = SmtpMailer(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            user=settings.smtp_user,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
        )
    return ChannelCodeSender(clock=clock, mailer=mailer, show_text=settings.demo)


def sms_sender(settings: Settings) -> SmsSender:
    """The adapter `sargs sms send` delivers through (SARGS_SMS_PROVIDER)."""
    if settings.sms_provider == "http":
        from sargs.integrations.sms.http_provider import HttpSmsSender

        if not settings.sms_provider_url:
            raise ConfigurationError("SARGS_SMS_PROVIDER=http needs SARGS_SMS_PROVIDER_URL")
        return HttpSmsSender(
            url=settings.sms_provider_url,
            token=settings.sms_provider_token,
            timeout=settings.sms_provider_timeout,
        )
    from sargs.integrations.sms.console import ConsoleSmsSender

    return ConsoleSmsSender()


def source_connectors(settings: Settings) -> ConnectorFactory:
    """Connectors for the policies' data sources: SQL (URL from SARGS_SOURCE_<ID>_URL) and HTTP
    (base URL from SARGS_SOURCE_<ID>_URL or the policy, token from SARGS_SOURCE_<ID>_TOKEN)."""
    from sargs.integrations.sources.http import HttpConnectorFactory, KindConnectors
    from sargs.integrations.sources.sql import sql_connector_factory

    return KindConnectors(
        {
            "sql": sql_connector_factory(os.environ, region=settings.default_region),
            "http": HttpConnectorFactory(os.environ),
        }
    )


def retention_connectors() -> RetentionConnectorFactory:
    """SQL retention connectors, each source's URL from its SARGS_SOURCE_<ID>_URL variable."""
    from sargs.integrations.sources.sql_retention import SqlRetentionConnector

    return SqlRetentionConnector.from_env


def client_group_rows() -> ClientRows:
    """Reads the policies' client-group sources, each URL from its SARGS_CLIENTS_<ID>_URL variable."""
    from sargs.integrations.sources.client_groups import client_rows

    return client_rows


def signature_checker(settings: Settings) -> SignatureChecker:
    """E-signed files (ASiC-E, PAdES) checked against SARGS_ESIGN_TRUST, read once here."""
    from sargs.integrations.esign.checker import EsignChecker

    return EsignChecker(settings.esign_trust)


def rate_limits(settings: Settings) -> RateLimits:
    """Rate limits in Redis, shared by every process, when SARGS_REDIS_URL is set; else per process."""
    from sargs.integrations.ratelimit import memory_rate_limits, redis_rate_limits

    if settings.redis_url:
        return redis_rate_limits(settings.redis_url, key=settings.secret_key.encode())
    return memory_rate_limits()


def build(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    policies: list[Policy] | None = None,
    publish_policies: bool = True,
    require_schema: bool = True,
) -> Container:
    """Engine, sessions and policies for one process; published policy versions are recorded."""
    settings = settings or Settings()
    configure_logging(settings.log_level)
    if publish_policies or require_schema:
        _refuse_missing_sqlite_file(settings.database_url)
    engine = make_engine(settings.database_url)
    # The database first: it answers (or not) at once, while the policies take a while to read.
    if (publish_policies or require_schema) and not _has_schema(engine):
        engine.dispose()
        raise ConfigurationError(
            f"the database {_shown(settings.database_url)} has no Sargs tables yet; {_REACH}"
        )
    if policies is None:
        policies = [load_policy(p) for p in settings.policy_files]
    clock = clock or SystemClock()
    container = Container(
        settings=settings,
        engine=engine,
        sessions=make_session_factory(engine),
        read_sessions=make_session_factory(engine, readonly=True),
        registry=PolicyRegistry(policies),
        clock=clock,
        code_sender=code_sender(settings, clock),
        sources=source_connectors(settings),
        retention_connectors=retention_connectors(),
        client_rows=client_group_rows(),
        rate_limits=rate_limits(settings),
        signatures=signature_checker(settings),
    )
    if publish_policies and policies:
        with container.sessions.begin() as session:
            for policy in policies:
                publish(session=session, policy=policy, now=container.clock.now())
    return container


_REACH = (
    "`sargs db upgrade` creates the Sargs tables there; to use a running demo instead, run sargs in its folder "
    "(cd .demo: it reads sargs.env there) or with --env-file .demo/sargs.env"
)


def _has_schema(engine: Engine) -> bool:
    try:
        return inspect(engine).has_table("policy_versions")
    except BaseException:
        engine.dispose()
        raise


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _refuse_missing_sqlite_file(url: str) -> None:
    """A SQLite URL naming no file: say so, rather than let SQLite create an empty database there."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    name = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or name in ("", ":memory:") or name.startswith("file:"):
        return
    if not Path(name).exists():
        folder = Path(name).absolute().parent
        if not folder.is_dir():  # `sargs db upgrade` could not create it there either
            raise ConfigurationError(
                f"there is no database at {_shown(url)}: the folder {folder} does not exist; "
                "create it first, or point SARGS_DATABASE_URL at another path"
            )
        raise ConfigurationError(f"there is no database at {_shown(url)} (no file {name}); {_REACH}")


def create_app(container: Container) -> FastAPI:
    """The ASGI application: the API, the staff console and the subject portal."""
    from sargs.entrypoints.api.app import create_api
    from sargs.entrypoints.web.app import install_web

    app = create_api(container)
    install_web(app, container)
    return app


def app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory sargs.bootstrap:app_from_env` (used by `sargs serve`)."""
    settings = Settings()
    settings.require_safe_secrets()
    return create_app(build(settings))


def main() -> None:
    """The `sargs` command (`sargs --version` prints the installed version)."""
    import sys

    if sys.argv[1:] == ["--version"]:
        import sargs

        print(f"sargs {sargs.__version__}")
        return
    from sargs.entrypoints.cli.main import make_cli

    make_cli(
        build=build, create_app=create_app, example_policies=example_policy_paths, sms_sender=sms_sender
    )()
