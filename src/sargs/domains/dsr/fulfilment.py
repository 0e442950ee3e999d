"""Fulfilling access, portability and erasure requests against the controller's own databases
(R-DSR-5, R-DSR-6): one connector call per declared SQL or HTTP source, each result stored with the request.

Safe to retry after a crash at any point: a source whose result is stored is never run again; a
lease on the request keeps two workers from running it at once; a source that failed is shown
and retried alone. A failure the source marks retryable (a timeout, 429, a 5xx) is retried
automatically after its Retry-After or a growing delay (`FulfilmentResult.retry_at`, up to
MAX_SOURCE_ATTEMPTS); a permanent one (another 4xx, a bad declaration) waits for staff. Erasure pseudonymises Sargs' own identifiers (subjects.erasure) only when every source is done.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from sargs.core.errors import Conflict, InvalidInput, SargsError, SourceBusy
from sargs.core.i18n import Message
from sargs.domains.consent.model import ConsentEvent
from sargs.domains.dsr import workflow as wf
from sargs.domains.dsr.followups import ConfirmLinks, open_tasks, pending_tasks, tell_recipients
from sargs.domains.dsr.model import DsrRequest, DsrSourceRun
from sargs.domains.dsr.service import DsrActor, close, lock_request, log_event, start_work
from sargs.domains.policy.registry import PolicyRegistry
from sargs.domains.policy.schema import Policy
from sargs.domains.policy.sources import DataSource
from sargs.domains.sources.ports import ConnectorFactory
from sargs.domains.sources.reports import SourceAccess, SourceErasure, TableErasure, TableRows
from sargs.domains.subjects.erasure import pseudonymise_subject_report
from sargs.domains.subjects.identifiers import Identity, mask, parse_identity

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=15)
CONNECTED_KINDS = ("sql", "http")  # the kinds of data source a connector reads and erases
MAX_SOURCE_ATTEMPTS = 6  # automatic attempts of a source whose failures are retryable
FIRST_RETRY = timedelta(minutes=1)  # doubled after each failed attempt, at most MAX_RETRY_DELAY
MAX_RETRY_DELAY = timedelta(hours=1)
SOURCE_KINDS = ("access", "portability", "erasure")
KEPT_NOTE = Message("dsr.fulfilment", "KEPT_NOTE")
SHARED_NOTE = Message("dsr.fulfilment", "SHARED_NOTE")
Progress = Callable[[str, str], object]  # (source id, status: running | ok | failed | skipped)


@dataclass
class FulfilmentResult:
    request_id: str
    status: str
    sources: dict[str, str] = field(default_factory=dict)  # source -> ok | failed
    errors: dict[str, str] = field(default_factory=dict)
    # Every failure was retryable: run again at this time (the worker defers its task until then).
    retry_at: datetime | None = None


def connected_sources(registry: PolicyRegistry, controller: str) -> list[DataSource]:
    """The controller's declared SQL and HTTP sources (those a connector reaches), in policy order."""
    policy = registry.policy_for(controller)
    return [
        s
        for s in policy.data_sources
        if s.kind in CONNECTED_KINDS and (s.controllers is None or controller in s.controllers)
    ]


sql_sources = connected_sources  # the earlier name


def retry_delay(attempts: int, retry_after: float | None) -> timedelta:
    """When to try a source again after its `attempts`-th retryable failure: its Retry-After if it
    said, else FIRST_RETRY doubled per attempt, never more than MAX_RETRY_DELAY."""
    if retry_after:
        return min(timedelta(seconds=retry_after), timedelta(days=1))
    return min(FIRST_RETRY * (2 ** max(attempts - 1, 0)), MAX_RETRY_DELAY)


def access_to_json(access: SourceAccess) -> dict[str, Any]:
    return {"source": access.source, "tables": [asdict(t) for t in access.tables]}


def access_from_json(data: dict[str, Any]) -> SourceAccess:
    return SourceAccess(
        source=data["source"],
        tables=[TableRows(t["table"], t["rows"], t.get("categories", {})) for t in data["tables"]],
    )


def erasure_to_json(erasure: SourceErasure) -> dict[str, Any]:
    tables = []
    for t in erasure.tables:
        tables.append(
            {
                "table": t.table,
                "deleted": t.deleted,
                "anonymised": t.anonymised,
                "kept": t.kept,
                "kept_reason": t.kept_reason.model_dump() if t.kept_reason else None,
                "kept_until": t.kept_until.isoformat() if t.kept_until else None,
            }
        )
    return {"source": erasure.source, "ok": erasure.ok, "tables": tables, "error": erasure.error}


def erasure_tables(data: dict[str, Any]) -> list[TableErasure]:
    from sargs.domains.policy.text import Text

    return [
        TableErasure(
            table=t["table"],
            deleted=t["deleted"],
            anonymised=t["anonymised"],
            kept=t["kept"],
            kept_reason=Text(**t["kept_reason"]) if t.get("kept_reason") else None,
            kept_until=date.fromisoformat(t["kept_until"]) if t.get("kept_until") else None,
        )
        for t in data.get("tables", [])
    ]


def runs_of(*, session: Session, request_id: str) -> list[DsrSourceRun]:
    return list(
        session.scalars(
            select(DsrSourceRun).where(DsrSourceRun.request_id == request_id).order_by(DsrSourceRun.source)
        )
    )


def stored_accesses(*, session: Session, request_id: str) -> list[SourceAccess]:
    """The rows every source answered for an access or portability request."""
    return [
        access_from_json(r.result)
        for r in runs_of(session=session, request_id=request_id)
        if r.status == "ok" and r.operation == "collect" and r.result
    ]


def _begin(
    *,
    session: Session,
    registry: PolicyRegistry,
    request_id: str,
    actor: DsrActor,
    worker: str,
    now: datetime,
    lease: timedelta,
    controllers: tuple[str, ...] | None,
) -> tuple[DsrRequest, list[DataSource]] | None:
    request = lock_request(session=session, request_id=request_id, controllers=controllers)
    if request.status in wf.FINAL:
        return None
    if request.kind not in SOURCE_KINDS:
        raise InvalidInput(
            f"a {request.kind} request is answered with a recorded decision, not by the data sources",
            field="kind",
        )
    if (
        request.lease_owner not in (None, worker)
        and request.lease_until is not None
        and request.lease_until > now
    ):
        raise Conflict("another worker is fulfilling this request; try again when it is done", field="status")
    start_work(session=session, request=request, actor=actor, now=now)
    request.lease_owner = worker
    request.lease_until = now + lease
    sources = connected_sources(registry, request.controller)
    have = {r.source for r in runs_of(session=session, request_id=request.id)}
    operation = "erase" if request.kind == "erasure" else "collect"
    for s in sources:
        if s.id not in have:
            session.add(
                DsrSourceRun(
                    request_id=request.id, source=s.id, operation=operation, status="pending", attempts=0
                )
            )
    for task in open_tasks(
        session=session, policy=registry.policy_for(request.controller), request=request, now=now
    ):
        log_event(
            session=session,
            request=request,
            actor=actor,
            action="manual_task_opened",
            now=now,
            data={"source": task.source, "task": task.id, "due_at": task.due_at.isoformat()},
        )
    log_event(
        session=session,
        request=request,
        actor=actor,
        action="fulfilment_started",
        now=now,
        data={"worker": worker},
    )
    session.flush()
    return request, sources


