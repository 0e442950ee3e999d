"""Ledger anchors (issue 18): signed checkpoints of the whole ledger, kept outside the database.

Someone with write access to the database can rewrite a chain's tail and recompute its hashes; the
chain alone cannot show that. An anchor can: it is a record of every chain's head (position and
hash) at one moment, reduced to one Merkle root, with the event count, the access log's seal and
the time, signed with an Ed25519 key the database never holds, and sent to a sink the database's
users cannot rewrite (an append-only file, the DPO's mailbox, an HTTP endpoint).

`verify_anchors` checks a sink's anchors against the database: each signature, their order, and
for the last one that the heads stored for it still give its root and that each chain still has,
at its anchored position, the anchored hash. A chain rewritten from any position up to its head
at the last anchor, cut short, or deleted, fails that. Erasure does not: identifiers are outside
the chain (subjects.erasure), and the anchor holds chain ids, which are random, never a phone
number or an e-mail address. The exact formats are in docs/ledger.md.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from sargs.core.db import table
from sargs.core.errors import ConfigurationError, SargsError
from sargs.core.i18n import Message
from sargs.domains.audit.seal import SealPoint, seal_access_log, verify_access_log
from sargs.domains.consent.chain import canonical_json, canonical_time
from sargs.domains.consent.checkpoints import verify_incremental
from sargs.domains.consent.model import ConsentEvent, LedgerAnchor, LedgerAnchorHead
from sargs.domains.subjects.model import Subject

KIND = "sargs-ledger-anchor"
FORMAT = 1
TREE = "rfc6962-sha256"
ANCHORS = table(LedgerAnchor)
HEADS = table(LedgerAnchorHead)
EVENTS = table(ConsentEvent)
SUBJECTS = table(Subject)
STREAM = 10_000
WRITE_BATCH = 5_000
KEY_SETTING = "SARGS_LEDGER_ANCHOR_KEY"

Deliver = Callable[[str], None]


class AnchorFailed(SargsError):
    """An anchor could not be made or delivered (the ledger does not verify, the sink refused)."""

    code = "anchor_failed"


# --- keys -----------------------------------------------------------------------------------------


def _text_or_file(value: str, setting: str) -> str:
    text = value.strip()
    if "\n" not in text and not text.startswith("-----") and len(text) < 1024:
        path = Path(text).expanduser()
        try:
            if path.is_file():
                return path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigurationError(f"{setting}: cannot read {path}: {exc.strerror or exc}") from None
        if text.startswith(("/", "~", "./", "../")):
            raise ConfigurationError(f"{setting}: there is no key file {path}")
    return text


def load_signing_key(value: str | None, *, setting: str = KEY_SETTING) -> Ed25519PrivateKey:
    """The anchor signing key from its setting: PEM, 32 raw bytes in base64, or a file of either."""
    if not value or not value.strip():
        raise ConfigurationError(f"{setting} is not set: make a key with `sargs ledger anchor-key`")
    text = _text_or_file(value, setting)
    try:
        if text.startswith("-----BEGIN"):
            key: Any = serialization.load_pem_private_key(text.encode(), password=None)
        else:
            key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(text, validate=True))
    except (ValueError, TypeError, binascii.Error, UnsupportedAlgorithm):
        key = None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigurationError(
            f"{setting} is not an Ed25519 private key (PEM, its 32 bytes in base64, or a file holding "
            "either); `sargs ledger anchor-key` makes one"
        )
    return key


def load_public_key(value: str) -> Ed25519PublicKey:
    """A verifying key: PEM, 32 raw bytes in base64 (as `anchor-key` prints), or a file of either."""
    text = _text_or_file(value, "the public key")
    try:
        if text.startswith("-----BEGIN"):
            key: Any = serialization.load_pem_public_key(text.encode())
        else:
            key = Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
    except (ValueError, TypeError, binascii.Error, UnsupportedAlgorithm):
        key = None
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigurationError("the public key is not an Ed25519 public key (PEM, or 32 bytes in base64)")
    return key


def public_text(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def key_id(key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw public key, hex: names the key in each anchor."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def new_signing_key() -> tuple[str, str]:
    """A new key: (private key PEM, public key base64)."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return pem, public_text(key.public_key())


