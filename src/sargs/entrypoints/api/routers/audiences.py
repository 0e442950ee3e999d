"""Audiences: everyone who may be contacted now for a purpose, streamed (R-CON-6)."""

from __future__ import annotations

import queue
import threading
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


def _prefetched(chunks: Iterator[bytes], depth: int = 4) -> Iterator[bytes]:
    """`chunks`, read ahead by a thread of their own while earlier ones are being sent, at most
    `depth` chunks ahead (memory stays flat; a slow client slows the reading). When the response
    stops early (the client went away), the reader stops and closes `chunks` (and so its
    transaction) in its own thread."""
    ahead: queue.Queue[tuple[bytes | None, BaseException | None]] = queue.Queue(depth)
    stop = threading.Event()

    def put(item: tuple[bytes | None, BaseException | None]) -> bool:
        while not stop.is_set():
            try:
                ahead.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for chunk in chunks:
                if not put((chunk, None)):
                    return
            put((None, None))
        except BaseException as exc:  # handed to the response, which raises it
            put((None, exc))
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()  # ends the read transaction, in the thread that used it

    reader = threading.Thread(target=read, name="audience-export", daemon=True)
    reader.start()
    try:
        while True:
            chunk, error = ahead.get()
            if error is not None:
                raise error
            if chunk is None:
                return
            yield chunk
    finally:
        stop.set()


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
    checked = audience_for(
        registry=container.registry, controller=controller, purpose=purpose, channel=channel
    )
    body = _prefetched(_body(container, checked, format))
    # Run the query now, so a failing database is an error answer, not a stream broken after its headers.
    first = next(body, None)
    chunks: Iterator[bytes] = chain([first], body) if first is not None else iter(())
    media = "text/csv; charset=utf-8" if format == "csv" else "application/x-ndjson"
    filename = f"audience-{controller}-{purpose}{'-' + channel if channel else ''}.{format}"
    return StreamingResponse(
        chunks, media_type=media, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )
