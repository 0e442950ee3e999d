"""Settings, validated once. No engine or connection is made at import time."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from sargs.core.errors import ConfigurationError

DEFAULT_SECRET = "change-me-demo-only"
# `sargs` reads this file from the folder it runs in, when there is one (`sargs demo` writes one).
ENV_FILE_NAME = "sargs.env"


def load_env_file(path: Path, environ: MutableMapping[str, str] | None = None) -> list[str]:
    """Put the settings of a dotenv file (`SARGS_DATABASE_URL=...` lines) into the environment,
    under what is already there: a variable set in the environment wins; names not starting with
    SARGS_ are ignored. The names it set.

    Every setting, SARGS_SOURCE_<ID>_URL included, is then read from the environment as usual.
    """
    import os

    from dotenv import dotenv_values

    target = os.environ if environ is None else environ
    if not path.exists():
        raise ConfigurationError(f"no settings file {path} (--env-file or SARGS_ENV_FILE)")
    try:
        values = dotenv_values(path, encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read the settings file {path}: {exc}") from None
    added = []
    for name, value in values.items():
        if not name.startswith("SARGS_"):  # a settings file sets Sargs' settings, not PATH or PYTHONPATH
            continue
        if value is not None and name not in target:
            target[name] = value
            added.append(name)
    return added


def env_file_text(settings: Mapping[str, str], *, comment: str) -> str:
    """A dotenv file setting these variables (the format `load_env_file` reads)."""
    lines = [f"# {line}".rstrip() for line in comment.splitlines()]
    for name, value in settings.items():
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        lines.append(f'{name}="{escaped}"')
    return "\n".join(lines) + "\n"


class Settings(BaseSettings):
    """Read from SARGS_* environment variables; any secret may come from SARGS_<NAME>_FILE."""

    model_config = SettingsConfigDict(env_prefix="SARGS_", extra="ignore")

    database_url: str = "sqlite:///./sargs.db"
    policy_files: Annotated[list[Path], NoDecode] = Field(default_factory=list)
    secret_key: str = DEFAULT_SECRET
    sms_webhook_secret: str = DEFAULT_SECRET
    demo: bool = False
    default_language: str = "lv"
    default_region: str = "LV"
    log_level: str = "INFO"
    # Outgoing e-mail (portal sign-in codes). No host: codes by e-mail are logged, not sent (demo).
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "sargs@localhost"
    smtp_starttls: bool = True
    # SMS. Replies and codes go out through `sargs sms send`: "console" prints them (demo),
    # "http" posts them to an SMS gateway (see sargs.integrations.sms.http_provider).
    sms_provider: Literal["console", "http"] = "console"
    sms_provider_url: str | None = None
    sms_provider_token: str | None = None
    sms_provider_timeout: float = Field(default=10.0, gt=0, le=120)
    # Form-encoded provider callbacks (Twilio's format) are checked with this account auth
    # token; unset, such callbacks are refused. JSON webhooks use sms_webhook_secret.
    sms_twilio_auth_token: str | None = None
    # The public base URL the provider calls (e.g. https://sargs.example.lv) when Sargs runs
    # behind a proxy; Twilio signs the URL it called.
    public_url: str | None = None
    # Web cookies carry `Secure` unless this is False; None: Secure except in demo mode.
    secure_cookies: bool | None = None
    # Website visitors and e-mail (issue 7). Bounce/complaint webhooks are signed with this key;
    # unsubscribe and tracking links go to public_url (or mail_link_base_url when set).
    mail_webhook_secret: str = DEFAULT_SECRET
    # Key of the OpenDSR status callbacks' signature, shared with their receivers; never the master
    # secret_key (which also keys CSRF tokens, links and pseudonyms). Unset: callbacks are not sent.
    opendsr_callback_secret: str | None = None
    # Or sign them, and the OpenDSR responses, as the spec describes: the processor's private key and
    # its CA-issued certificate (PEM files; the certificate's DNS name is X-OpenDSR-Processor-Domain,
    # and /api/v1/opendsr/discovery links it). Set, they take the place of the shared secret.
    opendsr_signing_key: Path | None = None
    opendsr_certificate: Path | None = None
    mail_link_base_url: str | None = None
    mail_unsubscribe_mailto: str | None = None
    web_rate_limit_per_minute: int = Field(default=120, gt=0)  # cookie choices per client address
    # OpenDSR status callbacks go only to https URLs on public hosts; when this lists hosts
    # (SARGS_OPENDSR_CALLBACK_HOSTS=a.example,b.example), only to those.
    opendsr_callback_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Staff addresses the daily `sargs dsr remind` e-mails (SARGS_DSR_REMINDER_TO=a@x.lv,lmt:b@lmt.lv:
    # a bare address hears of every company, `company:address` of that company only); for a company
    # with none: its DPO, else its contact e-mail from the policy.
    dsr_reminder_to: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # E-signed requests (issue 16): the trust store that signing certificates must chain to, a folder
    # of CA certificates (PEM/DER) or an EU trusted-list XML file downloaded beforehand (no network).
    # Unset: signatures are checked but come out indeterminate.
    esign_trust: Path | None = None
    ip2asn_file: Path | None = None  # iptoasn.com TSV: ISP / AS of access-log IPs, if the policy keeps it
    # The worker (issue 14). `sargs worker` runs every periodic job; a job's schedule is an interval
    # ("30s", "5m", "1h"), a crontab line in worker_timezone ("0 7 * * *") or "off", e.g.
    # SARGS_WORKER_SCHEDULE='{"dsr_remind": "30 6 * * 1-5", "retention": "off"}'. Jobs not named
    # keep their defaults (`sargs worker --list` shows them).
    worker_schedule: dict[str, str] = Field(default_factory=dict)
    worker_timezone: str = "Europe/Riga"
    # A job or task whose worker stops answering is taken over after this long (it heartbeats).
    worker_lease_seconds: float = Field(default=60.0, ge=2, le=3600)
    worker_task_poll_seconds: float = Field(default=1.0, gt=0, le=60)  # how often queued tasks are looked for
    worker_threads: int = Field(default=4, ge=1, le=32)  # periodic jobs run side by side
    # Metrics and health (issue 14)
    # GET /metrics answers `Authorization: Bearer <metrics_token>` only; unset, it is open in demo
    # mode and 404 otherwise. At least 16 characters.
    metrics_token: str | None = Field(default=None, min_length=16)
    access_log: bool = True  # one `sargs.access` log line per request: route template, status, duration
    # Keep a proxy's X-Request-ID (8-128 characters of A-Z a-z 0-9 . _ : -) instead of making a new one.
    trust_request_id: bool = True
    # Shared state across processes (issue 14). With a Redis URL (redis://[:password@]host:6379/0),
    # rate limits are counted in Redis, so every `sargs serve` process shares them; without one,
    # each process counts its own. Portal code requests and console sign-ins per client address:
    # refused while Redis is unreachable; the visitor endpoints' limits are then not applied.
    redis_url: str | None = None
    signin_rate_limit_per_minute: int = Field(default=10, gt=0)
    # Staff sign-in (issue 18). Admin and DPO always sign in with a TOTP second factor; roles
    # listed here must too (SARGS_STAFF_MFA_ROLES=operator,auditor). Anyone may enrol voluntarily.
    staff_mfa_roles: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["admin", "dpo"])
    # Key material sealing TOTP secrets at rest (AES-GCM); unset: derived from secret_key (then
    # changing secret_key means every authenticator is enrolled again).
    staff_mfa_key: str | None = None
    # How recent a sign-in must be before a sensitive console action (erasure, ...) goes ahead.
    staff_reauth_minutes: int = Field(default=10, ge=1, le=240)
    # OpenID Connect sign-in (authorization code + PKCE). All three set: the console offers it.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_role_claim: str = "roles"  # a string or a list of strings in the ID token
    # Claim value -> role, or role:controller+controller for a scoped account, e.g.
    # SARGS_OIDC_ROLE_MAP='{"sargs-operators": "operator:lmt", "privacy": "dpo"}'. Never admin.
    oidc_role_map: dict[str, str] = Field(default_factory=dict)
    # Unknown e-mail with a mapped role: create the account (else refuse; accounts matched by e-mail).
    oidc_create_accounts: bool = True
    oidc_scopes: str = "openid email profile"
    # The anchored ledger (issue 18; docs/ledger.md). The Ed25519 key that signs ledger anchors: a
    # PEM private key, its 32 raw bytes in base64, or the path of a file holding either
    # (`sargs ledger anchor-key` makes one). Where anchors go: `file:/path/anchors.jsonl` (appended),
    # `mail` (every company's DPO, through the outbox) or an `https://` URL (POSTed as JSON).
    ledger_anchor_key: str | None = Field(default=None, repr=False)  # kept out of reprs and tracebacks
    ledger_anchor_sink: str | None = None

    @field_validator("opendsr_callback_hosts", "dsr_reminder_to", "staff_mfa_roles", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip().lower() for part in value.split(",") if part.strip()]
        return value

    @field_validator("policy_files", mode="before")
    @classmethod
    def _split_paths(cls, value: object) -> object:
        """SARGS_POLICY_FILES=examples/telecom.yaml,examples/retailer.yaml"""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="before")
    @classmethod
    def _read_secret_files(cls, data: object) -> object:
        import os

        if not isinstance(data, dict):
            return data
        for name in (
            "secret_key",
            "sms_webhook_secret",
            "database_url",
            "smtp_password",
            "sms_provider_token",
            "sms_twilio_auth_token",
            "mail_webhook_secret",
            "opendsr_callback_secret",
            "metrics_token",
            "redis_url",
            "staff_mfa_key",
            "oidc_client_secret",
            "ledger_anchor_key",
        ):
            path = os.environ.get(f"SARGS_{name.upper()}_FILE")
            if path and name not in data:
                data[name] = Path(path).read_text(encoding="utf-8").strip()
        return data

    @property
    def cookies_secure(self) -> bool:
        """Whether web cookies are marked Secure (off only in demo mode, unless set)."""
        return self.secure_cookies if self.secure_cookies is not None else not self.demo

    def require_safe_secrets(self) -> None:
        """Refuse to serve with a default secret unless running the demo; every one is named at once."""
        if self.demo:
            return
        names = [
            f"SARGS_{n.upper()}"
            for n in ("secret_key", "sms_webhook_secret")
            if getattr(self, n) == DEFAULT_SECRET
        ]
        if names:
            raise ConfigurationError(
                f"{', '.join(names)} {'is' if len(names) == 1 else 'are'} the default value; set "
                f"{'it' if len(names) == 1 else 'each'} (or its _FILE variant, e.g. {names[0]}_FILE) "
                "before serving outside demo mode"
            )

    # Signed consent receipts (issue 18). Each controller's P-256 private key as a JWK, by controller
    # id: SARGS_RECEIPT_KEYS='{"lmt": {"kty": "EC", "crv": "P-256", "x": ..., "y": ..., "d": ...}}', or
    # SARGS_RECEIPT_KEYS_FILE naming a JSON file of that shape (`sargs receipts key` writes one). The
    # public keys are published at /.well-known/jwks.json, with the retired public keys listed here
    # (a JSON list of public JWKs with their kid) so receipts signed before a key change still verify.
    # A controller without a key: its receipts are served unsigned and start-up warns (demo mode
    # derives a key from secret_key instead).
    receipt_keys: dict[str, dict[str, str]] = Field(default_factory=dict, repr=False)
    receipt_retired_keys: list[dict[str, str]] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _read_receipt_keys_file(cls, data: object) -> object:
        import os

        path = os.environ.get("SARGS_RECEIPT_KEYS_FILE")
        if isinstance(data, dict) and path and "receipt_keys" not in data:
            data["receipt_keys"] = Path(path).read_text(encoding="utf-8")
        return data

    @field_validator("receipt_keys", "receipt_retired_keys", mode="before")
    @classmethod
    def _json_text(cls, value: object) -> object:
        import json

        if isinstance(value, str):
            try:
                return json.loads(value) if value.strip() else {}
            except ValueError:
                raise ValueError("must be JSON (see `sargs receipts key`)") from None
        return value