# --- the tree -------------------------------------------------------------------------------------


def leaf(chain_id: str, count: int, head: str) -> bytes:
    """A leaf's data: `chain id SP count SP head hash`, ASCII."""
    return f"{chain_id} {count} {head}".encode("ascii")


def merkle_root(leaves: Sequence[bytes]) -> str:
    """RFC 6962 (section 2.1) Merkle Tree Hash with SHA-256, hex: a leaf hashes 0x00 ‖ data, a
    node 0x01 ‖ left ‖ right, the left subtree holding the largest power of two below n leaves.
    Built bottom-up: pairing neighbours and carrying an odd last node up unchanged is that tree."""
    if not leaves:
        return hashlib.sha256(b"").hexdigest()
    level = [hashlib.sha256(b"\x00" + data).digest() for data in leaves]
    while len(level) > 1:
        paired = [
            hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0].hex()


def heads_root(heads: Iterable[tuple[str, int, str]]) -> str:
    """The root over chain heads (chain id, count, head), leaves in chain id order."""
    return merkle_root([leaf(*h) for h in sorted(heads)])


# --- making anchors -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Anchor:
    id: int
    line: str  # the signed JSON record, as the sink receives it
    chains: int
    events: int
    root: str
    access: SealPoint


def sign_record(record: dict[str, Any], key: Ed25519PrivateKey) -> str:
    """The record with its signature: Ed25519 over the RFC 8785 JSON of the record without it."""
    signature = base64.b64encode(key.sign(canonical_json(record))).decode()
    return canonical_json({**record, "signature": signature}).decode()


def _anchored_heads(session: Session, upto: int | None = None) -> dict[str, tuple[int, str]]:
    """Chain id -> (count, head) as of anchor `upto` (the latest when None)."""
    stmt = select(HEADS.c.subject_id, HEADS.c.chain_seq, HEADS.c.head)
    if upto is not None:
        stmt = stmt.where(HEADS.c.anchor_id <= upto)
    heads: dict[str, tuple[int, str]] = {}
    for sid, seq, head in session.execute(
        stmt.order_by(HEADS.c.subject_id, HEADS.c.anchor_id).execution_options(yield_per=STREAM)
    ):
        heads[sid] = (seq, head)
    return heads


def make_anchor(*, session: Session, key: Ed25519PrivateKey, now: datetime, sink: str) -> Anchor:
    """Verify the ledger (incrementally), seal the access log, and record a signed anchor of every
    chain head in the caller's transaction; it still has to be delivered (`deliver_pending`)."""
    report = verify_incremental(session=session, now=now)
    if not report.ok:
        raise AnchorFailed(
            f"the ledger does not verify ({len(report.problems)} problems): not anchoring it; "
            "see `sargs ledger verify --full`"
        )
    access = seal_access_log(session=session, now=now)
    previous = _anchored_heads(session)
    heads = [
        (r.id, r.chain_length, r.chain_head)
        for r in session.execute(
            select(SUBJECTS.c.id, SUBJECTS.c.chain_length, SUBJECTS.c.chain_head)
            .where(SUBJECTS.c.chain_length > 0)
            .execution_options(yield_per=STREAM)
        )
    ]
    anchor_id = session.execute(
        insert(ANCHORS).returning(ANCHORS.c.id),
        {
            "at": now,
            "events": sum(h[1] for h in heads),
            "chains": len(heads),
            "root": "",
            "audit_upto": access.upto,
            "audit_head": access.hash,
            "key_id": "",
            "sink": sink,
            "record": "",
        },
    ).scalar_one()
    moved = [
        {"subject_id": sid, "anchor_id": anchor_id, "chain_seq": count, "head": head}
        for sid, count, head in heads
        if previous.get(sid) != (count, head)
    ]
    for i in range(0, len(moved), WRITE_BATCH):
        session.execute(insert(HEADS), moved[i : i + WRITE_BATCH])
    root = heads_root(heads)
    public = key.public_key()
    record = {
        "kind": KIND,
        "format": FORMAT,
        "anchor": anchor_id,
        "at": canonical_time(now),
        "chains": len(heads),
        "events": sum(h[1] for h in heads),
        "tree": TREE,
        "root": root,
        "access_log": {"upto": access.upto, "rows": access.rows, "hash": access.hash},
        "key_id": key_id(public),
    }
    line = sign_record(record, key)
    session.execute(
        update(ANCHORS)
        .where(ANCHORS.c.id == anchor_id)
        .values(root=root, key_id=record["key_id"], record=line)
    )
    return Anchor(anchor_id, line, len(heads), int(record["events"]), root, access)


