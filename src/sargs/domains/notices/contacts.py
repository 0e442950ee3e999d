"""Whom a notice reaches: identities resolved to one person and one channel, a batch at a time.

A person Sargs knows is keyed by subject id (so a phone and an e-mail of the same person are one
person) and reached by phone when they have one, else by e-mail. A person only a data source knows
is reached at the identity found there. Keys are keyed hashes: the notice tables hold no contact
details.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from sargs.domains.subjects.identifiers import Identity
from sargs.domains.subjects.model import SubjectIdentity


@dataclass(frozen=True)
class Reach:
    """One person to tell: a stable key, the channel (sms, email, or none) and the address."""

    key: str
    channel: str
    address: str | None
    subject_id: str | None


def person_key(secret: bytes, value: str) -> str:
    """A keyed hash naming a person in notice tables without holding their contact details."""
    return hmac.new(secret, value.encode(), hashlib.sha256).hexdigest()


def _pick(identities: list[tuple[str, str]]) -> tuple[str, str | None]:
    by_kind = dict(sorted(identities))
    if "msisdn" in by_kind:
        return "sms", by_kind["msisdn"]
    if "email" in by_kind:
        return "email", by_kind["email"]
    return "none", None


def contacts_of_subjects(*, session: Session, subject_ids: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
    """(kind, value) identities of each subject, in one query."""
    out: dict[str, list[tuple[str, str]]] = defaultdict(list)
    if subject_ids:
        rows = session.execute(
            select(SubjectIdentity.subject_id, SubjectIdentity.kind, SubjectIdentity.value).where(
                SubjectIdentity.subject_id.in_(list(subject_ids))
            )
        )
        for sid, kind, value in rows:
            out[sid].append((kind, value))
    return out


def reach_subjects(*, session: Session, subject_ids: Sequence[str], secret: bytes) -> list[Reach]:
    """How to reach each of these Sargs subjects (phone first, then e-mail)."""
    contacts = contacts_of_subjects(session=session, subject_ids=subject_ids)
    out = []
    for sid in dict.fromkeys(subject_ids):
        channel, address = _pick(contacts.get(sid, []))
        out.append(Reach(person_key(secret, "subject:" + sid), channel, address, sid))
    return out


def reach_identities(*, session: Session, identities: Sequence[Identity], secret: bytes) -> list[Reach]:
    """How to reach the people holding these identities; one Reach per person, in first-seen order."""
    pairs: list[tuple[str, str]] = list(dict.fromkeys((str(i.kind), i.value) for i in identities))
    known: dict[tuple[str, str], str] = {}
    by_kind: dict[str, list[str]] = defaultdict(list)
    for kind, value in pairs:
        by_kind[kind].append(value)
    for kind_name, values in by_kind.items():  # kind = ? AND value IN (...): the (kind, value) index
        rows = session.execute(
            select(SubjectIdentity.value, SubjectIdentity.subject_id).where(
                SubjectIdentity.kind == kind_name, SubjectIdentity.value.in_(values)
            )
        )
        known.update({(kind_name, v): sid for v, sid in rows})
    contacts = contacts_of_subjects(session=session, subject_ids=sorted(set(known.values())))
    seen: set[str] = set()
    out = []
    for kind, value in pairs:
        sid = known.get((kind, value))
        if sid is not None:
            key = person_key(secret, "subject:" + sid)
            channel, address = _pick(contacts.get(sid, []))
        else:
            key = person_key(secret, f"{kind}:{value}")
            channel, address = _pick([(kind, value)])
        if key in seen:
            continue
        seen.add(key)
        out.append(Reach(key, channel, address, sid))
    return out
