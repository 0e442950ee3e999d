"""Prometheus metrics (GET /metrics): HTTP requests counted in this process, and gauges read from
the database when scraped.

- `HttpMetrics`: requests and their latency per route *template* (`/api/v1/dsr/{request_id}`,
  never the path that was asked for), method and status class. Unmatched paths share one label.
- `DatabaseCollector`: outbox backlogs, open rights requests per controller, breach deadlines,
  rows removed by retention, the worker's jobs and the last ledger verification. Computed at
  scrape time from the database, so every server process answers the same figures.

No label carries personal data: labels are route templates, methods, status classes, outbox
names, controller (company) ids from the policies, policy and source ids and job names.

With `uvicorn --workers N` each process counts its own requests. Set `PROMETHEUS_MULTIPROC_DIR`
to an empty directory shared by the processes (before they start) and /metrics adds up every
process's counters (prometheus-client's multiprocess mode).
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from sargs.domains.dsr.stats import open_requests
from sargs.domains.mail import outbox as mail_outbox
from sargs.domains.reports.operations import LEDGER_VERIFY_JOB, JobStatus, breach_deadlines, job_statuses
from sargs.domains.retention.stats import rows_removed
from sargs.domains.sms import outbox as sms_outbox
from sargs.entrypoints.container import Container

log = logging.getLogger("sargs.metrics")

UNMATCHED = "unmatched"  # the route label of every path no route answers
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
GROUP_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 1000)
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def status_class(status: int) -> str:
    """200 -> '2xx'."""
    return f"{status // 100}xx" if 100 <= status < 600 else "other"


class HttpMetrics:
    """Request counter and latency histogram of one application, in its own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        labels = ("route", "method", "status")
        self.requests = Counter(
            "sargs_http_requests",
            "HTTP requests answered, by route template, method and status class.",
            labels,
            registry=self.registry,
        )
        self.duration = Histogram(
            "sargs_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template, method and status class.",
            labels,
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.groups = Histogram(
            "sargs_group_commit_items",
            "Items answered by one group-commit transaction (core.group_commit), by what they are.",
            ("work",),
            buckets=GROUP_BUCKETS,
            registry=self.registry,
        )
        self._children: dict[tuple[str, str, str], tuple[Counter, Histogram]] = {}

    def group_observer(self, work: str) -> Callable[[int], None]:
        """A GroupCommit's `on_group`: each transaction's item count, labelled `work`."""
        return self.groups.labels(work).observe

    def observe(self, *, route: str, method: str, status: int, seconds: float) -> None:
        """Count one answered request."""
        key = (route, method if method in METHODS else "other", status_class(status))
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (self.requests.labels(*key), self.duration.labels(*key))
        children[0].inc()
        children[1].observe(seconds)


def _timestamp(moment: datetime | None) -> float:
    return moment.timestamp() if moment is not None else 0.0


class DatabaseCollector(Collector):
    """Gauges and totals read from the database at each scrape (one read-only transaction)."""

    def __init__(self, container: Container) -> None:
        self.container = container

    def describe(self) -> Iterable[Metric]:
        return ()  # nothing is read when the collector is registered

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "sargs_metrics_database_up", "1 when the database figures below could be read."
        )
        try:
            metrics = list(self._read())
        except Exception as exc:  # a scrape must still answer (and say the database failed)
            log.warning("metrics: database figures unavailable", extra={"error": type(exc).__name__})
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from metrics

    def _read(self) -> Iterator[Metric]:
        c = self.container
        now = c.clock.now()
        with c.read_sessions.begin() as session:
            waiting = GaugeMetricFamily(
                "sargs_outbox_waiting", "Messages queued or being sent, per outbox.", labels=["outbox"]
            )
            oldest = GaugeMetricFamily(
                "sargs_outbox_oldest_age_seconds",
                "Age of the oldest message waiting in the outbox (0 when empty).",
                labels=["outbox"],
            )
            for name, backlog in (
                ("sms", sms_outbox.backlog(session=session, now=now)),
                ("mail", mail_outbox.backlog(session=session, now=now)),
            ):
                waiting.add_metric([name], backlog.waiting)
                oldest.add_metric([name], backlog.oldest_age_seconds)
            yield waiting
            yield oldest

            by_controller = {r.controller: r for r in open_requests(session=session, now=now)}
            families = {
                "open": GaugeMetricFamily(
                    "sargs_dsr_open", "Open rights requests, per controller.", labels=["controller"]
                ),
                "due_soon": GaugeMetricFamily(
                    "sargs_dsr_due_within_7_days",
                    "Open rights requests due within 7 days and not yet overdue, per controller.",
                    labels=["controller"],
                ),
                "overdue": GaugeMetricFamily(
                    "sargs_dsr_overdue",
                    "Open rights requests past their deadline, per controller.",
                    labels=["controller"],
                ),
            }
            for controller in sorted(set(c.registry.controller_ids) | set(by_controller)):
                row = by_controller.get(controller)
                for field, family in families.items():
                    family.add_metric([controller], getattr(row, field) if row else 0)
            yield from families.values()

            running = GaugeMetricFamily(
                "sargs_breaches_awaiting_notification",
                "Breaches whose notification clock runs (no initial filing yet), per controller.",
                labels=["controller"],
            )
            hours = GaugeMetricFamily(
                "sargs_breach_deadline_hours_left",
                "Hours until the nearest notification deadline of a breach not yet filed (negative: overdue), "
                "per controller with one.",
                labels=["controller"],
            )
            for deadline in breach_deadlines(session=session, registry=c.registry):
                running.add_metric([deadline.controller], deadline.running)
                hours.add_metric([deadline.controller], round(deadline.hours_left(now), 3))
            yield running
            yield hours

            removed = CounterMetricFamily(
                "sargs_retention_rows_removed",
                "Rows deleted or anonymised by retention runs, per policy and source.",
                labels=["policy", "source"],
            )
            for source in rows_removed(session=session):
                removed.add_metric([source.policy_id, source.source_id], source.rows)
            yield removed

            jobs = job_statuses(session=session)
        yield from self._jobs(jobs)

    @staticmethod
    def _jobs(jobs: list[JobStatus]) -> Iterator[Metric]:
        runs = CounterMetricFamily("sargs_job_runs", "Runs of each periodic job.", labels=["job"])
        failures = CounterMetricFamily(
            "sargs_job_failures", "Failed runs of each periodic job.", labels=["job"]
        )
        finished = GaugeMetricFamily(
            "sargs_job_last_finished_timestamp_seconds",
            "When each periodic job last finished (Unix time; 0: never).",
            labels=["job"],
        )
        ok = GaugeMetricFamily("sargs_job_last_ok", "1 when the job's last run succeeded.", labels=["job"])
        verified_at = GaugeMetricFamily(
            "sargs_ledger_verify_last_timestamp_seconds",
            "When the consent ledger was last verified (Unix time; 0: never).",
        )
        verified_ok = GaugeMetricFamily(
            "sargs_ledger_verify_ok",
            "1 when the last ledger verification found the chain intact; 0 otherwise or never.",
        )
        ledger = None
        for job in jobs:
            runs.add_metric([job.name], job.runs)
            failures.add_metric([job.name], job.failures)
            finished.add_metric([job.name], _timestamp(job.last_finished_at))
            ok.add_metric([job.name], 1 if job.last_ok else 0)
            if job.name == LEDGER_VERIFY_JOB:
                ledger = job
        verified_at.add_metric([], _timestamp(ledger.last_finished_at if ledger else None))
        verified_ok.add_metric([], 1 if ledger is not None and ledger.last_ok else 0)
        yield from (runs, failures, finished, ok, verified_at, verified_ok)


class Metrics:
    """What /metrics shows for one application."""

    def __init__(self, container: Container) -> None:
        self.http = HttpMetrics()
        self.database = DatabaseCollector(container)
        self.http.registry.register(self.database)

    def render(self) -> bytes:
        """The Prometheus text exposition; every process's counters in multiprocess mode."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry(auto_describe=False)
            MultiProcessCollector(registry)
            registry.register(self.database)
            return generate_latest(registry)
        return generate_latest(self.http.registry)


def token_matches(header: str | None, token: str) -> bool:
    """`Authorization: Bearer <token>`, compared in constant time."""
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


__all__ = ["UNMATCHED", "DatabaseCollector", "HttpMetrics", "Metrics", "status_class", "token_matches"]
