"""Delivering OpenDSR status callbacks from the outbox: signed (by the processor's X.509 certificate
when one is configured, else HMAC-SHA256 of the body with a shared key, in `X-OpenDSR-Signature`),
retried with backoff, each delivery claimed so two workers never send one."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from sargs.domains.dsr.model import DsrCallback

MAX_ATTEMPTS = 8
FIRST_DELAY = timedelta(seconds=30)
SIGNATURE_HEADER = "X-OpenDSR-Signature"
DOMAIN_HEADER = "X-OpenDSR-Processor-Domain"


class CallbackPoster(Protocol):
    """Posts one callback; returns the HTTP status, raises OSError-like errors on network failure."""

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> int: ...


class CallbackSigner(Protocol):
    """The headers that authenticate one body (the signature, and the processor's domain if any)."""

    def headers(self, body: bytes) -> dict[str, str]: ...


@dataclass(frozen=True)
class HmacSigner:
    """HMAC-SHA256 with a key shared with the receivers (SARGS_OPENDSR_CALLBACK_SECRET)."""

    key: bytes

    def headers(self, body: bytes) -> dict[str, str]:
        return {SIGNATURE_HEADER: sign(self.key, body)}


def callback_url_problem(url: str, *, allowed_hosts: Sequence[str] = ()) -> str | None:
    """Why Sargs must not post to `url`, or None: https only, no credentials, no loopback or
    private addresses by name or number, and only `allowed_hosts` when any are configured."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    if parts.scheme != "https":
        return "a status callback URL must use https"
    if not host or parts.username or parts.password:
        return "a status callback URL needs a host and no user name or password"
    if allowed_hosts:
        return None if host in allowed_hosts else f"callbacks may go only to: {', '.join(allowed_hosts)}"
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return "a status callback URL may not point at this machine or a local network name"
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        if re.fullmatch(r"[0-9a-fx.]+", host) and any(c.isdigit() for c in host):
            # 127.1, 2130706433, 0x7f000001, 0177.0.0.1: numbers a resolver reads as addresses
            return "a status callback URL needs a host name or a plain public IP address"
        return None
    if not address.is_global:
        return "a status callback URL may not point at a private, loopback or reserved address"
    return None


def sign(key: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def callback_body(item: DsrCallback) -> bytes:
    payload = {**item.payload, "status_callback_url": item.url}
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


@dataclass
class CallbackReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0


def _claim(session: Session, now: datetime, limit: int) -> list[DsrCallback]:
    rows = list(
        session.scalars(
            select(DsrCallback)
            .where(DsrCallback.status == "queued", DsrCallback.next_attempt_at <= now)
            .order_by(DsrCallback.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    for row in rows:  # a lease: nobody else picks these until then
        row.next_attempt_at = now + timedelta(minutes=5)
        row.attempts += 1
    session.flush()
    return rows


def deliver_callbacks(
    *,
    sessions: sessionmaker[Session],
    poster: CallbackPoster,
    signer: CallbackSigner,
    now: Callable[[], datetime],
    limit: int = 50,
) -> CallbackReport:
    """Send the due callbacks once each; 2xx is sent, anything else is retried (then failed)."""
    report = CallbackReport()
    with sessions.begin() as session:
        batch = [(r.id, r.url, callback_body(r), r.attempts) for r in _claim(session, now(), limit)]
    for item_id, url, body, attempts in batch:
        try:
            status = poster.post(url, body, {"Content-Type": "application/json", **signer.headers(body)})
            error = None if 200 <= status < 300 else f"HTTP {status}"
        except Exception as exc:  # network failures of any adapter
            error = type(exc).__name__
        with sessions.begin() as session:
            row = session.get(DsrCallback, item_id)
            assert row is not None
            if error is None:
                row.status, row.sent_at, row.last_error = "sent", now(), None
                report.sent += 1
            elif attempts >= MAX_ATTEMPTS:
                row.status, row.last_error = "failed", error
                report.failed += 1
            else:
                row.last_error = error
                row.next_attempt_at = now() + FIRST_DELAY * (2 ** (attempts - 1))
                report.retried += 1
    return report
