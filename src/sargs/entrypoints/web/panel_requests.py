"""The dashboard panel of rights requests: volumes, deadline performance, open and overdue."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sargs.domains.reports.consents import months_back
from sargs.domains.reports.requests import request_figures
from sargs.entrypoints.web.charts import bar_chart, coloured
from sargs.entrypoints.web.dashboard import MONTHS, Panel, PanelContext, register_panel


def requests_panel(ctx: PanelContext) -> dict[str, Any]:
    """Requests received per month by kind, and answers given on time or late (last 12 months)."""
    labels = months_back(ctx.now, MONTHS)
    since = datetime(int(labels[0][:4]), int(labels[0][5:]), 1, tzinfo=ctx.now.tzinfo)
    f = request_figures(session=ctx.session, controllers=ctx.controllers, since=since, now=ctx.now)
    t = ctx.t
    kinds = sorted(f.received, key=lambda k: -sum(f.received[k].values()))
    volumes = bar_chart(
        id="chart-requests-volume",
        title=t["chart_requests_volume"],
        description=t["chart_requests_volume_desc"],
        labels=labels,
        series=coloured([(t.get(f"req_{k}", k), [float(f.received[k][m]) for m in labels]) for k in kinds]),
    )
    deadlines = bar_chart(
        id="chart-requests-deadlines",
        title=t["chart_requests_deadlines"],
        description=t["chart_requests_deadlines_desc"],
        labels=labels,
        series=coloured(
            [
                (t["requests_on_time"], [float(f.on_time[m]) for m in labels]),
                (t["requests_late"], [float(f.late[m]) for m in labels]),
            ]
        ),
    )
    answered = sum(f.on_time.values()) + sum(f.late.values())
    return {
        "volumes": volumes,
        "deadlines": deadlines,
        "open_total": f.open_total,
        "open_overdue": f.open_overdue,
        "open_due_soon": f.open_due_soon,
        "answered": answered,
        "on_time_pct": round(100 * sum(f.on_time.values()) / answered) if answered else None,
        "median_days": f.median_days,
    }


register_panel(Panel("requests", "dsr.read", "console/panels/requests.html", requests_panel, order=15))
