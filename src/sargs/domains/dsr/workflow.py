"""The request workflow as pure rules (R-DSR-2..4): states and transitions, due dates, extensions,
repeat requests and the required content of a request (retailer 3.4.1). No I/O; a fake clock is
all the tests need."""

from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sargs.core.errors import Conflict, InvalidInput
from sargs.domains.policy.schema import Deadlines

KINDS: Final[tuple[str, ...]] = (
    "access",
    "rectification",
    "erasure",
    "restriction",
    "portability",
    "objection",
    "automated_decision_review",
    "consent_withdrawal",
)
# Retailer 3.1.5.1-4: the grounds on which erasure may be asked.
ERASURE_GROUNDS: Final[tuple[str, ...]] = (
    "no_longer_needed",  # 3.1.5.1
    "consent_withdrawn",  # 3.1.5.2
    "unlawful",  # 3.1.5.3
    "legal_obligation",  # 3.1.5.4
)
OBJECTION_SCOPES: Final[tuple[str, ...]] = ("direct_marketing", "legitimate_interest")
CHANNELS: Final[tuple[str, ...]] = ("portal", "in_person", "post", "representative", "email", "api")
# Identity verification per channel (retailer 3.4.2): which methods a channel accepts.
CHANNEL_METHODS: Final[dict[str, tuple[str, ...]]] = {
    "portal": ("portal_session",),
    "in_person": ("id_document", "certified_copy"),  # 3.4.2.1
    "post": ("certified_copy",),  # 3.4.2.2
    "representative": ("authorisation",),  # 3.4.2.3, 3.3
    "email": ("e_signature",),  # 3.4.2.4
    "api": ("id_document", "certified_copy", "e_signature", "portal_session"),
}
# What evidence each method must name.
METHOD_EVIDENCE: Final[dict[str, tuple[str, ...]]] = {
    "portal_session": (),
    "id_document": ("document_type",),
    "certified_copy": ("certified_by",),
    "authorisation": ("representative_name", "representative_kind", "document"),
    "e_signature": ("file_name", "sha256"),
}
REPRESENTATIVE_KINDS: Final[tuple[str, ...]] = ("person", "nonprofit")

STATES: Final[tuple[str, ...]] = (
    "received",
    "on_hold",
    "verified",
    "in_progress",
    "fulfilled",
    "partially_fulfilled",
    "refused",
    "cancelled",
)
FINAL: Final[frozenset[str]] = frozenset({"fulfilled", "partially_fulfilled", "refused", "cancelled"})
OPEN: Final[tuple[str, ...]] = ("received", "on_hold", "verified", "in_progress")
TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    "received": frozenset({"on_hold", "verified", "refused", "cancelled"}),
    "on_hold": frozenset({"received", "verified", "refused", "cancelled"}),
    "verified": frozenset({"in_progress", "on_hold", "refused", "cancelled"}),
    "in_progress": frozenset({"fulfilled", "partially_fulfilled", "refused", "cancelled"}),
}
REPEAT_DECISIONS: Final[tuple[str, ...]] = ("free", "fee", "refuse")


def check_transition(current: str, target: str) -> None:
    """Raise Conflict unless `current -> target` is a step of the workflow."""
    if target not in TRANSITIONS.get(current, frozenset()):
        raise Conflict(f"a request that is {current} cannot become {target}", field="status")


def is_marketing_objection(kind: str, ground: str | None) -> bool:
    return kind == "objection" and ground == "direct_marketing"


def due_date(*, received_at: datetime, kind: str, ground: str | None, deadlines: Deadlines) -> datetime:
    """The answer is due `dsr_response_days` after receipt; a marketing objection within hours (R 3.7)."""
    if is_marketing_objection(kind, ground):
        return received_at + timedelta(hours=deadlines.marketing_objection_hours)
    return received_at + timedelta(days=deadlines.dsr_response_days)


@dataclass(frozen=True)
class Extension:
    days: int
    reason: str
    notified_at: datetime
    notice: str

    def as_json(self) -> dict[str, Any]:
        return {
            "days": self.days,
            "reason": self.reason,
            "notified_at": self.notified_at.isoformat(),
            "notice": self.notice,
        }


