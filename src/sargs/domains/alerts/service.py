"""Sending a staff alert once: claim its key, then queue its e-mails, in the caller's transaction.

`claim` inserts the key with ON CONFLICT DO NOTHING. Two workers racing for one key both try the
insert; the database lets one win and the other (on PostgreSQL it waits for the winner's commit)
sees a conflict and queues nothing. A rolled-back transaction takes its claim with it, so an alert
whose e-mail was never queued is tried again on the next run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from sargs.core.db import PerDialect, table
from sargs.domains.alerts.model import StaffAlert
from sargs.domains.mail import outbox
from sargs.domains.policy.schema import Controller

ALERTS = table(StaffAlert)
KEY_LENGTH = 200
# Where a company's staff read local time; by the controller's country, UTC for any other.
ZONES = {"LV": "Europe/Riga", "EE": "Europe/Tallinn", "LT": "Europe/Vilnius", "FI": "Europe/Helsinki"}


def _claim_statement(dialect: str) -> Any:
    stmt = pg_insert(ALERTS) if dialect == "postgresql" else sqlite_insert(ALERTS)
    return stmt.on_conflict_do_nothing(index_elements=[ALERTS.c.key]).returning(ALERTS.c.key)


CLAIM = PerDialect(_claim_statement)


def recipients(controller: Controller, configured: Sequence[str] = ()) -> tuple[str, ...]:
    """Who hears of a company's alerts: the configured staff (an entry `company:address` is for that
    company only; a bare address for every company), else its DPO, else its contact e-mail."""
    mine = []
    for entry in configured:
        company, sep, address = entry.rpartition(":")
        if not sep or company == controller.id:
            mine.append(address)
    if mine:
        return tuple(mine)
    for contact in (controller.dpo, controller.contact):
        if contact is not None and contact.email:
            return (contact.email,)
    return ()


def local_zone(controller: Controller) -> tzinfo:
    """The time zone a company's staff read deadlines in (Europe/Riga for LV); UTC if unknown."""
    name = ZONES.get(controller.country.upper())
    if name is None:
        return UTC
    try:
        return ZoneInfo(name)
    except ZoneInfoNotFoundError:  # no tz database on this machine
        return UTC


def local_time(at: datetime, zone: tzinfo) -> str:
    """'2026-11-23 12:00 EET' (or '… UTC')."""
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def one_line(text: str, limit: int = 120) -> str:
    """Staff-entered text made fit for a subject line: one line, at most `limit` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def claim(
    *,
    session: Session,
    key: str,
    kind: str,
    now: datetime,
    controller: str | None = None,
    recipients: int = 0,
) -> bool:
    """Record alert `key` in the caller's transaction; False if it was already sent (or is being sent)."""
    if len(key) > KEY_LENGTH:  # long policy ids and versions: keep the start readable, make it unique
        key = key[: KEY_LENGTH - 65] + ":" + hashlib.sha256(key.encode()).hexdigest()
    row = session.execute(
        CLAIM(session),
        {"key": key, "kind": kind, "controller": controller, "recipients": recipients, "created_at": now},
    ).first()
    return row is not None


def send_once(
    *,
    session: Session,
    key: str,
    kind: str,
    to: Sequence[str],
    subject: str,
    text: str,
    now: datetime,
    controller: str | None = None,
) -> bool:
    """Claim `key` and queue the e-mail to each of `to`; False (nothing queued) if already sent or
    there is nobody to tell (then it is tried again next time)."""
    if not to:
        return False
    if not claim(session=session, key=key, kind=kind, now=now, controller=controller, recipients=len(to)):
        return False
    for address in to:
        outbox.enqueue(
            session=session,
            to=address,
            subject=subject,
            text=text,
            kind="notice",
            now=now,
            controller=controller,
        )
    return True


def languages(language: str) -> tuple[str, ...]:
    """The languages a staff e-mail is written in: the company's, then English (once if the same)."""
    return tuple(dict.fromkeys((language, "en")))


def in_languages(parts: Sequence[str]) -> str:
    """One e-mail text from its parts, one per language of `languages`, divided by a rule."""
    return "\n\n---\n\n".join(parts) + "\n"
