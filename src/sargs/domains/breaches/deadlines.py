"""The 72-hour clock and the rules of filing, pure (R-BRE-2; GDPR Art. 33(1), 33(4), 34).

The clock runs from the moment the controller became aware of the breach, for the policy's
`deadlines.breach_notification_hours` (72 by default). A breach assessed as unlikely to result in
a risk ("none") needs no notification, and the reasons are kept instead. A notification filed
after the deadline must give the reasons for the delay (Art. 33(1)). Information may be given in
phases (Art. 33(4)): an initial notification, follow-ups, and a final one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from sargs.core.errors import Conflict, InvalidInput
from sargs.core.i18n import Message

Risk = Literal["none", "risk", "high"]
RISKS: Final[tuple[str, ...]] = ("none", "risk", "high")
Phase = Literal["initial", "follow_up", "final"]
PHASES: Final[tuple[str, ...]] = ("initial", "follow_up", "final")
Status = Literal["open", "assessed", "notified", "closed"]
STATUSES: Final[tuple[str, ...]] = ("open", "assessed", "notified", "closed")
# Art. 34(3): when telling the people concerned is not required.
EXEMPTION_GROUNDS: Final[tuple[str, ...]] = (
    "protected_data",  # (a) e.g. encrypted: unintelligible to anyone not authorised
    "risk_removed",  # (b) later measures make the high risk no longer likely
    "disproportionate_effort",  # (c) a public communication informs people as effectively
)
# What the breach did to the data (the supervisory authority's classification, EDPB Guidelines 9/2022).
BREACH_TYPES: Final[tuple[str, ...]] = ("confidentiality", "integrity", "availability")
MIN_REASON: Final[int] = 10

ClockState = Literal["running", "overdue", "met", "late", "not_required"]


@dataclass(frozen=True)
class BreachClock:
    """Where a breach stands against its notification deadline."""

    aware_at: datetime
    due_at: datetime
    state: ClockState
    remaining_seconds: int  # negative once overdue; frozen at filing time once filed

    @property
    def overdue(self) -> bool:
        return self.state in ("overdue", "late")

    def remaining_text(self, language: str = "en") -> str:
        """What a countdown shows: '47 h 12 min', 'overdue by 3 h 05 min', 'overdue by 246 h'."""
        return remaining_text(self.remaining_seconds, language)


# A clock past its deadline reads "overdue by …"; once a day late, the minutes no longer matter.
OVERDUE_BY = Message("breaches.deadlines", "OVERDUE_BY")
HOURS_ONLY_AFTER: Final[int] = 24 * 3600


def span_text(seconds: int) -> str:
    """The length of `seconds` (its sign ignored) as a clock shows it: '47 h 12 min'; a span past a
    deadline (negative) of a day or more in whole hours: '246 h'."""
    span = abs(seconds)
    if seconds < 0 and span >= HOURS_ONLY_AFTER:
        return f"{span // 3600} h"
    return f"{span // 3600} h {span % 3600 // 60:02d} min"


def remaining_text(seconds: int, language: str = "en") -> str:
    """The time left before a deadline (`seconds`, negative once it passed), in lv or en: the one
    formatter of clocks for the console, the CLI and the e-mails (static/breach-clock.js mirrors it)."""
    if seconds >= 0:
        return span_text(seconds)
    return OVERDUE_BY.get(language, OVERDUE_BY["en"]).format(span=span_text(seconds))


def due_at(*, aware_at: datetime, hours: int) -> datetime:
    """When the authority must have been notified: `hours` after the controller became aware."""
    return aware_at + timedelta(hours=hours)


def clock(
    *, aware_at: datetime, hours: int, now: datetime, risk: str | None, first_filed_at: datetime | None
) -> BreachClock:
    """The clock of one breach: running or overdue until the initial filing, then met or late."""
    due = due_at(aware_at=aware_at, hours=hours)
    if risk == "none" and first_filed_at is None:
        return BreachClock(aware_at, due, "not_required", int((due - now).total_seconds()))
    if first_filed_at is not None:
        left = int((due - first_filed_at).total_seconds())
        return BreachClock(aware_at, due, "met" if left >= 0 else "late", left)
    left = int((due - now).total_seconds())
    return BreachClock(aware_at, due, "running" if left >= 0 else "overdue", left)


def check_reasoning(*, risk: str, reasoning: str | None) -> str:
    """A risk level must be one of RISKS and come with its reasoning (kept as the record, Art. 33(5))."""
    if risk not in RISKS:
        raise InvalidInput(f"risk must be one of {', '.join(RISKS)}", field="risk")
    text = (reasoning or "").strip()
    if len(text) < MIN_REASON:
        raise InvalidInput(
            f"give the reasoning for the risk assessment (at least {MIN_REASON} characters)",
            field="reasoning",
        )
    return text


def check_filing(
    *,
    aware_at: datetime,
    hours: int,
    filed_at: datetime,
    phase: str,
    earlier_phases: list[str],
    risk: str | None,
    delay_reasons: str | None,
) -> bool:
    """Whether a filing may be made now; returns True when it is late. Raises naming the problem."""
    if phase not in PHASES:
        raise InvalidInput(f"phase must be one of {', '.join(PHASES)}", field="phase")
    if risk is None:
        raise Conflict("assess the risk before notifying the authority", field="risk")
    if risk == "none":
        raise Conflict(
            "the breach was assessed as unlikely to result in a risk: no notification is needed "
            "(re-assess it first if that has changed)",
            field="risk",
        )
    if filed_at < aware_at:
        raise InvalidInput(
            "a notification cannot be filed before the controller became aware", field="filed_at"
        )
    if "final" in earlier_phases:
        raise Conflict("the final notification was already filed", field="phase")
    if phase == "initial" and "initial" in earlier_phases:
        raise Conflict("the initial notification was already filed; file a follow_up or final", field="phase")
    if phase != "initial" and "initial" not in earlier_phases:
        raise Conflict("file the initial notification first", field="phase")
    late = phase == "initial" and filed_at > due_at(aware_at=aware_at, hours=hours)
    if late and len((delay_reasons or "").strip()) < MIN_REASON:
        raise InvalidInput(
            f"the notification is filed more than {hours} hours after the controller became aware: "
            "give the reasons for the delay (GDPR Art. 33(1))",
            field="delay_reasons",
        )
    return late


def check_exemption(*, ground: str, explanation: str | None) -> str:
    """An Art. 34(3) exemption names its ground and explains it."""
    if ground not in EXEMPTION_GROUNDS:
        raise InvalidInput(f"ground must be one of {', '.join(EXEMPTION_GROUNDS)}", field="ground")
    text = (explanation or "").strip()
    if len(text) < MIN_REASON:
        raise InvalidInput(
            f"explain why the exemption applies (at least {MIN_REASON} characters)", field="explanation"
        )
    return text


def check_close(*, status: str, risk: str | None, phases: list[str], subjects_handled: bool) -> None:
    """A breach closes once assessed and, unless risk is none, notified; high risk also needs people told
    (or an exemption recorded)."""
    if status == "closed":
        raise Conflict("the breach is already closed", field="status")
    if risk is None:
        raise Conflict("assess the risk before closing the breach", field="risk")
    if risk != "none" and not phases:
        raise Conflict("notify the authority before closing the breach", field="status")
    if risk == "high" and not subjects_handled:
        raise Conflict(
            "a high-risk breach closes only after the people concerned were told or an Art. 34(3) "
            "exemption was recorded",
            field="status",
        )