def accept_for_fulfilment(
    *,
    session: Session,
    request_id: str,
    actor: DsrActor,
    now: datetime,
    controllers: tuple[str, ...] | None = None,
) -> DsrRequest | None:
    """Check, while the caller waits, that the data sources can fulfil the request now, and move it
    to in progress; a worker then runs it. None: the request is already closed (nothing to run)."""
    request = lock_request(session=session, request_id=request_id, controllers=controllers)
    if request.status in wf.FINAL:
        return None
    if request.kind not in SOURCE_KINDS:
        raise InvalidInput(
            f"a {request.kind} request is answered with a recorded decision, not by the data sources",
            field="kind",
        )
    start_work(session=session, request=request, actor=actor, now=now)
    return request


def _still_ours(session: Session, request_id: str, worker: str, now: datetime) -> bool:
    request = session.scalar(select(DsrRequest).where(DsrRequest.id == request_id).with_for_update())
    return (
        request is not None
        and request.lease_owner == worker
        and request.lease_until is not None
        and request.lease_until > now
    )


def fulfil(
    *,
    sessions: sessionmaker[Session],
    registry: PolicyRegistry,
    connectors: ConnectorFactory,
    request_id: str,
    actor: DsrActor,
    now: Callable[[], datetime],
    worker: str,
    lease: timedelta = LEASE,
    controllers: tuple[str, ...] | None = None,
    progress: Progress | None = None,
    pseudonym_key: bytes | None = None,
    should_stop: Callable[[], bool] | None = None,
    confirm: ConfirmLinks | None = None,
) -> FulfilmentResult:
    """Run an access, portability or erasure request against every SQL and HTTP source of its controller,
    one source at a time (each its own transaction here and in the source), skipping sources already
    done; close the request when all succeeded. When `should_stop` says so between two sources, the
    lease is given back and the result is "in_progress": the next run continues. A request with
    manual sources' tasks still open stays in progress too; the run after the last is done closes it
    (an erasure then tells its recipients, with confirm links made by `confirm`)."""
    with sessions.begin() as session:
        begun = _begin(
            session=session,
            registry=registry,
            request_id=request_id,
            actor=actor,
            worker=worker,
            now=now(),
            lease=lease,
            controllers=controllers,
        )
        if begun is None:
            request = lock_request(session=session, request_id=request_id, controllers=controllers)
            return FulfilmentResult(
                request_id,
                request.status,
                {r.source: r.status for r in runs_of(session=session, request_id=request_id)},
            )
        request, sources = begun
        identities = [parse_identity(i) for i in request.identities]
        kind = request.kind
        policy = registry.policy_for(request.controller)
        rules = {r.id: r for r in policy.retention_rules}
        done = {r.source for r in runs_of(session=session, request_id=request_id) if r.status == "ok"}
    result = FulfilmentResult(request_id, "in_progress")
    retry_ats: list[datetime] = []
    permanent: list[str] = []
    for source in sources:
        if source.id in done:
            result.sources[source.id] = "ok"
            if progress:
                progress(source.id, "skipped")
            continue
        with sessions.begin() as session:
            if not _still_ours(session, request_id, worker, now()):
                raise Conflict(
                    "the fulfilment lease ran out; another worker may have taken over", field="status"
                )
            run = session.get(DsrSourceRun, (request_id, source.id))
            assert run is not None
            # The rows an interrupted attempt had found (noted before it changed anything; kept
            # through a failed attempt after it) are looked up again by key, so the answer still
            # lists what it kept though their identities are gone.
            earlier: dict[str, list[Any]] | None = (run.result or {}).get("found")
            if run.status == "running":
                # An earlier worker died inside this source: its transaction there either committed
                # or not, so running it again is safe.
                request = lock_request(session=session, request_id=request_id)
                log_event(
                    session=session,
                    request=request,
                    actor=actor,
                    action="source_rerun_after_interruption",
                    now=now(),
                    data={"source": source.id},
                )
            run.status, run.attempts, run.started_at, run.error = "running", run.attempts + 1, now(), None
        if progress:
            progress(source.id, "running")
        status, payload, error, retry = _run_source(
            connectors,
            source,
            kind,
            identities,
            now(),
            rules,
            earlier=earlier,
            on_found=_noting_found(sessions, request_id, source.id, earlier or {}),
        )
        with sessions.begin() as session:
            run = session.get(DsrSourceRun, (request_id, source.id))
            assert run is not None
            if error is not None:
                if retry is not None and run.attempts < MAX_SOURCE_ATTEMPTS:
                    at = now() + retry_delay(run.attempts, retry)
                    retry_ats.append(at)
                    error = (
                        f"{error} [temporary: retried automatically at {at.isoformat(timespec='seconds')}]"
                    )
                elif retry is not None:
                    error = f"{error} [temporary, but gave up after {run.attempts} attempts: run it again by hand]"
                    permanent.append(source.id)
                else:
                    error = f"{error} [permanent: fix the cause, then run it again]"
                    permanent.append(source.id)
                error = error[:500]
            run.status, run.error, run.finished_at = status, error, now()
            if payload is not None or "found" not in (run.result or {}):
                run.result = payload  # a failed erasure changed nothing: the note of earlier rows stays
        result.sources[source.id] = status
        if error:
            result.errors[source.id] = error
            log.warning(
                "data source failed during fulfilment", extra={"request_id": request_id, "source": source.id}
            )
        if progress:
            progress(source.id, status)
        if should_stop is not None and should_stop() and len(result.sources) < len(sources):
            with sessions.begin() as session:
                request = lock_request(session=session, request_id=request_id)
                if request.lease_owner == worker:
                    request.lease_owner = None
                    request.lease_until = None
            return result
    with sessions.begin() as session:
        request = lock_request(session=session, request_id=request_id)
        runs = runs_of(session=session, request_id=request_id)
        failed = [r.source for r in runs if r.status != "ok"]
        if failed:
            retrying = sorted(set(failed) - set(permanent))
            if retry_ats and not permanent and retrying:
                result.retry_at = min(retry_ats)
            log_event(
                session=session,
                request=request,
                actor=actor,
                action="sources_failed",
                now=now(),
                data={
                    "failed": failed,
                    "retrying": retrying if result.retry_at else [],
                    "retry_at": result.retry_at.isoformat() if result.retry_at else None,
                },
            )
        elif waiting := pending_tasks(session=session, request_id=request_id):
            log_event(
                session=session,
                request=request,
                actor=actor,
                action="waiting_for_tasks",
                now=now(),
                data={"tasks": [t.id for t in waiting]},
            )
        else:
            _finish(
                session=session,
                request=request,
                runs=runs,
                actor=actor,
                now=now(),
                key=pseudonym_key,
                policy=registry.policy_for(request.controller),
                confirm=confirm,
            )
        if request.lease_owner == worker:
            request.lease_owner = None
            request.lease_until = None
        result.status = request.status
    return result


def _noting_found(
    sessions: sessionmaker[Session], request_id: str, source: str, earlier: dict[str, list[Any]]
) -> Callable[[dict[str, list[Any]]], None]:
    """The erasure's `on_found` hook: note with the running source which rows it found (with what an
    interrupted attempt had found), committed before the source changes anything."""

    def note(found: dict[str, list[Any]]) -> None:
        merged = {
            t: list(dict.fromkeys([*earlier.get(t, []), *found.get(t, [])])) for t in {*earlier, *found}
        }
        try:
            with sessions.begin() as session:
                run = session.get(DsrSourceRun, (request_id, source), with_for_update=True)
                if run is None or run.status != "running":
                    raise Conflict("another worker took this source over", field="status")
                run.result = {"found": merged}
        except SargsError:
            raise
        except Exception as exc:
            raise SargsError(f"{type(exc).__name__} while noting the rows found in Sargs' database") from None

    return note


def _run_source(
    connectors: ConnectorFactory,
    source: DataSource,
    kind: str,
    identities: Sequence[Identity],
    now: datetime,
    rules: dict[str, Any],
    *,
    earlier: dict[str, list[Any]] | None = None,
    on_found: Callable[[dict[str, list[Any]]], None] | None = None,
) -> tuple[str, dict[str, Any] | None, str | None, float | None]:
    """(status, stored result, error, retry): `retry` is None for success or a permanent failure,
    else the seconds the source asked to wait (0.0: it did not say)."""
    try:
        connector = connectors(source)
        if kind == "erasure":
            erased = connector.erase(
                identities=identities, now=now, rules=rules, earlier=earlier, on_found=on_found
            )
            if not erased.ok:
                retry = (erased.retry_after or 0.0) if erased.retryable else None
                return "failed", None, (erased.error or "the source refused the erasure")[:400], retry
            return "ok", erasure_to_json(erased), None, None
        return "ok", access_to_json(connector.collect(identities=identities)), None, None
    except SourceBusy as exc:
        return "failed", None, exc.message[:400], exc.retry_after or 0.0
    except SargsError as exc:
        return "failed", None, exc.message[:400], None
    except Exception as exc:  # a driver error: never its text (it may quote the person's values)
        return "failed", None, f"{type(exc).__name__} while reading source {source.id}", None


