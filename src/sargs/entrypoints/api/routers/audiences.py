"""Audiences: everyone who may be contacted now for a purpose, streamed (R-CON-6)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from itertools import chain
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from sargs.domains.consent.audiences import AudienceRow, iter_audience
from sargs.domains.ropa.processors import check_disclosure
from sargs.domains.tokens.service import Principal
from sargs.entrypoints.api.deps import ContainerDep, Permit, audit, require_controller
from sargs.entrypoints.api.schemas import AUTHENTICATED_ERRORS, error_responses
from sargs.entrypoints.container import Container

router = APIRouter(tags=["audiences"], responses=AUTHENTICATED_ERRORS)

Marketer = Annotated[Principal, Depends(Permit("audience.export"))]
CHUNK = 10_000


def _csv(rows: Iterator[AudienceRow], with_contact: bool) -> Iterator[str]:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["subject_id", "since", "contact"] if with_contact else ["subject_id", "since"])
    for n, row in enumerate(rows, start=1):
        since = row.since.isoformat()
        writer.writerow((row.subject_id, since, row.contact) if with_contact else (row.subject_id, since))
        if n % CHUNK == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def _ndjson(rows: Iterator[AudienceRow], with_contact: bool) -> Iterator[str]:
    lines: list[str] = []
    for row in rows:
        doc = {"subject_id": row.subject_id, "since": row.since.isoformat()}
        if with_contact:
            doc["contact"] = row.contact or ""
        lines.append(json.dumps(doc))
        if len(lines) >= CHUNK:
            yield "\n".join(lines) + "\n"
            lines.clear()
    if lines:
        yield "\n".join(lines) + "\n"


def _rows(container: Container, controller: str, purpose: str, channel: str | None) -> Iterator[AudienceRow]:
    """Rows from one read transaction that stays open while the response streams."""
    with container.read_sessions.begin() as session:
        yield from iter_audience(
            session=session,
            registry=container.registry,
            controller=controller,
            purpose=purpose,
            channel=channel,
        )


@router.get(
    "/audiences/{purpose}",
    response_class=StreamingResponse,
    responses={
        **error_responses(409),
        200: {
            "description": "One row per person: `subject_id`, `since` and, with `channel`, `contact`.",
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/x-ndjson": {"schema": {"type": "string"}},
            },
        },
    },
)
def audience(
    purpose: str,
    request: Request,
    container: ContainerDep,
    principal: Marketer,
    controller: Annotated[str, Query(min_length=1)],
    channel: Annotated[Literal["sms", "phone", "email", "post"] | None, Query()] = None,
    format: Annotated[Literal["csv", "ndjson"], Query()] = "csv",
    processor: Annotated[
        str | None,
        Query(
            max_length=64,
            description="The processor the export is for (policy `processors`); refused (409) unless its "
            "contract is in force and it is engaged for this controller and purpose.",
        ),
    ] = None,
) -> StreamingResponse:
    """Stream the audience as CSV or NDJSON without loading it into memory. One access-log entry
    per export (not per person)."""
    require_controller(principal, controller)
    container.registry.purpose(controller, purpose)
    if processor is not None:
        check_disclosure(
            policy=container.registry.policy_for(controller),
            processor_id=processor,
            data_categories=[],
            purpose=purpose,
            today=container.clock.now().date(),
            controller=controller,
        )
    with container.sessions.begin() as session:
        audit(session, container, principal, request, "export", controllers=[controller])
    rows = _rows(container, controller, purpose, channel)
    # Pull the first row now so a bad purpose or channel is a 422, not a broken stream.
    first = next(rows, None)
    all_rows: Iterator[AudienceRow] = chain([first], rows) if first is not None else iter(())
    with_contact = channel is not None
    if format == "csv":
        body, media = _csv(all_rows, with_contact), "text/csv; charset=utf-8"
    else:
        body, media = _ndjson(all_rows, with_contact), "application/x-ndjson"
    filename = f"audience-{controller}-{purpose}{'-' + channel if channel else ''}.{format}"
    return StreamingResponse(
        body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )
