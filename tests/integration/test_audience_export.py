"""The audience export's fast paths (PostgreSQL's COPY, SQLite's batched CSV, JSON lines written per
batch) stream exactly what the typed rows of `iter_audience` give, written as the export always
wrote them. SQLite, or PostgreSQL with SARGS_TEST_DATABASE_URL."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import insert

from sargs.core.db import table
from sargs.domains.consent.audiences import (
    audience_csv,
    audience_for,
    audience_ndjson,
    iter_audience,
)
from sargs.domains.consent.model import ConsentState
from sargs.domains.subjects.model import Subject, SubjectIdentity
from sargs.entrypoints.container import Container
from tests.conftest import NOW

# Contacts CSV must quote (a comma, a quote, a line break) and one it must not.
TRICKY = ['"quoted",name@example.com', "comma,in@example.com", "line\nbreak@example.com", "+37129999999"]
PEOPLE = 2_500


def load(container: Container) -> None:
    """PEOPLE subjects with a phone; most granted `offers` (some at whole seconds, some withdrawn),
    a few erased (their identities gone, as erasure leaves them)."""
    subjects, identities, states = [], [], []
    for n in range(PEOPLE):
        sid = f"s{n:031d}"
        erased = n % 97 == 5
        # Every 7th at a whole second: isoformat() then writes no fraction.
        since = NOW - timedelta(seconds=n * 13, microseconds=0 if n % 7 == 0 else n * 7919 % 1_000_000)
        subjects.append(
            {"id": sid, "created_at": since, "erased_at": NOW if erased else None, "chain_length": 1}
        )
        if not erased:
            value = TRICKY[n] if n < len(TRICKY) else f"+3712{n:07d}"
            identities.append(
                {"subject_id": sid, "kind": "msisdn", "value": value, "verified": True, "created_at": since}
            )
        status = "withdrawn" if n % 11 == 10 else "granted"
        states.append(
            {"subject_id": sid, "controller": "lmt", "purpose": "offers", "status": status, "since": since,
             "event_id": f"e{n:031d}", "channel": "sms", "updated_at": since}
        )  # fmt: skip
    with container.sessions.begin() as s:
        s.execute(insert(table(Subject)), subjects)
        s.execute(insert(table(SubjectIdentity)), identities)
        s.execute(insert(table(ConsentState)), states)


def as_written_before(container: Container, channel: str | None, fmt: str) -> list[str]:
    """The export's lines as the row-by-row writer made them (the format the API promises)."""
    with container.read_sessions.begin() as s:
        rows = list(
            iter_audience(
                session=s, registry=container.registry, controller="lmt", purpose="offers", channel=channel
            )
        )
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        for row in rows:
            since = row.since.isoformat()
            writer.writerow((row.subject_id, since, row.contact) if channel else (row.subject_id, since))
        return buf.getvalue().splitlines(keepends=True)
    lines = []
    for row in rows:
        doc = {"subject_id": row.subject_id, "since": row.since.isoformat()}
        if channel:
            doc["contact"] = row.contact or ""
        lines.append(json.dumps(doc) + "\n")
    return lines


def exported(container: Container, channel: str | None, fmt: str, chunk_bytes: int = 4096) -> tuple[str, int]:
    """The fast path's whole text and the number of chunks it came in."""
    aud = audience_for(registry=container.registry, controller="lmt", purpose="offers", channel=channel)
    with container.read_sessions.begin() as s:
        chunks: Iterator[bytes] = (
            audience_csv(session=s, audience=aud, chunk_bytes=chunk_bytes)
            if fmt == "csv"
            else audience_ndjson(session=s, audience=aud)
        )
        parts = list(chunks)
    return b"".join(parts).decode(), len(parts)


def csv_records(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


@pytest.mark.parametrize("channel", ["sms", None])
def test_the_streamed_csv_is_line_for_line_what_the_row_by_row_export_wrote(
    container: Container, channel: str | None
) -> None:
    load(container)
    text, chunks = exported(container, channel, "csv")
    header = "subject_id,since,contact\n" if channel else "subject_id,since\n"
    assert text.startswith(header) and chunks > 10
    # Compared as records: a quoted line break splits a line in two when split on "\n".
    got, want = csv_records(text)[1:], csv_records("".join(as_written_before(container, channel, "csv")))
    assert sorted(got) == sorted(want)
    assert sorted(text.splitlines()[1:]) == sorted(
        "".join(as_written_before(container, channel, "csv")).splitlines()
    )
    granted = sum(1 for n in range(PEOPLE) if n % 11 != 10 and n % 97 != 5)
    assert len(got) == granted


def test_csv_quotes_what_it_must_and_reads_back_to_the_stored_contacts(container: Container) -> None:
    load(container)
    text, _ = exported(container, "sms", "csv")
    contacts = {r[2] for r in csv_records(text)[1:]}
    assert set(TRICKY) <= contacts
    assert '"""quoted"",name@example.com"' in text and '"comma,in@example.com"' in text
    assert ",+37129999999\n" in text  # nothing to quote: not quoted


def test_timestamps_are_written_as_isoformat_with_a_fraction_only_when_there_is_one(
    container: Container,
) -> None:
    load(container)
    text, _ = exported(container, None, "csv")
    since = {r[0]: r[1] for r in csv_records(text)[1:]}
    whole = NOW.replace(microsecond=0) - timedelta(seconds=7 * 13)
    assert since[f"s{7:031d}"] == whole.isoformat() and "." not in whole.isoformat()
    fraction = NOW - timedelta(seconds=8 * 13, microseconds=8 * 7919)
    assert since[f"s{8:031d}"] == fraction.isoformat() and "." in fraction.isoformat()


@pytest.mark.parametrize("channel", ["sms", None])
def test_json_lines_are_what_json_dumps_wrote_for_each_row(container: Container, channel: str | None) -> None:
    load(container)
    text, _ = exported(container, channel, "ndjson")
    assert sorted(text.splitlines(keepends=True)) == sorted(as_written_before(container, channel, "ndjson"))


def test_an_export_abandoned_midway_leaves_the_connection_fit_for_the_next(container: Container) -> None:
    load(container)
    aud = audience_for(registry=container.registry, controller="lmt", purpose="offers", channel="sms")
    with container.read_sessions.begin() as s:
        chunks = audience_csv(session=s, audience=aud, chunk_bytes=1024)
        assert next(chunks).startswith(b"subject_id,since,contact\n")
        chunks.close()  # the client went away
    whole, _ = exported(container, "sms", "csv")
    assert len(csv_records(whole)) - 1 == sum(1 for n in range(PEOPLE) if n % 11 != 10 and n % 97 != 5)


def test_an_empty_audience_is_the_header_alone(container: Container) -> None:
    assert exported(container, "sms", "csv") == ("subject_id,since,contact\n", 1)
    assert exported(container, None, "ndjson")[0] == ""
