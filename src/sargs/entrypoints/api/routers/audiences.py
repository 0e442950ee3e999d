"""Audiences: everyone who may be contacted now for a purpose, streamed (R-CON-6)."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from sargs.domains.consent.audiences import Audience, audience_csv, audience_for, audience_ndjson
from sargs.domains.ropa.processors import check_disclosure
from sargs.domains.tokens.service import Principal
from sargs.entrypoints.api.deps import ContainerDep, Permit, audit, require_controller
from sargs.entrypoints.api.schemas import AUTHENTICATED_ERRORS, error_responses
from sargs.entrypoints.container import Container

router = APIRouter(tags=["audiences"], responses=AUTHENTICATED_ERRORS)

Marketer = Annotated[Principal, Depends(Permit("audience.export"))]


def _body(container: Container, audience: Audience, format: str) -> Iterator[bytes]:
    """The export's chunks, from one read transaction that stays open while the response streams."""
    with container.read_sessions.begin() as session:
        if format == "csv":
            yield from audience_csv(session=session, audience=audience)
        else:
            yield from audience_ndjson(session=session, audience=audience)


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
    checked = audience_for(registry=container.registry, controller=controller, purpose=purpose, channel=channel)
    body = _body(container, checked, format)
    # Run the query now, so a failing database is an error answer, not a stream broken after its headers.
    first = next(body, None)
    chunks: Iterator[bytes] = chain([first], body) if first is not None else iter(())
    media = "text/csv; charset=utf-8" if format == "csv" else "application/x-ndjson"
    filename = f"audience-{controller}-{purpose}{'-' + channel if channel else ''}.{format}"
    return StreamingResponse(
        chunks, media_type=media, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )
