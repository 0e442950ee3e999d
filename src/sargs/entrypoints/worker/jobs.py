"""The periodic jobs `sargs worker` runs: each takes a JobContext and returns a one-line summary of
counts (never personal data). Every job is safe to run twice: outboxes lease their messages,
reminders and alerts are unique per key, retention resumes its run."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sargs.domains.dsr.callbacks import CallbackPoster, deliver_callbacks
from sargs.domains.mail.ports import MailSender
from sargs.domains.retention.coverage import retained_sources
from sargs.domains.retention.internal import INTERNAL_SOURCE
from sargs.domains.retention.runs import run_retention
from sargs.domains.sms.ports import SmsSender
from sargs.entrypoints.container import Container

# An outbox job sends until its outbox is empty, the worker stops, or this budget is spent (then the
# next slot continues), so one busy outbox never holds a thread for long.
SEND_BUDGET = timedelta(seconds=30)
RETENTION_PREFIX = "retention:"
SYNC_PREFIX = "subjects_sync:"


@dataclass
class WorkerPorts:
    """What leaves the process: the SMS provider, SMTP, the OpenDSR callback receivers."""

    sms: Callable[[], SmsSender]
    mail: Callable[[], MailSender]
    callbacks: Callable[[], CallbackPoster]


@dataclass
class JobContext:
    container: Container
    ports: WorkerPorts
    stop: threading.Event = field(default_factory=threading.Event)


Job = Callable[[JobContext], str]


def _drain(ctx: JobContext, deliver: Callable[[], object]) -> str:
    sent = retried = failed = 0
    started = time.monotonic()
    while not ctx.stop.is_set() and time.monotonic() - started < SEND_BUDGET.total_seconds():
        report = deliver()
        sent += getattr(report, "sent", 0)
        retried += getattr(report, "retried", 0)
        failed += getattr(report, "failed", 0)
        if not getattr(report, "handled", 0):
            break
    return f"sent {sent}, to retry {retried}, failed {failed}"


def sms_send(ctx: JobContext) -> str:
    """Deliver queued SMS replies and codes."""
    from sargs.domains.sms.outbox import deliver_due

    c, sender = ctx.container, ctx.ports.sms()
    return _drain(
        ctx,
        lambda: deliver_due(sessions=c.sessions, sender=sender, now=c.clock.now, should_stop=ctx.stop.is_set),
    )


def mail_send(ctx: JobContext) -> str:
    """Deliver queued e-mail (codes, notices, staff reminders and alerts)."""
    from sargs.domains.mail.outbox import deliver_due

    c, sender = ctx.container, ctx.ports.mail()
    return _drain(
        ctx,
        lambda: deliver_due(sessions=c.sessions, sender=sender, now=c.clock.now, should_stop=ctx.stop.is_set),
    )


def dsr_callbacks(ctx: JobContext) -> str:
    """Send due OpenDSR status callbacks (only when a certificate or SARGS_OPENDSR_CALLBACK_SECRET is set)."""
    c = ctx.container
    signer = c.callback_signer()
    if signer is None:
        return "not configured (SARGS_OPENDSR_CERTIFICATE or SARGS_OPENDSR_CALLBACK_SECRET)"
    poster = ctx.ports.callbacks()
    return _drain(
        ctx,
        lambda: deliver_callbacks(sessions=c.sessions, poster=poster, signer=signer, now=c.clock.now),
    )


def dsr_remind(ctx: JobContext) -> str:
    """The daily digest of rights requests due within 7 days or overdue, to staff."""
    from sargs.domains.dsr.reminders import digests, queue_digests, remind

    c = ctx.container
    with c.sessions.begin() as session:  # the reminders and their e-mails land together
        now = c.clock.now()
        items = remind(session=session, now=now, within=timedelta(days=7))
        mails = digests(
            reminders=items,
            registry=c.registry,
            configured=c.settings.dsr_reminder_to,
            console_url=c.settings.public_url,
        )
        queued = queue_digests(session=session, digests=mails, now=now)
    return f"{len(items)} reminders, {queued} e-mails queued"


def dsr_purge(ctx: JobContext) -> str:
    """Purge what fulfilment collected once the answer is past the policy's retention period."""
    from sargs.domains.dsr.purge import purge_results

    c = ctx.container
    with c.sessions.begin() as session:
        return purge_results(session=session, registry=c.registry, now=c.clock.now()).summary()


def breach_alerts(ctx: JobContext) -> str:
    """E-mail the DPO 24 h and 6 h before a breach's 72-hour deadline, each once."""
    from sargs.domains.breaches.alerts import queue_deadline_alerts

    c = ctx.container
    with c.sessions.begin() as session:
        queued = queue_deadline_alerts(
            session=session,
            registry=c.registry,
            now=c.clock.now(),
            configured=c.settings.dsr_reminder_to,
            console_url=c.settings.public_url,
        )
    return f"{queued} alerts queued"


def policy_review(ctx: JobContext) -> str:
    """E-mail each controller's DPO of its policy's coming, due or overdue review."""
    from sargs.domains.policy.reviews import queue_review_reminders

    c = ctx.container
    with c.sessions.begin() as session:
        queued = queue_review_reminders(
            session=session,
            registry=c.registry,
            now=c.clock.now(),
            configured=c.settings.dsr_reminder_to,
            console_url=c.settings.public_url,
        )
    return f"{queued} reminders queued"


def ledger_verify(ctx: JobContext) -> str:
    """Verify the ledger since the last checkpoints; e-mail the DPOs if it does not verify."""
    return _verify(ctx, full=False)


def _verify(ctx: JobContext, *, full: bool) -> str:
    from sargs.domains.consent.checkpoints import verify_and_alert
    from sargs.domains.consent.verify import default_jobs

    c = ctx.container
    with c.sessions.begin() as session:
        if c.engine.dialect.name == "postgresql":
            # One snapshot for the whole run: consents written meanwhile are not half seen (they
            # would read as inserted or missing events). SQLite's transaction is one already.
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        report = verify_and_alert(
            session=session,
            registry=c.registry,
            now=c.clock.now(),
            full=full,
            configured=c.settings.dsr_reminder_to,
            jobs=default_jobs() if full else 1,
        )
    if not report.ok:
        raise LedgerBroken(f"{len(report.problems)} problems in {report.events} events checked")
    kind = "incremental" if report.incremental else "full"
    return f"ok ({kind}), {report.events} events in {report.subjects} chains checked"


def ledger_verify_full(ctx: JobContext) -> str:
    """The weekly full verification: every chain from its first event (an incremental run cannot see
    an event altered before a checkpoint whose own event is intact)."""
    return _verify(ctx, full=True)


def ledger_anchor(ctx: JobContext) -> str:
    """Seal the access log and send a signed anchor of the ledger outside the database (only when
    SARGS_LEDGER_ANCHOR_KEY and SARGS_LEDGER_ANCHOR_SINK are set)."""
    from sargs.entrypoints.anchoring import run_anchor

    settings = ctx.container.settings
    if not settings.ledger_anchor_key or not settings.ledger_anchor_sink:
        return "not configured (SARGS_LEDGER_ANCHOR_KEY, SARGS_LEDGER_ANCHOR_SINK)"
    run = run_anchor(ctx.container)
    a = run.anchor
    return f"anchor {a.id}: {a.chains} chains, {a.events} events, access log to row {a.access.upto}; {run.delivered} delivered"


class LedgerBroken(Exception):
    """The ledger did not verify (the job is recorded as failed; the DPOs have been e-mailed)."""


def retention_job(policy_id: str, source_id: str) -> Job:
    """Purge one source's expired rows, under the source's own lease; a stop pauses the run."""

    def run(ctx: JobContext) -> str:
        c = ctx.container
        report = run_retention(
            sessions=c.sessions,
            registry=c.registry,
            connectors=c.retention_connectors,
            clock=c.clock.now,
            policy_id=policy_id,
            source_id=source_id,
            started_by="worker",
            should_stop=ctx.stop.is_set,
        )
        return f"run {report.id} {report.status}, {report.rows_removed} rows removed"

    return run


def subjects_sync_job(policy_id: str, source_id: str) -> Job:
    """Apply one client-group source's joins and leaves (issue 19); the job's lease keeps workers apart."""

    def run(ctx: JobContext) -> str:
        from sargs.core.errors import SourceUnavailable
        from sargs.domains.subjects.sync import find_source, sync_source

        c = ctx.container
        policy, source = find_source(c.registry, f"{policy_id}/{source_id}")
        if not os.environ.get(source.url_variable):
            return f"not configured ({source.url_variable})"
        report = sync_source(
            sessions=c.sessions,
            registry=c.registry,
            policy=policy,
            source=source,
            rows=c.client_rows(source),
            clock=c.clock.now,
            region=c.settings.default_region,
        )
        if report.leaves_held:  # the joins are applied; the job shows as failed until the source is fixed
            raise SourceUnavailable(report.summary())
        return report.summary()

    return run


JOBS: dict[str, Job] = {
    "sms_send": sms_send,
    "mail_send": mail_send,
    "dsr_callbacks": dsr_callbacks,
    "dsr_remind": dsr_remind,
    "dsr_purge": dsr_purge,
    "breach_alerts": breach_alerts,
    "policy_review": policy_review,
    "ledger_verify": ledger_verify,
    "ledger_verify_full": ledger_verify_full,
    "ledger_anchor": ledger_anchor,
}


def catalogue(container: Container) -> dict[str, tuple[str, Job]]:
    """Every job this worker can run: name -> (schedule key, function). Retention is one job per
    source with retention rules (and Sargs' own tables), all on the "retention" schedule."""
    jobs: dict[str, tuple[str, Job]] = {name: (name, fn) for name, fn in JOBS.items()}
    for policy, source in retained_sources(registry=container.registry):
        jobs[f"{RETENTION_PREFIX}{policy.id}/{source.id}"] = (
            "retention",
            retention_job(policy.id, source.id),
        )
    from sargs.domains.subjects.sync import declared_sources

    for policy, client_source in declared_sources(container.registry):
        jobs[f"{SYNC_PREFIX}{policy.id}/{client_source.id}"] = (
            "subjects_sync",
            subjects_sync_job(policy.id, client_source.id),
        )
    jobs[f"{RETENTION_PREFIX}{INTERNAL_SOURCE}"] = (
        "retention",
        retention_job(INTERNAL_SOURCE, INTERNAL_SOURCE),
    )
    return jobs
