"""The retention panel of the DPO dashboard: rows removed per rule in the last year, recent runs."""

from __future__ import annotations

from typing import Any

from sargs.domains.retention.history import retention_overview
from sargs.entrypoints.api.routers.retention import visible_sources
from sargs.entrypoints.web.charts import bar_chart, coloured
from sargs.entrypoints.web.dashboard import Panel, PanelContext, register_panel


def retention_panel(ctx: PanelContext) -> dict[str, Any]:
    """Rows removed per rule (last 365 days) as a bar chart, the latest runs and unfinished ones."""
    allowed = visible_sources(ctx.registry, ctx.scope)
    overview = retention_overview(session=ctx.session, now=ctx.now, sources=allowed)
    runs = overview.runs[:5]
    rules = sorted(overview.removed_per_rule, key=lambda r: -overview.removed_per_rule[r])
    removed = bar_chart(
        id="chart-retention-rules",
        title=ctx.t["chart_retention_rules"],
        description=ctx.t["chart_retention_rules_desc"],
        labels=rules,
        series=coloured([(ctx.t["ret_removed"], [float(overview.removed_per_rule[r]) for r in rules])]),
    )
    return {"removed": removed, "runs": runs, "open_runs": overview.open_runs}


register_panel(
    Panel("retention", "retention.manage", "console/panels/retention.html", retention_panel, order=40)
)