def _finish(
    *,
    session: Session,
    request: DsrRequest,
    runs: list[DsrSourceRun],
    actor: DsrActor,
    now: datetime,
    key: bytes | None = None,
    policy: Policy | None = None,
    confirm: ConfirmLinks | None = None,
) -> None:
    """Every source is done: close the request (erasure: also Sargs' own identifiers, and its
    recipients told before the request's identities are masked)."""
    if request.kind != "erasure":
        rows = sum(sum(len(t["rows"]) for t in (r.result or {}).get("tables", [])) for r in runs)
        close(
            session=session,
            request=request,
            outcome="fulfilled",
            text="",
            actor=actor,
            now=now,
            extra={"rows": rows},
        )
        return
    kept = sum(t.kept for r in runs for t in erasure_tables(r.result or {}))
    told = (
        tell_recipients(session=session, policy=policy, request=request, now=now, confirm=confirm)
        if policy is not None and confirm is not None
        else []
    )
    removed, mentions, shared = 0, [], False
    if request.subject_id is not None:
        # Sargs' identifiers serve every company of the group: they are pseudonymised only when no
        # other company holds this person's consents, else erasure at one company would wipe the
        # person out of the others' records (their consents could no longer be found).
        shared = _known_elsewhere(session, request.subject_id, request.controller)
        if not shared:
            report = pseudonymise_subject_report(
                session=session, subject_id=request.subject_id, now=now, key=key
            )
            removed, mentions = report.identities, report.evidence_mentions
    request.identities = [f"{i.split(':', 1)[0]}:{mask(*i.split(':', 1))}" for i in request.identities]
    request.requester = {
        k: ("***" if k in ("name", "address", "contact") else v) for k, v in request.requester.items()
    }
    outcome = "partially_fulfilled" if kept else "fulfilled"
    notes = [KEPT_NOTE] if kept else []
    if shared:
        notes.append(SHARED_NOTE)
    text = " ".join(n.get(request.language, n["lv"]) for n in notes)
    close(
        session=session,
        request=request,
        outcome=outcome,
        text=text,
        actor=actor,
        now=now,
        extra={
            "kept": kept,
            "sargs_identifiers_pseudonymised": removed,
            "identifiers_kept_for_other_companies": shared,
            "ledger_mentions": mentions,
            "recipients_told": told,
        },
    )


def _known_elsewhere(session: Session, subject_id: str, controller: str) -> bool:
    """Whether another company holds this person's consents (or refusals) in the ledger."""
    other = select(ConsentEvent.seq).where(
        ConsentEvent.subject_id == subject_id, ConsentEvent.controller != controller
    )
    return session.execute(other.limit(1)).first() is not None
