"""Who may be contacted now for a purpose (R-CON-6), streamed in batches.

`iter_audience` yields typed rows (for Sargs' own use, e.g. a mail campaign); `audience_csv` and
`audience_ndjson` yield the export's bytes in large chunks, with the timestamps formatted by the
database: on PostgreSQL the CSV is the database's own `COPY (SELECT …) TO STDOUT WITH (FORMAT csv)`.
Both stream from one read transaction (the caller's session) and hold one chunk at a time.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from json.encoder import encode_basestring_ascii
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Select, String, case, func, literal, select, type_coerce
from sqlalchemy.orm import Session

from sargs.core.db import table
from sargs.core.errors import InvalidInput
from sargs.domains.consent.model import ConsentState
from sargs.domains.policy.registry import PolicyRegistry
from sargs.domains.subjects.model import Subject, SubjectIdentity

# Contact channel -> the identity it needs.
CHANNEL_IDENTITY = {"sms": "msisdn", "phone": "msisdn", "email": "email"}
# Bytes handed on at a time: large enough that the per-chunk costs (a thread hand-off, a socket
# write) vanish beside the rows, small enough that memory stays flat whatever the audience's size.
CHUNK_BYTES = 256 * 1024
BATCH_ROWS = 10_000


class AudienceRow(NamedTuple):
    subject_id: str
    since: datetime
    contact: str | None


@dataclass(frozen=True)
class Audience:
    """A checked audience request: consent-based purpose, and a channel it allows (or none)."""

    controller: str
    purpose: str
    channel: str | None

    @property
    def with_contact(self) -> bool:
        return self.channel is not None

    @property
    def columns(self) -> tuple[str, ...]:
        return ("subject_id", "since", "contact") if self.with_contact else ("subject_id", "since")


def audience_for(
    *, registry: PolicyRegistry, controller: str, purpose: str, channel: str | None = None
) -> Audience:
    """The audience for `purpose` over `channel`, or InvalidInput saying why it has none."""
    purpose_def = registry.purpose(controller, purpose)
    if not purpose_def.needs_consent:
        raise InvalidInput(f"purpose {purpose!r} is not consent-based; it has no audience", field="purpose")
    if channel is not None:
        if channel not in purpose_def.contact_channels:
            allowed = ", ".join(purpose_def.contact_channels) or "none"
            raise InvalidInput(
                f"purpose {purpose!r} does not allow contact over {channel!r} (allowed: {allowed})",
                field="channel",
            )
        if channel not in CHANNEL_IDENTITY:
            raise InvalidInput(
                f"Sargs holds no {channel!r} addresses to build this audience", field="channel"
            )
    return Audience(controller, purpose, channel)


def _statement(aud: Audience, since: Any = None, contact: Any = None) -> Select[Any]:
    """Core statement on the tables (no ORM row handling for a million rows); `since`, `contact`:
    what to select for the consent's time and the contact, given the column (default: the column)."""
    states, subjects, identities = table(ConsentState), table(Subject), table(SubjectIdentity)
    since_col = states.c.since if since is None else since(states.c.since)
    contact_col = identities.c.value if contact is None else contact(identities.c.value)
    base = [
        states.c.controller == aud.controller,
        states.c.purpose == aud.purpose,
        states.c.status == "granted",
    ]
    if aud.channel is None:
        return (
            select(states.c.subject_id, since_col)
            .join(subjects, subjects.c.id == states.c.subject_id)
            .where(*base, subjects.c.erased_at.is_(None))
        )
    # Erasure deletes a subject's identities, so the join to the contact leaves the erased out.
    return (
        select(states.c.subject_id, since_col, contact_col)
        .join(
            identities,
            (identities.c.subject_id == states.c.subject_id)
            & (identities.c.kind == CHANNEL_IDENTITY[aud.channel]),
        )
        .where(*base)
    )


def iter_audience(
    *,
    session: Session,
    registry: PolicyRegistry,
    controller: str,
    purpose: str,
    channel: str | None = None,
    batch_size: int = BATCH_ROWS,
) -> Iterator[AudienceRow]:
    """Every subject with consent in force now, with the contact for `channel` when given."""
    aud = audience_for(registry=registry, controller=controller, purpose=purpose, channel=channel)
    return _iter_rows(session, aud, batch_size)


def _iter_rows(session: Session, aud: Audience, batch_size: int) -> Iterator[AudienceRow]:
    for row in session.execute(_statement(aud).execution_options(yield_per=batch_size)):
        yield AudienceRow(row[0], row[1], row[2] if aud.with_contact else None)


