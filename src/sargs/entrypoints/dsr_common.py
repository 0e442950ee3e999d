"""What the API, the console, the portal and the CLI share for rights requests: running
fulfilment with the wired data-source connectors, and the answer as HTML or PDF."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from datetime import datetime, timedelta

from fastapi import Request
from sqlalchemy.orm import Session

from sargs.core.errors import InvalidInput
from sargs.core.i18n import Message
from sargs.domains.access.principal import Principal
from sargs.domains.audit.service import AccessAction, accesses_to_subject
from sargs.domains.documents.model import Document
from sargs.domains.dsr.followup_model import DsrTask
from sargs.domains.dsr.followups import ConfirmLinks, finish_task, pending_tasks
from sargs.domains.dsr.fulfilment import (
    LEASE,
    FulfilmentResult,
    Progress,
    accept_for_fulfilment,
    connected_sources,
    fulfil,
    runs_of,
    stored_accesses,
)
from sargs.domains.dsr.model import DsrRequest
from sargs.domains.dsr.response import build_response
from sargs.domains.dsr.service import DsrActor, get_request, log_event
from sargs.domains.dsr.signatures import SignatureResult
from sargs.domains.jobs import tasks
from sargs.domains.jobs.model import WorkerTask
from sargs.domains.mail import outbox as mail_outbox
from sargs.domains.mail.links import link_key
from sargs.domains.policy.registry import PolicyRegistry
from sargs.domains.sources.ports import ConnectorFactory
from sargs.domains.staff.model import StaffMember
from sargs.domains.subjects.identifiers import normalise_email
from sargs.entrypoints.api.deps import audit
from sargs.entrypoints.container import Container


def connectors(container: Container) -> ConnectorFactory:
    """The data-source connectors bootstrap wired (Container.sources)."""
    return container.sources


def run_fulfilment(
    container: Container,
    request_id: str,
    actor: DsrActor,
    *,
    controllers: tuple[str, ...] | None = None,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
    lease: timedelta = LEASE,
) -> FulfilmentResult:
    """Fulfil an access, portability or erasure request now (each source its own transaction)."""
    return fulfil(
        sessions=container.sessions,
        registry=container.registry,
        connectors=connectors(container),
        request_id=request_id,
        actor=actor,
        now=container.clock.now,
        worker=f"{os.getpid()}:{actor.kind}:{actor.id}",
        controllers=controllers,
        progress=progress,
        should_stop=should_stop,
        lease=lease,
        pseudonym_key=hashlib.sha256(b"sargs-erasure:" + container.settings.secret_key.encode()).digest(),
        confirm=confirm_links(container),
    )


CONFIRM_PATH = "/dsr/recipients/confirm"


def confirm_links(container: Container) -> ConfirmLinks:
    """How recipients' confirm links are signed (the mail links' key) and where they lead."""
    s = container.settings
    base = (s.mail_link_base_url or s.public_url or "http://127.0.0.1:8000").rstrip("/")
    return ConfirmLinks(key=link_key(s.secret_key), base_url=base + CONFIRM_PATH)


def complete_task(
    container: Container,
    session: Session,
    *,
    request_id: str,
    task_id: str,
    actor: DsrActor,
    note: str,
    controllers: tuple[str, ...] | None = None,
    queue: bool = True,
) -> tuple[DsrTask, WorkerTask | None]:
    """Mark a manual task done (with the trail row); when it was the request's last, queue the run
    that completes the request, in the caller's transaction (`queue=False`: the caller runs it)."""
    now = container.clock.now()
    request = get_request(session=session, request_id=request_id, controllers=controllers)
    task = finish_task(
        session=session,
        request_id=request.id,
        task_id=task_id,
        staff_id=actor.id or actor.kind,
        note=note,
        now=now,
    )
    log_event(
        session=session,
        request=request,
        actor=actor,
        action="manual_task_done",
        now=now,
        data={"source": task.source, "task": task.id},
    )
    queued = None
    if (
        queue
        and request.status == "in_progress"
        and not pending_tasks(session=session, request_id=request.id)
    ):
        queued = queue_fulfilment(
            session, container.registry, request_id=request.id, actor=actor, now=now, controllers=controllers
        )
    return task, queued


def queue_fulfilment(
    session: Session,
    registry: PolicyRegistry,
    *,
    request_id: str,
    actor: DsrActor,
    now: datetime,
    controllers: tuple[str, ...] | None = None,
) -> WorkerTask | None:
    """Check that the request can be fulfilled now, move it to in progress and queue the worker's
    task, in the caller's transaction (None: the request is already closed). A second call while
    the task is queued or running returns the same task."""
    request = accept_for_fulfilment(
        session=session, request_id=request_id, actor=actor, now=now, controllers=controllers
    )
    if request is None:
        return None
    sources = [s.id for s in connected_sources(registry, request.controller)]
    task, _ = tasks.enqueue(
        session=session,
        kind="dsr_fulfil",
        target=request_id,
        params={
            "actor_kind": actor.kind,
            "actor_id": actor.id,
            "controllers": list(controllers) if controllers is not None else None,
        },
        created_by=f"{actor.kind}:{actor.id}",
        now=now,
        progress={"sources": dict.fromkeys(sources, "pending"), "done": 0, "total": len(sources)},
    )
    return task


def response_document(
    container: Container,
    request_id: str,
    *,
    controllers: tuple[str, ...] | None = None,
    language: str | None = None,
) -> Document:
    """The answer to a request as a Document (staff names resolved from the staff table)."""
    with container.read_sessions.begin() as session:
        request = get_request(session=session, request_id=request_id, controllers=controllers)
        accesses = (
            accesses_to_subject(session=session, subject_id=request.subject_id, controller=request.controller)
            if request.subject_id
            else []
        )
        ids = {a.actor_id for a in accesses if a.actor_kind == "staff" and a.actor_id}
        names = (
            {m.id: m.name for m in session.query(StaffMember).filter(StaffMember.id.in_(ids))} if ids else {}
        )
        return build_response(
            request=request,
            policy=container.registry.policy_for(request.controller),
            runs=runs_of(session=session, request_id=request_id),
            accesses=accesses,
            staff_names=names,
            language=language,
        )


def response_bytes(container: Container, document: Document, fmt: str) -> tuple[bytes, str]:
    """(body, media type) of the answer as PDF or HTML."""
    if fmt == "pdf":
        from sargs.integrations.documents.pdf import render_pdf

        return render_pdf(document), "application/pdf"
    from sargs.entrypoints.web.documents import STYLESHEET, render_document_html

    # Served under the site's CSP (no inline styles): the document's style comes as a file.
    return render_document_html(document, stylesheet=STYLESHEET).encode(), "text/html; charset=utf-8"


def portability_bytes(
    container: Container, request_id: str, *, controllers: tuple[str, ...] | None = None
) -> bytes:
    """The machine-readable export (JSON + CSV in a zip) of an access or portability request."""
    from sargs.domains.sources.portability import portability_zip

    with container.read_sessions.begin() as session:
        request = get_request(session=session, request_id=request_id, controllers=controllers)
        accesses = stored_accesses(session=session, request_id=request_id)
        return portability_zip(accesses, generated_at=container.clock.now(), subject_ref=request.id)


NOTICE_SUBJECT = Message("dsr_common", "NOTICE_SUBJECT")


def _contact_email(request: DsrRequest) -> str | None:
    """The requester's e-mail: an e-mail identity, else a contact that is a valid address."""
    for item in request.identities:
        kind, _, value = item.partition(":")
        if kind == "email" and value:
            return value
    contact = str(request.requester.get("contact") or "").strip()
    try:
        return normalise_email(contact) if "@" in contact else None
    except InvalidInput:
        return None


def notify_requester(
    container: Container, session: Session, request: DsrRequest, text: str, *, what: str, required: bool
) -> str | None:
    """Tell the requester (`what`: on_hold or extended) by e-mail, else by SMS, queued in the outboxes
    in the caller's transaction with a trail row saying how (never the address). With no e-mail or
    phone on file: None, or InvalidInput when `required` (the change must not land untold)."""
    email = _contact_email(request)
    phone = next((i.split(":", 1)[1] for i in request.identities if i.startswith("msisdn:")), None)
    channel = "email" if email else ("sms" if phone else None)
    if channel is None:
        if required:
            raise InvalidInput(
                "the requester has no e-mail or phone on file to be told; add a contact to the request first",
                field="notice",
            )
        return None
    body = f"{container.registry.controller(request.controller).short_name}: {text}"
    if channel == "sms" and phone:
        container.code_sender.send_sms(phone, body, session=session)
    elif email:
        mail_outbox.enqueue(
            session=session,
            to=email,
            subject=NOTICE_SUBJECT.get(request.language, NOTICE_SUBJECT["lv"]),
            text=body,
            kind="notice",
            now=container.clock.now(),
            subject_id=request.subject_id,
            controller=request.controller,
        )
    log_event(
        session=session,
        request=request,
        actor=DsrActor("system", None),
        action="requester_notified",
        now=container.clock.now(),
        data={"channel": channel, "about": what},
    )
    return channel


def audit_request(
    session: Session,
    container: Container,
    principal: Principal,
    request: Request,
    action: AccessAction,
    row: DsrRequest,
    *,
    reason: str | None = None,
) -> None:
    """Log an access to a rights request's person, as an access to the request's company's data."""
    audit(
        session,
        container,
        principal,
        request,
        action,
        subject_id=row.subject_id,
        controllers=[row.controller],
        reason=reason,
    )


MAX_SIGNED_FILE = 20 * 1024 * 1024


def signed_file_evidence(
    container: Container, *, file_name: str, data: bytes
) -> tuple[dict[str, str], SignatureResult]:
    """An uploaded e-signed file (issue 16): its name, size and SHA-256 as evidence, and the wired
    checker's result (valid, invalid or indeterminate, with the signer). Over 20 MiB is refused."""
    if len(data) > MAX_SIGNED_FILE:
        raise InvalidInput("the signed file is over 20 MiB", field="signed_file")
    if not data:
        raise InvalidInput("the signed file is empty", field="signed_file")
    evidence = {
        "file_name": file_name[:200],
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": str(len(data)),
    }
    return evidence, container.signatures.check(data, file_name=file_name)
