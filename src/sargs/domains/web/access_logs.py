"""Website access logs (R-WEB-3): common/combined log lines, pseudonymised on the way in, kept
for the policy's period.

What is stored per line: a keyed HMAC of the IP (to count visitors without holding the address),
the IP truncated to /24 (IPv4) or /48 (IPv6), the network (ISP / AS) only when the policy's
`web.access_logs.keep_network` allows it, the time, method, path without its query string,
status, size, the referrer's origin and path, and the user agent. The remote user name and query
strings (which can carry e-mail addresses or tokens) are dropped.

Re-ingesting a file changes nothing: each line gets a keyed digest of its text and of how many
identical lines came before it within the same second, unique per controller.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Protocol
from urllib.parse import urlsplit

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from sargs.core.db import PerDialect, table
from sargs.core.errors import InvalidInput
from sargs.domains.policy.registry import PolicyRegistry
from sargs.domains.policy.schema import Duration
from sargs.domains.policy.web import AccessLogs
from sargs.domains.web.model import WebAccessLog

LOGS = table(WebAccessLog)
LINE = re.compile(
    r'^(?P<ip>[0-9A-Fa-f.:]{2,45}) \S+ \S+ \[(?P<time>[^\]]{20,40})\] "(?P<request>[^"\\]*(?:\\.[^"\\]*)*)" '
    r'(?P<status>\d{3}) (?P<bytes>\d{1,15}|-)(?: "(?P<referrer>[^"\\]*(?:\\.[^"\\]*)*)" "(?P<agent>[^"\\]*(?:\\.[^"\\]*)*)")?'
    r"(?: .*)?$"
)
MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
TIME = re.compile(r"^(\d{2})/([A-Z][a-z]{2})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$")


class NetworkLookup(Protocol):
    """Finds the network (ISP / autonomous system) an IP address belongs to."""

    def lookup(self, ip: str) -> str | None: ...


def pseudonym_key(secret: str) -> bytes:
    """The key of IP pseudonyms and line keys, derived from the application secret."""
    return hmac.new(secret.encode(), b"sargs access-log pseudonyms v1", hashlib.sha256).digest()


def access_log_config(*, registry: PolicyRegistry, controller: str) -> AccessLogs:
    """The policy's access-log settings for this controller (InvalidInput if it keeps none)."""
    policy = registry.policy_for(controller)
    if policy.web is None or policy.web.controller != controller or policy.web.access_logs is None:
        raise InvalidInput(
            f"the policy declares no website access logs for {controller!r}", field="controller"
        )
    return policy.web.access_logs


def retention_period(*, registry: PolicyRegistry, controller: str) -> Duration:
    """How long access log lines are kept (the policy's retention rule)."""
    config = access_log_config(registry=registry, controller=controller)
    rule = next(r for r in registry.policy_for(controller).retention_rules if r.id == config.retention_rule)
    assert rule.period is not None  # checked when the policy loaded
    return rule.period


def minus(moment: datetime, period: Duration) -> datetime:
    """`moment` minus an ISO 8601 period, calendar-exact for years and months (day clamped)."""
    months = moment.year * 12 + moment.month - 1 - period.years * 12 - period.months
    year, month = divmod(months, 12)
    month += 1
    next_month = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=moment.tzinfo)
    last_day = (next_month - timedelta(days=1)).day
    shifted = moment.replace(year=year, month=month, day=min(moment.day, last_day))
    return shifted - timedelta(weeks=period.weeks, days=period.days)


@dataclass
class ParsedLine:
    ip: str
    requested_at: datetime
    method: str
    path: str
    status: int
    bytes_sent: int | None
    referrer: str | None
    user_agent: str | None
    time_text: str


def _unescape(value: str) -> str:
    return value.replace('\\"', '"').replace("\\\\", "\\")


def parse_line(line: str) -> ParsedLine | None:
    """One common or combined log format line; None if it is not one."""
    match = LINE.match(line.rstrip("\r\n"))
    if match is None:
        return None
    try:
        ip = str(ipaddress.ip_address(match["ip"]))
    except ValueError:
        return None
    t = TIME.match(match["time"])
    if t is None or t[2] not in MONTHS:
        return None
    try:
        offset = timedelta(hours=int(t[8]), minutes=int(t[9])) * (1 if t[7] == "+" else -1)
        at = datetime(
            int(t[3]), MONTHS[t[2]], int(t[1]), int(t[4]), int(t[5]), int(t[6]), tzinfo=timezone(offset)
        ).astimezone(UTC)
    except ValueError:
        return None
    request = _unescape(match["request"]).split(" ")
    if len(request) < 2 or not request[0].isalpha() or len(request[0]) > 16:
        return None
    target = request[1]
    path = target.split("?", 1)[0].split("#", 1)[0][:2000] or "/"
    referrer = match["referrer"]
    ref: str | None = None
    if referrer and referrer != "-":
        parts = urlsplit(_unescape(referrer))
        ref = f"{parts.scheme}://{parts.netloc}{parts.path}"[:2000] if parts.scheme and parts.netloc else None
    agent = match["agent"]
    return ParsedLine(
        ip=ip,
        requested_at=at,
        method=request[0].upper(),
        path=path,
        status=int(match["status"]),
        bytes_sent=None if match["bytes"] == "-" else int(match["bytes"]),
        referrer=ref,
        user_agent=_unescape(agent)[:500] if agent and agent != "-" else None,
        time_text=match["time"],
    )