def extend(
    *,
    first_due_at: datetime,
    current: dict[str, Any] | None,
    days: int,
    reason: str,
    notice: str,
    now: datetime,
    deadlines: Deadlines,
) -> tuple[datetime, Extension]:
    """The new due date: extending needs a reason and the requester told before the first deadline,
    and all extensions together stay within `dsr_extension_days` (GDPR Art. 12(3))."""
    if now > first_due_at:
        raise Conflict("the first deadline has passed: an extension must be decided and told before it")
    if not reason.strip() or len(reason.strip()) < 4:
        raise InvalidInput("say why the answer needs more time", field="reason")
    if not notice.strip():
        raise InvalidInput("write the notice the requester is sent", field="notice")
    total = days + (int(current["days"]) if current else 0)
    if days <= 0 or total > deadlines.dsr_extension_days:
        raise InvalidInput(
            f"an extension is 1..{deadlines.dsr_extension_days} days in all "
            f"({int(current['days']) if current else 0} already taken)",
            field="days",
        )
    ext = Extension(total, reason.strip(), now, notice.strip())
    return first_due_at + timedelta(days=total), ext


def months_before(moment: datetime, months: int) -> datetime:
    """`moment` minus whole calendar months (the day clamped to the shorter month)."""
    year, month = moment.year, moment.month - months
    while month <= 0:
        month += 12
        year -= 1
    day = min(moment.day, monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def is_repeat(*, previous_received: list[datetime], received_at: datetime, deadlines: Deadlines) -> bool:
    """A second request of the same kind within `repeat_request_months` (retailer 3.6).

    `previous_received`: requests filed before this one. One filed a moment earlier may still read
    a later time (its clock was read before it waited for the database), so no upper bound."""
    if deadlines.repeat_request_months <= 0:
        return False
    since = months_before(received_at, deadlines.repeat_request_months)
    return any(since <= at for at in previous_received)


def check_repeat_decision(decision: str, *, fee: str | None, reason: str | None) -> dict[str, Any]:
    """A DPO's decision on a repeat request: free, a fee (with its amount), or refusal (with reason)."""
    if decision not in REPEAT_DECISIONS:
        raise InvalidInput(f"decision must be one of {', '.join(REPEAT_DECISIONS)}", field="decision")
    if decision == "fee" and not (fee or "").strip():
        raise InvalidInput("name the fee (amount and currency)", field="fee")
    if decision == "refuse" and len((reason or "").strip()) < 4:
        raise InvalidInput("say why the repeat request is refused", field="reason")
    return {
        "decision": decision,
        "fee": (fee or "").strip() or None,
        "reason": (reason or "").strip() or None,
    }


def missing_content(*, channel: str, requester: dict[str, Any], kind: str, details: str) -> list[str]:
    """What retailer 3.4.1 requires and the request lacks: name, residence, contact, the right and
    its scope, and (on paper or by e-mail) the signature. A portal session stands for signature
    and contact; an OpenDSR request comes from a controller's system that already knows the person."""
    missing = []
    for key in ("name", "address") if channel != "api" else ():
        if not str(requester.get(key) or "").strip():
            missing.append(key)
    if channel not in ("portal", "api") and not str(requester.get("contact") or "").strip():
        missing.append("contact")
    if kind not in KINDS:
        missing.append("kind")
    if kind in ("rectification", "restriction", "automated_decision_review") and not details.strip():
        missing.append("details")
    if channel in ("in_person", "post", "representative", "email") and not requester.get("signed"):
        missing.append("signed")
    return missing


def check_evidence(*, channel: str, method: str, evidence: dict[str, Any]) -> dict[str, Any]:
    """The identity-verification evidence for `channel`, checked: the method fits the channel and
    names what it must (a representative: who, person or non-profit body (3.3), which document)."""
    allowed = CHANNEL_METHODS.get(channel, ())
    if method not in allowed:
        raise InvalidInput(
            f"a {channel} request is verified by {' or '.join(allowed) or 'no method'}", field="method"
        )
    clean = {k: str(v).strip()[:300] for k, v in evidence.items() if v is not None and str(v).strip()}
    if any("\x00" in key or "\x00" in value for key, value in clean.items()):
        raise InvalidInput("NUL characters are not accepted in the evidence", field="evidence")
    for key in METHOD_EVIDENCE[method]:
        if not clean.get(key):
            raise InvalidInput(f"{method} needs {key}", field=key)
    if method == "authorisation":
        if clean["representative_kind"] not in REPRESENTATIVE_KINDS:
            raise InvalidInput("representative_kind is person or nonprofit", field="representative_kind")
        if clean["representative_kind"] == "nonprofit" and not clean.get("registration_number"):
            raise InvalidInput(
                "a non-profit body (retailer 3.3) is named with its registration number",
                field="registration_number",
            )
    if method == "e_signature" and len(clean["sha256"]) != 64:
        raise InvalidInput("sha256 is the signed file's 64-hex-digit digest", field="sha256")
    return clean


def opendsr_status(status: str) -> str:
    """Our state as an OpenDSR request_status."""
    if status in ("received", "on_hold", "verified"):
        return "pending"
    if status == "in_progress":
        return "in_progress"
    if status == "cancelled":
        return "cancelled"
    return "completed"