def _iso_utc(dialect: str) -> Any:
    """SQL for a stored UTC time as Python's `datetime.isoformat()` writes it (the export's format:
    `2026-12-07T12:00:00.123456+00:00`, no fraction when it is zero), so no row is formatted in Python."""

    def build(col: ColumnElement[Any]) -> ColumnElement[str]:
        if dialect == "postgresql":
            utc = func.timezone(literal("UTC"), col)
            fraction = func.to_char(utc, literal(".US"), type_=String())
            return (
                func.to_char(utc, literal('YYYY-MM-DD"T"HH24:MI:SS'), type_=String())
                + case((fraction == literal(".000000"), literal("")), else_=fraction)
                + literal("+00:00")
            )
        # SQLite holds naive UTC text as SQLAlchemy writes it: "2026-12-07 12:00:00.123456".
        text = type_coerce(col, String())
        fraction = func.substr(text, 20, type_=String())
        return (
            func.substr(text, 1, 10, type_=String())
            + literal("T")
            + func.substr(text, 12, 8, type_=String())
            + case((fraction.in_(["", ".000000"]), literal("")), else_=fraction)
            + literal("+00:00")
        )

    return build


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _text_rows(session: Session, aud: Audience, batch_size: int) -> Iterator[Sequence[Any]]:
    """Batches of (subject_id, since as text, [contact]) from a streamed (server-side) cursor."""
    stmt = _statement(aud, since=_iso_utc(_dialect(session)))
    result = session.execute(stmt.execution_options(yield_per=batch_size))
    yield from result.partitions()


def _copy_csv(session: Session, aud: Audience, chunk_bytes: int) -> Iterator[bytes] | None:
    """The CSV rows as PostgreSQL writes them (COPY … TO STDOUT), through the session's own
    connection and transaction; None when the connection cannot (not psycopg, not UTF-8)."""
    conn = session.connection()
    raw = conn.connection.driver_connection
    if conn.dialect.driver != "psycopg" or raw is None or raw.info.encoding != "utf-8":
        return None
    # An empty contact is written empty, as Python's csv module writes it (COPY would write "").
    stmt = _statement(aud, since=_iso_utc("postgresql"), contact=lambda col: func.nullif(col, literal("")))
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    sql = f"COPY ({compiled}) TO STDOUT WITH (FORMAT csv)"

    def chunks() -> Iterator[bytes]:
        with raw.cursor() as cur, cur.copy(sql, compiled.params) as copy:
            parts: list[Any] = []
            size = 0
            for data in copy:
                parts.append(data)
                size += len(data)
                if size >= chunk_bytes:
                    yield b"".join(parts)
                    parts.clear()
                    size = 0
            if parts:
                yield b"".join(parts)

    return chunks()


def _sqlite_csv(session: Session, aud: Audience, batch_size: int) -> Iterator[str]:
    """The CSV rows as SQLite writes them, one line per row (quoted where a field holds a comma,
    a quote or a line break, as csv.writer quotes), read from the session's own connection."""
    conn = session.connection()
    sub = _statement(aud, since=_iso_utc("sqlite")).subquery()

    def field(col: ColumnElement[Any]) -> ColumnElement[str]:
        text = type_coerce(col, String())
        needs_quotes = text.op("GLOB", is_comparison=True)(literal('*[",\n\r]*'))
        quoted = literal('"') + func.replace(text, literal('"'), literal('""'), type_=String()) + literal('"')
        return case((needs_quotes, quoted), else_=text)

    fields = [field(col) for col in sub.c]
    line = fields[0]
    for f in fields[1:]:
        line = line + literal(",") + f
    compiled = select(line + literal("\n")).compile(
        dialect=conn.dialect, compile_kwargs={"render_postcompile": True}
    )
    params = compiled.construct_params()
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(str(compiled), [params[name] for name in compiled.positiontup or ()])
        while rows := cursor.fetchmany(batch_size):
            yield "".join([row[0] for row in rows])
    finally:
        cursor.close()


def audience_csv(*, session: Session, audience: Audience, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """The audience as UTF-8 CSV with a header line, in chunks of about `chunk_bytes`."""
    header = (",".join(audience.columns) + "\n").encode()
    if _dialect(session) == "postgresql" and (copied := _copy_csv(session, audience, chunk_bytes)):
        # The query runs before the header is handed on, so a failing database is an error, not a
        # stream that breaks after its first line.
        first = next(copied, b"")
        yield header + first
        yield from copied
        return
    if _dialect(session) == "sqlite":
        # About a chunk's worth of rows at a time (a row is some 60 bytes).
        lines = _sqlite_csv(session, audience, max(1, min(BATCH_ROWS, chunk_bytes // 64)))
        first_lines = next(lines, "")
        yield (header.decode() + first_lines).encode()
        for text in lines:
            yield text.encode()
        return
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    buf.write(header.decode())
    for rows in _text_rows(session, audience, max(1, min(BATCH_ROWS, chunk_bytes // 64))):
        writer.writerows(rows)
        if buf.tell() >= chunk_bytes:
            yield buf.getvalue().encode()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue().encode()


def audience_ndjson(*, session: Session, audience: Audience) -> Iterator[bytes]:
    """The audience as JSON lines (`json.dumps` of each row's object), one chunk per batch of rows."""
    q = encode_basestring_ascii  # what json.dumps writes for a string
    for rows in _text_rows(session, audience, BATCH_ROWS):
        if audience.with_contact:
            lines = [
                f'{{"subject_id": {q(r[0])}, "since": {q(r[1])}, "contact": {q(r[2] or "")}}}\n' for r in rows
            ]
        else:
            lines = [f'{{"subject_id": {q(r[0])}, "since": {q(r[1])}}}\n' for r in rows]
        yield "".join(lines).encode()
