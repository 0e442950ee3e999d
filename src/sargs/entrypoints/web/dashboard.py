"""The DPO dashboard as a set of panels (R-ROPA-3).

A panel is a permission, a template and a function from a PanelContext (session, scope, now,
registry, language, texts) to the template's data, or None to stay hidden. Other areas add
theirs with `register_panel(Panel(...))` (e.g. the request-volume and retention-run panels) and
never touch this module's panels; panels render in `order`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from sargs.domains.access.principal import Principal
from sargs.domains.breaches.service import list_breaches
from sargs.domains.policy.notices import notices_sent
from sargs.domains.policy.registry import PolicyRegistry
from sargs.domains.reports.consents import consent_activity, consent_states, months_back
from sargs.entrypoints.web.charts import bar_chart, coloured, line_chart

MONTHS = 12
MAX_SERIES = 8


@dataclass(frozen=True)
class PanelContext:
    session: Session
    scope: Principal
    now: datetime
    registry: PolicyRegistry
    lang: str
    t: Mapping[str, str]

    @property
    def controllers(self) -> list[str] | None:
        """The controllers the viewer may see (None: all)."""
        return None if self.scope.controllers is None else list(self.scope.controllers)


@dataclass(frozen=True)
class Panel:
    id: str
    permission: str
    template: str
    build: Callable[[PanelContext], dict[str, Any] | None]
    order: int = 100


PANELS: dict[str, Panel] = {}


def register_panel(panel: Panel) -> None:
    """Add (or replace, by id) a dashboard panel."""
    PANELS[panel.id] = panel


def panels_for(ctx: PanelContext) -> list[tuple[Panel, dict[str, Any]]]:
    """The panels this viewer may see, each with its data, in order."""
    out = []
    for panel in sorted(PANELS.values(), key=lambda p: (p.order, p.id)):
        if ctx.scope.may(panel.permission):
            data = panel.build(ctx)
            if data is not None:
                out.append((panel, data))
    return out


def _purpose_titles(ctx: PanelContext) -> dict[str, str]:
    titles: dict[str, str] = {}
    for policy in ctx.registry.policies:
        for p in policy.purposes:
            titles.setdefault(p.id, p.title.get(ctx.lang))
    return titles


def consents_panel(ctx: PanelContext) -> dict[str, Any]:
    """Consents given per purpose per month, and grants and withdrawals per channel (last 12 months)."""
    labels = months_back(ctx.now, MONTHS)
    since = datetime(int(labels[0][:4]), int(labels[0][5:]), 1, tzinfo=ctx.now.tzinfo)
    rows = consent_activity(
        session=ctx.session, controllers=ctx.controllers, since=since, until=ctx.now + timedelta(seconds=1)
    )
    titles = _purpose_titles(ctx)
    index = {m: i for i, m in enumerate(labels)}
    grants: dict[str, list[float]] = defaultdict(lambda: [0.0] * len(labels))
    by_channel: dict[str, dict[str, float]] = defaultdict(lambda: {"grant": 0.0, "withdraw": 0.0})
    for r in rows:
        if r.action == "grant" and r.month in index:
            grants[r.purpose][index[r.month]] += r.count
        if r.action in ("grant", "withdraw"):
            by_channel[r.channel][r.action] += r.count
    top = sorted(grants, key=lambda p: -sum(grants[p]))[:MAX_SERIES]
    t = ctx.t
    over_time = line_chart(
        id="chart-consents-time",
        title=t["chart_consents_time"],
        description=t["chart_consents_time_desc"],
        labels=labels,
        series=coloured([(titles.get(p, p), grants[p]) for p in top]),
    )
    channels = sorted(by_channel)
    per_channel = bar_chart(
        id="chart-consents-channel",
        title=t["chart_consents_channel"],
        description=t["chart_consents_channel_desc"],
        labels=[t.get("consent_channel_" + c, c) for c in channels],
        series=coloured(
            [
                (t["chart_grants"], [by_channel[c]["grant"] for c in channels]),
                (t["chart_withdrawals"], [by_channel[c]["withdraw"] for c in channels]),
            ]
        ),
    )
    return {"over_time": over_time, "per_channel": per_channel}


def consent_rates_panel(ctx: PanelContext) -> dict[str, Any]:
    """Where people stand now, per purpose: consent in force, withdrawn, refused."""
    counts: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for row in consent_states(session=ctx.session, controllers=ctx.controllers):
        counts[row.purpose][row.status] += row.count
    titles = _purpose_titles(ctx)
    purposes = sorted(counts, key=lambda p: -sum(counts[p].values()))[:10]
    statuses = sorted({s for c in counts.values() for s in c})
    chart = bar_chart(
        id="chart-consent-rates",
        title=ctx.t["chart_consent_rates"],
        description=ctx.t["chart_consent_rates_desc"],
        labels=[titles.get(p, p) for p in purposes],
        series=coloured(
            [(ctx.t.get(f"consent_status_{s}", s), [counts[p][s] for p in purposes]) for s in statuses]
        ),
    )
    rates = []
    for p in purposes:
        total = sum(counts[p].values())
        rates.append(
            (
                titles.get(p, p),
                counts[p].get("granted", 0),
                total,
                round(100 * counts[p].get("granted", 0) / total) if total else 0,
            )
        )
    return {"chart": chart, "rates": rates}


def breaches_panel(ctx: PanelContext) -> dict[str, Any]:
    """Open breaches with their 72-hour clocks, overdue ones first."""
    views = list_breaches(
        session=ctx.session,
        registry=ctx.registry,
        by=ctx.scope,
        now=ctx.now,
        status=["open", "assessed", "notified"],
    )
    views.sort(key=lambda v: (not v.clock.overdue, v.clock.state != "running", v.clock.due_at))
    return {"breaches": views, "overdue": sum(1 for v in views if v.clock.state == "overdue")}


def policies_panel(ctx: PanelContext) -> dict[str, Any]:
    """Each policy's review date (retailer 7.1: at least every two years) and its version notices."""
    rows = []
    today = ctx.now.date()
    for reminder in ctx.registry.review_reminders(today=today):
        policy = next(p for p in ctx.registry.policies if p.id == reminder.policy_id)
        if ctx.controllers is not None and not any(c.id in ctx.controllers for c in policy.controllers):
            continue
        rows.append(
            {
                "policy": reminder.policy_id,
                "version": reminder.version,
                "published": reminder.published,
                "due": reminder.due,
                "overdue": reminder.overdue,
                "days": (reminder.due - today).days,
                "notices": notices_sent(
                    session=ctx.session, policy_id=reminder.policy_id, version=reminder.version
                ),
            }
        )
    return {"policies": rows}


register_panel(Panel("breaches", "breach.read", "console/panels/breaches.html", breaches_panel, order=10))
register_panel(Panel("consents", "report.read", "console/panels/consents.html", consents_panel, order=20))
register_panel(
    Panel("consent-rates", "report.read", "console/panels/consent_rates.html", consent_rates_panel, order=30)
)
register_panel(Panel("policies", "report.read", "console/panels/policies.html", policies_panel, order=40))