def deliver_pending(*, sessions: sessionmaker[Session], deliver: Deliver, now: Callable[[], datetime]) -> int:
    """Send every anchor not yet delivered to the sink, oldest first, each marked sent once the
    sink took it; how many. A sink that fails stops the run (the next run sends it again, so a
    file may hold a line twice: verification takes identical lines as one)."""
    with sessions() as session:
        pending = list(
            session.execute(
                select(ANCHORS.c.id, ANCHORS.c.record)
                .where(ANCHORS.c.sent_at.is_(None))
                .order_by(ANCHORS.c.id)
            )
        )
    sent = 0
    for anchor_id, line in pending:
        try:
            deliver(line)
        except (OSError, SargsError) as exc:
            raise AnchorFailed(f"anchor {anchor_id} could not be delivered: {exc}") from None
        with sessions.begin() as session:
            session.execute(update(ANCHORS).where(ANCHORS.c.id == anchor_id).values(sent_at=now()))
        sent += 1
    return sent


def mark_sent(*, session: Session, anchor_id: int, now: datetime) -> None:
    session.execute(update(ANCHORS).where(ANCHORS.c.id == anchor_id).values(sent_at=now))


class FileSink:
    """Appends each anchor as one line to a file, synced to disk before it counts as delivered."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __call__(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as out:
            out.write(line + "\n")
            out.flush()
            os.fsync(out.fileno())


SinkKind = Literal["file", "mail", "http"]


def parse_sink(spec: str | None) -> tuple[SinkKind, str]:
    """`file:PATH`, `mail`, or an `http(s)://` URL (SARGS_LEDGER_ANCHOR_SINK)."""
    value = (spec or "").strip()
    if value.startswith("file:") and value[5:].strip():
        return "file", value[5:].strip()
    if value == "mail":
        return "mail", ""
    if value.startswith(("https://", "http://")):
        return "http", value
    raise ConfigurationError(
        "SARGS_LEDGER_ANCHOR_SINK must be file:/path/anchors.jsonl, mail, or an https:// URL"
        + (f" (it is {value!r})" if value else " (it is not set)")
    )


# --- verifying against anchors --------------------------------------------------------------------

Finding = Literal[
    "unreadable", "signature", "order", "heads", "rewritten", "truncated", "deleted", "removed", "access_log"
]


@dataclass(frozen=True)
class AnchorProblem:
    kind: Finding
    detail: str
    chain: str | None = None

    def __str__(self) -> str:
        return f"chain {self.chain}: {self.detail}" if self.chain else self.detail


@dataclass
class AnchorReport:
    anchors: int = 0  # valid signed anchors read
    checked: int | None = None  # the anchor the database was checked against (the last)
    chains: int = 0
    events: int = 0
    findings: list[AnchorProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def problems(self) -> list[str]:
        return [str(f) for f in self.findings]


def read_anchors(
    lines: Iterable[str], public: Ed25519PublicKey, report: AnchorReport
) -> list[dict[str, Any]]:
    """The signed anchors among `lines` whose signature verifies with `public`, in line order
    (identical repeated lines once); any other line that looks like JSON is a finding."""
    mine = key_id(public)
    anchors: list[dict[str, Any]] = []
    seen: dict[int, str] = {}
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line.startswith("{"):
            continue  # blank, or the text around anchors pasted from e-mails
        try:
            record = json.loads(line)
            signature = base64.b64decode(record.pop("signature"), validate=True)
            if record.get("kind") != KIND or not isinstance(record.get("anchor"), int):
                raise ValueError
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
            report.findings.append(AnchorProblem("unreadable", f"line {number} is not a Sargs ledger anchor"))
            continue
        if record.get("key_id") != mine:
            report.findings.append(
                AnchorProblem(
                    "signature", f"line {number} (anchor {record['anchor']}) is signed by another key"
                )
            )
            continue
        try:
            public.verify(signature, canonical_json(record))
        except InvalidSignature:
            report.findings.append(
                AnchorProblem(
                    "signature",
                    f"line {number} (anchor {record['anchor']}): the signature does not verify (altered)",
                )
            )
            continue
        if seen.get(record["anchor"]) == line:
            continue  # delivered twice
        seen[record["anchor"]] = line
        if anchors and (
            record["anchor"] <= anchors[-1]["anchor"]
            or record["events"] < anchors[-1]["events"]
            or record["chains"] < anchors[-1]["chains"]
        ):
            report.findings.append(
                AnchorProblem(
                    "order",
                    f"anchor {record['anchor']} (line {number}) does not follow anchor {anchors[-1]['anchor']}: "
                    "anchors go up, and so do their chain and event counts",
                )
            )
        anchors.append(record)
    report.anchors = len(anchors)
    return anchors


def verify_anchors(*, session: Session, lines: Iterable[str], public: Ed25519PublicKey) -> AnchorReport:
    """Check the ledger and the access log against the last of the signed anchors in `lines`."""
    report = AnchorReport()
    anchors = read_anchors(lines, public, report)
    if not anchors:
        if not report.findings:
            report.findings.append(AnchorProblem("unreadable", "no anchors to verify against"))
        return report
    last = anchors[-1]
    report.checked, report.chains, report.events = last["anchor"], last["chains"], last["events"]
    _check_heads(session, last, report)
    total = session.scalar(select(func.count()).select_from(EVENTS)) or 0
    if total < last["events"]:
        report.findings.append(
            AnchorProblem(
                "removed", f"the ledger holds {total} events, fewer than the {last['events']} anchored"
            )
        )
    _check_access_log(session, last, report)
    return report


def _check_heads(session: Session, anchor: dict[str, Any], report: AnchorReport) -> None:
    rows = session.execute(
        select(HEADS.c.subject_id, HEADS.c.chain_seq, HEADS.c.head, EVENTS.c.hash)
        .select_from(HEADS)
        .outerjoin(
            EVENTS, and_(EVENTS.c.subject_id == HEADS.c.subject_id, EVENTS.c.chain_seq == HEADS.c.chain_seq)
        )
        .where(HEADS.c.anchor_id <= anchor["anchor"])
        .order_by(HEADS.c.subject_id, HEADS.c.anchor_id)
        .execution_options(yield_per=STREAM)
    )
    latest: dict[str, tuple[int, str, str | None]] = {}
    for sid, count, head, stored in rows:
        latest[sid] = (count, head, stored)
    root = merkle_root([leaf(sid, count, head) for sid, (count, head, _) in sorted(latest.items())])
    if root != anchor["root"] or len(latest) != anchor["chains"]:
        report.findings.append(
            AnchorProblem(
                "heads",
                f"the chain heads stored for anchor {anchor['anchor']} do not give its signed root "
                f"({len(latest)} chains, the anchor has {anchor['chains']}): ledger_anchor_heads was "
                "altered or removed, so chains cannot be checked against this anchor",
            )
        )
        return
    gone = [sid for sid, (_, head, stored) in latest.items() if stored is None]
    held = _event_counts(session, gone)
    for sid, (count, head, stored) in latest.items():
        if stored == head:
            continue
        if stored is not None:
            report.findings.append(
                AnchorProblem(
                    "rewritten",
                    f"event #{count} is not the one anchored (its hash differs): the chain was "
                    f"rewritten at or before #{count}",
                    sid,
                )
            )
        elif held.get(sid):
            report.findings.append(
                AnchorProblem(
                    "truncated",
                    f"the chain was cut short: {count} events anchored, event #{count} is gone",
                    sid,
                )
            )
        else:
            report.findings.append(
                AnchorProblem("deleted", f"the chain is gone: {count} events anchored, none left", sid)
            )


def _event_counts(session: Session, subject_ids: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for i in range(0, len(subject_ids), 500):
        part = subject_ids[i : i + 500]
        for sid, n in session.execute(
            select(EVENTS.c.subject_id, func.count())
            .where(EVENTS.c.subject_id.in_(part))
            .group_by(EVENTS.c.subject_id)
        ):
            counts[sid] = n
    return counts


def _check_access_log(session: Session, anchor: dict[str, Any], report: AnchorReport) -> None:
    sealed = anchor.get("access_log") or {}
    upto, rows, running = sealed.get("upto", 0), sealed.get("rows", 0), sealed.get("hash")
    audit = verify_access_log(session=session, upto=upto)
    for problem in audit.problems:
        report.findings.append(AnchorProblem("access_log", problem))
    if (audit.rows, audit.hash) != (rows, running):
        report.findings.append(
            AnchorProblem(
                "access_log",
                f"the access log up to row {upto} is not the one anchored ({audit.rows} rows, "
                f"{rows} anchored): rows were altered, removed or put in",
            )
        )


# --- one anchoring run (the CLI's `ledger anchor` and the worker's ledger_anchor job) ---------------

MAIL_SUBJECT = Message("consent.anchors", "MAIL_SUBJECT")
MAIL_INTRO = Message("consent.anchors", "MAIL_INTRO")


def queue_anchor_mail(
    *, session: Session, registry: Any, anchor: Anchor, now: datetime, configured: Sequence[str] = ()
) -> int:
    """E-mail the anchor to every company's DPO through the outbox (once per anchor); how many."""
    from sargs.domains.alerts.service import in_languages, languages, recipients, send_once

    queued = 0
    for policy in registry.policies:
        language = policy.policy.default_language
        for controller in policy.controllers:
            fields = {
                "name": controller.short_name,
                "anchor": anchor.id,
                "chains": anchor.chains,
                "events": anchor.events,
            }
            parts = [MAIL_INTRO[lang].format(**fields) + "\n\n" + anchor.line for lang in languages(language)]
            if send_once(
                session=session,
                key=f"anchor:{anchor.id}:{controller.id}",
                kind="ledger_anchor",
                to=recipients(controller, configured),
                subject=MAIL_SUBJECT[language].format(**fields),
                text=in_languages(parts),
                now=now,
                controller=controller.id,
            ):
                queued += 1
    return queued


