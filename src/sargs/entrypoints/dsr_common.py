"""What the API, the console, the portal and the CLI share for rights requests: running
fulfilment with the wired data-source connectors, and the answer as HTML or PDF."""

from __future__ import annotations

import hashlib
import os

from sargs.domains.audit.service import accesses_to_subject
from sargs.domains.documents.model import Document
from sargs.domains.dsr.fulfilment import FulfilmentResult, Progress, fulfil, runs_of, stored_accesses
from sargs.domains.dsr.response import build_response
from sargs.domains.dsr.service import DsrActor, get_request, log_event
from sargs.domains.mail import outbox as mail_outbox
from sargs.domains.sources.ports import ConnectorFactory
from sargs.domains.staff.model import StaffMember
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
        pseudonym_key=hashlib.sha256(b"sargs-erasure:" + container.settings.secret_key.encode()).digest(),
    )


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


NOTICE_SUBJECT = {"lv": "Jūsu datu subjekta pieprasījums", "en": "Your data-subject request"}


def notify_requester(container: Container, request_id: str, text: str, *, what: str) -> str | None:
    """Tell the requester (`what`: on_hold or extended) by e-mail, else by SMS, through the outboxes;
    the trail records that and how (never the address). None when no address is on file."""
    with container.sessions.begin() as session:
        request = get_request(session=session, request_id=request_id)
        addresses = [i.split(":", 1) for i in request.identities if ":" in i]
        contact = str(request.requester.get("contact") or "")
        email = next((v for k, v in addresses if k == "email"), None) or (contact if "@" in contact else None)
        phone = next((v for k, v in addresses if k == "msisdn"), None)
        name = container.registry.controller(request.controller).short_name
        body = f"{name}: {text}"
        channel = "email" if email else ("sms" if phone else None)
        if channel == "sms" and phone:
            container.code_sender.send_sms(phone, body, session=session)
        elif channel == "email" and email:  # queued with the trail row: nothing lost on a crash
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
        if channel:
            log_event(
                session=session,
                request=request,
                actor=DsrActor("system", None),
                action="requester_notified",
                now=container.clock.now(),
                data={"channel": channel, "about": what},
            )
    return channel