def ip_prefix(ip: str) -> str:
    """The address truncated to its /24 (IPv4) or /48 (IPv6) network."""
    address = ipaddress.ip_address(ip)
    bits = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{bits}", strict=False))


def _upsert(dialect: str) -> Any:
    stmt = pg_insert(LOGS) if dialect == "postgresql" else sqlite_insert(LOGS)
    # RETURNING counts what was stored (executemany's rowcount is -1 on PostgreSQL).
    return stmt.on_conflict_do_nothing(index_elements=[LOGS.c.controller, LOGS.c.line_key]).returning(
        LOGS.c.id
    )


INSERT_IGNORE = PerDialect(_upsert)


@dataclass
class IngestReport:
    lines: int = 0
    stored: int = 0
    duplicates: int = 0
    bad: int = 0
    bad_line_numbers: list[int] = field(default_factory=list)  # the first few; never the content


@dataclass
class Ingester:
    """Turns raw lines into rows; keeps the repeat counts that make line keys stable."""

    controller: str
    key: bytes
    keep_network: bool
    lookup: NetworkLookup | None = None
    _second: str = ""
    _seen: dict[bytes, int] = field(default_factory=dict)

    def pseudonym(self, ip: str) -> str:
        return hmac.new(self.key, b"ip:" + ip.encode(), hashlib.sha256).hexdigest()[:32]

    def line_key(self, line: str, parsed: ParsedLine) -> str:
        if parsed.time_text != self._second:
            self._second, self._seen = parsed.time_text, {}
        raw = line.rstrip("\r\n").encode("utf-8", "replace")
        digest = hashlib.sha256(raw).digest()
        n = self._seen.get(digest, 0)
        self._seen[digest] = n + 1
        return hmac.new(self.key, b"line:" + digest + str(n).encode(), hashlib.sha256).hexdigest()[:32]

    def row(self, line: str, parsed: ParsedLine, now: datetime) -> dict[str, Any]:
        network = None
        if self.keep_network and self.lookup is not None:
            found = self.lookup.lookup(parsed.ip)
            network = found[:200] if found else None
        return {
            "controller": self.controller,
            "line_key": self.line_key(line, parsed),
            "visitor": self.pseudonym(parsed.ip),
            "ip_prefix": ip_prefix(parsed.ip),
            "network": network,
            "requested_at": parsed.requested_at,
            "method": parsed.method,
            "path": parsed.path,
            "status": parsed.status,
            "bytes_sent": parsed.bytes_sent,
            "referrer": parsed.referrer,
            "user_agent": parsed.user_agent,
            "ingested_at": now,
        }


def ingest_lines(
    *,
    session: Session,
    ingester: Ingester,
    lines: Iterable[tuple[int, str]],
    now: datetime,
    report: IngestReport,
) -> IngestReport:
    """Store numbered lines (line number, text); bad lines are counted, never fatal."""
    rows: list[dict[str, Any]] = []
    for number, line in lines:
        if not line.strip():
            continue
        report.lines += 1
        parsed = parse_line(line)
        if parsed is None:
            report.bad += 1
            if len(report.bad_line_numbers) < 10:
                report.bad_line_numbers.append(number)
            continue
        rows.append(ingester.row(line, parsed, now))
    if rows:
        stored = len(session.execute(INSERT_IGNORE(session), rows).all())
        report.stored += stored
        report.duplicates += len(rows) - stored
    return report


def count_expired(*, session: Session, before: datetime, controller: str | None = None) -> int:
    """Access log lines older than `before` (due for deletion)."""
    stmt = select(func.count()).select_from(LOGS).where(LOGS.c.requested_at < before)
    if controller is not None:
        stmt = stmt.where(LOGS.c.controller == controller)
    return int(session.execute(stmt).scalar_one())


def purge_expired(
    *, session: Session, before: datetime, limit: int = 10_000, controller: str | None = None
) -> int:
    """Delete up to `limit` lines older than `before`; returns how many went."""
    ids = select(LOGS.c.id).where(LOGS.c.requested_at < before)
    if controller is not None:
        ids = ids.where(LOGS.c.controller == controller)
    ids = ids.order_by(LOGS.c.requested_at).limit(limit)
    result = session.execute(
        delete(LOGS).where(LOGS.c.id.in_(ids.scalar_subquery())).execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