@dataclass(frozen=True)
class AnchorRun:
    anchor: Anchor
    delivered: int  # anchors sent to the sink in this run (earlier undelivered ones included)


def anchor_ledger(
    *,
    sessions: sessionmaker[Session],
    registry: Any,
    key: Ed25519PrivateKey,
    sink: SinkKind,
    deliver: Deliver | None,
    now: Callable[[], datetime],
    configured: Sequence[str] = (),
    snapshot: bool = False,
) -> AnchorRun:
    """Make an anchor and send it: to the DPOs' mail in the same transaction, else (file, http)
    after it commits, together with any earlier anchor whose delivery failed."""
    with sessions.begin() as session:
        if snapshot:  # PostgreSQL: verify and anchor one consistent snapshot
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        moment = now()
        anchor = make_anchor(session=session, key=key, now=moment, sink=sink)
        if sink == "mail":
            if not queue_anchor_mail(
                session=session, registry=registry, anchor=anchor, now=moment, configured=configured
            ):
                raise AnchorFailed("no company has a DPO or contact e-mail address to send the anchor to")
            mark_sent(session=session, anchor_id=anchor.id, now=moment)
    delivered = 1 if sink == "mail" else 0
    if deliver is not None:
        delivered = deliver_pending(sessions=sessions, deliver=deliver, now=now)
    return AnchorRun(anchor, delivered)
