"""An inbound keyword message becomes a consent event and exactly one reply (R-SMS-1, R-SMS-2).

Everything happens in the caller's transaction: the inbound row (whose unique provider message
id makes a retried delivery change nothing), the subject if the number is new, the consent
event(s) and the queued reply land together or not at all.

What the forms mean (the parser, sargs.domains.sms.keywords, tells them apart):
- KEYWORD grants the purpose that declares it; KEYWORD STOP withdraws it.
- A bare STOP (STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT) withdraws every consent this number
  takes by keyword that is in force, when the number's `bare_stop` is `withdraw_all` (the
  default); with `help` it only answers with help.
- START / UNSTOP grant nothing: consent is given per purpose (GDPR Art. 4(11)), so the reply
  lists the keywords.
- HELP, INFO and anything the parser cannot read unambiguously get the help reply.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from sargs.core.clock import as_utc
from sargs.core.db import PerDialect, table
from sargs.core.errors import InvalidInput
from sargs.core.i18n import LANGUAGES
from sargs.core.ids import new_id
from sargs.domains.consent.service import Actor, current_states, record_consent
from sargs.domains.policy.registry import PolicyRegistry
from sargs.domains.policy.schema import Controller, Policy, Purpose, SmsNumber
from sargs.domains.sms.keywords import Command, KeywordParser, normalise
from sargs.domains.sms.model import SmsInbound, SmsOutbox
from sargs.domains.sms.outbox import enqueue
from sargs.domains.sms.replies import ReplyContext, render_reply
from sargs.domains.subjects.identifiers import make_identity, normalise_msisdn, scrub_identifiers
from sargs.domains.subjects.service import get_or_create_subject

PROVIDERS = ("json", "twilio", "cli")
INBOUND = table(SmsInbound)


def _claim_statement(dialect: str) -> Any:
    stmt = pg_insert(INBOUND) if dialect == "postgresql" else sqlite_insert(INBOUND)
    return stmt.on_conflict_do_nothing(index_elements=["provider", "provider_message_id"]).returning(
        INBOUND.c.id
    )


CLAIM_MESSAGE = PerDialect(_claim_statement)
RECORD_OUTCOME = (
    update(INBOUND)
    .where(INBOUND.c.id == bindparam("inbound_id"))
    .values(
        {
            name: bindparam(name)
            for name in ("subject_id", "command", "keyword", "outcome", "detail", "event_ids", "reply_id")
        }
    )
)
MAX_TEXT = 1600


@dataclass(frozen=True)
class SmsRoute:
    """One configured number: whose consents it takes, by which keyword, and its parser."""

    number: str  # normalised (E.164 where the number is a phone number)
    config: SmsNumber
    policy: Policy
    controller: Controller
    purposes: dict[str, Purpose]  # keyword -> purpose
    parser: KeywordParser


def number_key(raw: str, *, region: str) -> str:
    """A number as the directory keys it: E.164 if it is a phone number, else its digits."""
    try:
        return normalise_msisdn(raw, region=region)
    except InvalidInput:
        return "".join(ch for ch in raw if ch.isdigit())


class SmsDirectory:
    """Every number declared by the loaded policies (their `sms` sections)."""

    def __init__(self, registry: PolicyRegistry, *, region: str = "LV") -> None:
        self.registry, self.region = registry, region
        self._routes: dict[str, SmsRoute] = {}
        for policy in registry.policies:
            for config in policy.sms:
                controller = registry.controller(config.controller)
                key = number_key(config.number, region=controller.country or region)
                if key in self._routes:
                    raise InvalidInput(f"SMS number {config.number!r} is declared twice", field="sms")
                purposes = {
                    p.sms_keyword: p
                    for p in policy.purposes_of(config.controller)
                    if p.sms_keyword is not None
                }
                self._routes[key] = SmsRoute(
                    number=key,
                    config=config,
                    policy=policy,
                    controller=controller,
                    purposes=purposes,
                    parser=KeywordParser(purposes),
                )

    @property
    def routes(self) -> list[SmsRoute]:
        return list(self._routes.values())

    def route(self, to: str) -> SmsRoute:
        """The configured number a message was sent to; an unknown one is InvalidInput."""
        route = self._routes.get(number_key(to, region=self.region))
        if route is None:
            known = ", ".join(r.config.number for r in self._routes.values()) or "none configured"
            raise InvalidInput(f"no policy takes SMS keywords on this number (known: {known})", field="to")
        return route


@dataclass(frozen=True)
class InboundMessage:
    provider: str
    message_id: str
    sender: str
    to: str
    text: str
    received_at: datetime | None = None
    language: str | None = None


@dataclass(frozen=True)
class InboundResult:
    inbound_id: str
    duplicate: bool
    subject_id: str | None
    command: str
    keyword: str | None
    outcome: str  # granted | withdrawn | refused | help
    detail: str | None
    reply_id: str | None
    reply_text: str
    event_ids: list[str] = field(default_factory=list)


def _validate(msg: InboundMessage) -> None:
    if msg.provider not in PROVIDERS:
        raise InvalidInput(f"provider must be one of {', '.join(PROVIDERS)}", field="provider")
    if not 1 <= len(msg.message_id) <= 128 or not msg.message_id.isprintable():
        raise InvalidInput("message_id must be 1 to 128 printable characters", field="message_id")
    if len(msg.text) > MAX_TEXT:
        raise InvalidInput(f"text is longer than {MAX_TEXT} characters", field="text")
    if msg.language is not None and msg.language not in LANGUAGES:
        raise InvalidInput(f"language must be one of {', '.join(LANGUAGES)}", field="language")


def _claim_message(session: Session, row: dict[str, Any]) -> bool:
    """Insert the inbound row unless this provider message was seen; True if it is new.

    On PostgreSQL a concurrent duplicate waits on the unique key until the first commits,
    then finds the row; SQLite serialises writers.
    """
    return session.execute(CLAIM_MESSAGE(session), row).first() is not None


def _replay(session: Session, msg: InboundMessage) -> InboundResult:
    row = session.scalars(
        select(SmsInbound).where(
            SmsInbound.provider == msg.provider, SmsInbound.provider_message_id == msg.message_id
        )
    ).one()
    reply = (
        session.scalar(select(SmsOutbox.text).where(SmsOutbox.id == row.reply_id)) if row.reply_id else None
    )
    return InboundResult(
        inbound_id=row.id,
        duplicate=True,
        subject_id=row.subject_id,
        command=row.command,
        keyword=row.keyword,
        outcome=row.outcome,
        detail=row.detail,
        reply_id=row.reply_id,
        reply_text=reply or "",
        event_ids=list(row.event_ids or []),
    )


def handle_inbound(
    *,
    session: Session,
    directory: SmsDirectory,
    msg: InboundMessage,
    now: datetime,
    clock: Callable[[], datetime] | None = None,
) -> InboundResult:
    """Record one inbound message, its consent event(s) and its one reply; replay a duplicate.

    A message without the provider's `received_at` happens now: `clock` is read again under the
    subject's lock (see record_consent)."""
    _validate(msg)
    route = directory.route(msg.to)
    try:
        identity = make_identity("msisdn", msg.sender, region=route.controller.country)
    except InvalidInput:
        raise InvalidInput("the sender ('from') is not a valid phone number", field="from") from None
    received = min(as_utc(msg.received_at), now) if msg.received_at is not None else now
    inbound_id = new_id()
    fresh = _claim_message(
        session,
        {
            "id": inbound_id,
            "provider": msg.provider,
            "provider_message_id": msg.message_id,
            "controller": route.controller.id,
            "to_number": route.config.number,
            "text": msg.text,
            "received_at": received,
            "recorded_at": now,
            "command": "help",
            "outcome": "pending",
            "event_ids": [],
        },
    )
    if not fresh:
        return _replay(session, msg)

    policy, controller = route.policy, route.controller.id
    subject_id, _ = get_or_create_subject(
        session=session,
        identity=identity,
        controller=controller,
        default_group=policy.default_client_group,
        now=now,
    )
    command = route.parser.parse(msg.text)
    language = msg.language or route.config.language or policy.policy.default_language
    evidence = {
        "sms_inbound_id": inbound_id,
        "provider": msg.provider,
        "provider_message_id": msg.message_id,
        "to": route.config.number,
        "text": scrub_identifiers(normalise(msg.text))[:160],  # chained: no phone or e-mail
    }
    act = _Act(
        session,
        directory,
        route,
        subject_id,
        received if msg.received_at is not None else None,
        now,
        evidence,
        clock,
    )
    outcome, reply_kind, keyword, detail = act.run(command, language)

    context = ReplyContext(
        controller=route.controller.short_name,
        number=route.config.number,
        keywords=tuple(route.purposes),
        keyword=keyword or "",
        groups=act.groups_text,
    )
    reply_text = render_reply(reply_kind, config=route.config, language=language, context=context)
    reply = enqueue(
        session=session,
        to=identity.value,
        text=reply_text,
        kind="reply",
        now=now,
        sender=route.config.number,
        subject_id=subject_id,
        inbound_id=inbound_id,
    )
    reply_id, reply_text = reply.id, reply.text
    session.execute(
        RECORD_OUTCOME,
        {
            "inbound_id": inbound_id,
            "subject_id": subject_id,
            "command": command.kind,
            "keyword": keyword,
            "outcome": outcome,
            "detail": detail[:500] if detail else None,
            "event_ids": act.event_ids,
            "reply_id": reply_id,
        },
    )
    return InboundResult(
        inbound_id=inbound_id,
        duplicate=False,
        subject_id=subject_id,
        command=command.kind,
        keyword=keyword,
        outcome=outcome,
        detail=detail,
        reply_id=reply_id,
        reply_text=reply_text,
        event_ids=act.event_ids,
    )


class _Act:
    """Carries out one parsed command for one subject."""

    def __init__(
        self,
        session: Session,
        directory: SmsDirectory,
        route: SmsRoute,
        subject_id: str,
        occurred_at: datetime | None,
        now: datetime,
        evidence: dict[str, Any],
        clock: Callable[[], datetime] | None,
    ) -> None:
        self.session, self.directory, self.route, self.subject_id = session, directory, route, subject_id
        self.occurred_at, self.now, self.evidence, self.clock = occurred_at, now, evidence, clock
        self.event_ids: list[str] = []
        self.groups_text = ""

    def _record(self, purpose: Purpose, action: str) -> str | None:
        """Write one event; the refusal message if policy does not allow it."""
        outcome = record_consent(
            session=self.session,
            registry=self.directory.registry,
            subject_id=self.subject_id,
            controller=self.route.controller.id,
            purpose=purpose.id,
            action=action,
            channel="sms",
            actor=Actor("subject", self.subject_id),
            now=self.now,
            occurred_at=self.occurred_at,
            evidence=self.evidence,
            clock=self.clock,
            idempotency_key=f"sms:{self.evidence['sms_inbound_id']}:{purpose.id}",
        )
        if outcome.rejection is not None:
            return outcome.rejection.message
        assert outcome.event is not None
        self.event_ids.append(outcome.event.id)
        return None

    def run(self, command: Command, language: str) -> tuple[str, str, str | None, str | None]:
        """(outcome, reply kind, keyword, detail)."""
        if command.kind in ("grant", "withdraw"):
            assert command.keyword is not None
            purpose = self.route.purposes[command.keyword]
            refusal = self._record(purpose, command.kind)
            if refusal is not None:
                titles = {g.id: g.title.get(language) for g in self.route.policy.client_groups}
                self.groups_text = ", ".join(titles.get(g, g) for g in purpose.eligible_groups or [])
                return "refused", "refused", command.keyword, refusal
            done = "granted" if command.kind == "grant" else "withdrawn"
            return done, done, command.keyword, None
        if command.kind == "stop_all" and self.route.config.bare_stop == "withdraw_all":
            in_force = {
                state.purpose
                for state in current_states(
                    session=self.session, subject_id=self.subject_id, controller=self.route.controller.id
                )
                if state.status == "granted"
            }
            withdrawn = [k for k, p in self.route.purposes.items() if p.id in in_force]
            for keyword in withdrawn:
                self._record(self.route.purposes[keyword], "withdraw")
            detail = f"withdrew {', '.join(withdrawn)}" if withdrawn else "no SMS consent was in force"
            return "withdrawn", "stop_all", None, detail
        if command.kind == "start":
            return "help", "start", None, None
        return "help", "help", None, command.reason
