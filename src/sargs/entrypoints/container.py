"""What every entrypoint needs, built by `sargs.bootstrap`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from sargs.core.clock import Clock, SystemClock
from sargs.core.config import Settings
from sargs.core.errors import ConfigurationError
from sargs.domains.consent.receipt_keys import ReceiptKeys
from sargs.domains.dsr.callbacks import CallbackSigner, HmacSigner
from sargs.domains.dsr.signatures import SignatureChecker, UnwiredSignatureChecker
from sargs.domains.policy.clients import ClientGroupSource
from sargs.domains.policy.registry import PolicyRegistry
from sargs.domains.policy.sources import DataSource
from sargs.domains.portal.ports import CodeSender
from sargs.domains.retention.ports import RetentionConnector, RetentionConnectorFactory
from sargs.domains.retention.rules import SourceRules
from sargs.domains.sms.service import SmsDirectory
from sargs.domains.sources.ports import ConnectorFactory, SourceConnector
from sargs.domains.staff.sso import parse_role_map
from sargs.domains.subjects.sync import ClientRows
from sargs.integrations.opendsr.signing import ProcessorSigner
from sargs.integrations.ratelimit import RateLimits, memory_rate_limits

if TYPE_CHECKING:
    from sargs.integrations.oidc import OidcClient


class UnwiredCodeSender:
    """Refuses to send: a container built without bootstrap has no way out of the process."""

    def send_sms(self, to: str, text: str, *, session: Session) -> None:
        raise RuntimeError("no CodeSender wired (bootstrap.build wires one)")

    def send_email(self, to: str, subject: str, text: str) -> None:
        raise RuntimeError("no CodeSender wired (bootstrap.build wires one)")


def no_sources(source: DataSource) -> SourceConnector:
    """The connector factory of a container built without bootstrap: no source is reachable."""
    raise ConfigurationError("no data sources configured", source=source.id)


def no_retention_sources(rules: SourceRules) -> RetentionConnector:
    """The retention connector factory of a container built without bootstrap: no source is reachable."""
    raise ConfigurationError("no data sources configured", source=rules.source.id)


def no_client_sources(source: ClientGroupSource) -> Iterator[Mapping[str, Any]]:
    """The client-group reader of a container built without bootstrap: no source is reachable."""
    raise ConfigurationError("no client-group sources configured", source=source.id)


@dataclass
class Container:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    read_sessions: sessionmaker[Session]
    registry: PolicyRegistry
    clock: Clock = field(default_factory=SystemClock)
    code_sender: CodeSender = field(default_factory=UnwiredCodeSender)
    sources: ConnectorFactory = no_sources
    retention_connectors: RetentionConnectorFactory = no_retention_sources
    client_rows: ClientRows = no_client_sources  # issue 19: policy client_group_sources
    rate_limits: RateLimits = field(default_factory=memory_rate_limits)  # bootstrap wires Redis if set
    signatures: SignatureChecker = field(default_factory=UnwiredSignatureChecker)  # issue 16: e-signed files
    sms: SmsDirectory = field(init=False)
    receipt_keys: ReceiptKeys = field(init=False)  # the controllers' receipt signing keys (settings)
    oidc: OidcClient | None = field(init=False)  # staff sign-in through an identity provider, if set
    opendsr_signer: ProcessorSigner | None = field(init=False)  # issue 16.4: X.509-signed callbacks

    def __post_init__(self) -> None:
        self.sms = SmsDirectory(self.registry, region=self.settings.default_region)
        s = self.settings
        self.receipt_keys = ReceiptKeys.from_settings(
            s.receipt_keys,
            controllers=self.registry.controller_ids,
            retired=s.receipt_retired_keys,
            demo_secret=s.secret_key if s.demo else None,
        )
        parse_role_map(s.oidc_role_map)  # an admin mapping is refused at startup
        self.oidc = None
        if s.oidc_issuer or s.oidc_client_id or s.oidc_client_secret:
            # httpx, Authlib and joserfc load only where sign-in through a provider is configured
            from sargs.integrations.oidc import OidcClient

            self.oidc = OidcClient.from_settings(s, now=lambda: self.clock.now().timestamp())
        self.opendsr_signer = None
        if s.opendsr_signing_key or s.opendsr_certificate:
            if not (s.opendsr_signing_key and s.opendsr_certificate):
                raise ConfigurationError(
                    "set both SARGS_OPENDSR_SIGNING_KEY and SARGS_OPENDSR_CERTIFICATE, or neither"
                )
            self.opendsr_signer = ProcessorSigner.load(s.opendsr_signing_key, s.opendsr_certificate)

    def callback_signer(self) -> CallbackSigner | None:
        """How OpenDSR callbacks are signed: the processor's certificate, else the shared secret;
        None when neither is set (callbacks are then not sent)."""
        if self.opendsr_signer is not None:
            return self.opendsr_signer
        secret = self.settings.opendsr_callback_secret
        return HmacSigner(secret.encode()) if secret else None

    def close(self) -> None:
        self.engine.dispose()
        self.rate_limits.close()
        if self.oidc is not None:
            self.oidc.close()
        close_sources = getattr(self.sources, "close", None)
        if close_sources is not None:
            close_sources()
