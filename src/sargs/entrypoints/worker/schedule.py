"""Schedules of the periodic jobs, as APScheduler triggers.

Interval triggers start at a fixed epoch, so every worker computes the same slots: two workers
started at different times agree on when "every 5 minutes" falls, and the database decides which
of them runs each slot (sargs.domains.jobs.periodic).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from sargs.core.errors import ConfigurationError

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
_INTERVAL = re.compile(r"^\s*(\d{1,6})\s*(s|m|h)?\s*$")

# Each job's default schedule (SARGS_WORKER_SCHEDULE overrides any of them).
DEFAULTS: dict[str, str] = {
    "sms_send": "2s",  # replies and sign-in codes: seconds matter
    "mail_send": "10s",
    "dsr_callbacks": "1m",
    "dsr_remind": "0 7 * * *",  # every morning, Riga time
    "dsr_purge": "15 3 * * *",  # stored fulfilment results past their retention period (issue 16)
    "breach_alerts": "1m",  # the 24 h and 6 h warnings before the 72-hour deadline
    "policy_review": "0 8 * * *",
    "ledger_verify": "1h",  # incremental: only events since the last checkpoint
    "ledger_verify_full": "0 3 * * 0",  # every chain from its start, Sundays
    "ledger_anchor": "1h",  # a signed anchor outside the database (when a key and a sink are set)
    "retention": "30 2 * * *",  # each source is its own job, under its own lease
    "subjects_sync": "1h",  # each client-group source is its own job (issue 19)
}


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule: the trigger, and the text it came from (for `sargs worker --list`)."""

    text: str
    trigger: BaseTrigger

    def next_after(self, moment: datetime) -> datetime:
        """The first slot strictly after `moment`."""
        nxt = self.trigger.get_next_fire_time(None, moment + timedelta(milliseconds=1))
        assert nxt is not None  # interval and cron triggers without an end always have a next slot
        return nxt.astimezone(UTC)

    def first_due(self, now: datetime) -> datetime:
        """When a new job row is first due: now for intervals (run at start), else the next slot."""
        if isinstance(self.trigger, IntervalTrigger):
            return now
        return self.next_after(now)


def parse(text: str, *, timezone: str) -> Schedule | None:
    """ "30s" / "5m" / "1h" / a bare number of seconds, a 5-field crontab line, or "off" (None)."""
    value = text.strip()
    if value.lower() in ("off", "never", "disabled", ""):
        return None
    match = _INTERVAL.match(value)
    if match:
        n = int(match.group(1))
        seconds = n * {"s": 1, "m": 60, "h": 3600}[match.group(2) or "s"]
        if seconds < 1:
            raise ConfigurationError(f"schedule {text!r}: the interval must be at least 1 second")
        return Schedule(value, IntervalTrigger(seconds=seconds, start_date=EPOCH, timezone=UTC))
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(f"SARGS_WORKER_TIMEZONE: unknown time zone {timezone!r}") from None
    try:
        return Schedule(value, CronTrigger.from_crontab(value, timezone=zone))
    except ValueError as exc:
        raise ConfigurationError(
            f"schedule {text!r} is neither an interval (30s, 5m, 1h) nor a crontab line "
            f"(minute hour day month weekday): {exc}"
        ) from None


def schedules(overrides: dict[str, str], *, timezone: str) -> dict[str, Schedule | None]:
    """Every job's schedule: the defaults with the settings' overrides (unknown job names refused)."""
    unknown = sorted(set(overrides) - set(DEFAULTS))
    if unknown:
        raise ConfigurationError(
            f"SARGS_WORKER_SCHEDULE names unknown job(s) {', '.join(unknown)}; "
            f"the jobs are {', '.join(DEFAULTS)}"
        )
    merged = {**DEFAULTS, **overrides}
    return {name: parse(merged[name], timezone=timezone) for name in DEFAULTS}
