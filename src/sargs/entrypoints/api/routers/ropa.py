"""The record of processing activities (Art. 30) per controller, and processors' contracts (R-ROPA-1,2)."""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel

from sargs.domains.ropa.processors import contract_status, processors_of
from sargs.domains.ropa.record import build_record, record_csv, record_document
from sargs.domains.tokens.service import Principal
from sargs.entrypoints.api.deps import ContainerDep, Permit, require_controller
from sargs.entrypoints.api.schemas import AUTHENTICATED_ERRORS, error_responses
from sargs.entrypoints.container import Container
from sargs.entrypoints.web.documents import render_document_html

router = APIRouter(tags=["record of processing"], responses=AUTHENTICATED_ERRORS)

Reader = Annotated[Principal, Depends(Permit("report.read"))]
Format = Literal["json", "csv", "html", "pdf"]
MEDIA = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
}


class ProcessorRead(BaseModel):
    id: str
    name: str
    controller: str
    contract_state: str
    in_force: bool
    signed: date | None
    expires: date | None
    reason: str | None
    outside_eea: bool
    purposes: list[str]
    data_categories: list[str]


def ropa_file(container: Container, controller: str, format: str, lang: str) -> tuple[bytes, str, str]:
    """(body, media type, file name) of the controller's record in the format asked for."""
    policy = container.registry.policy_for(controller)
    record = build_record(
        policy=policy, controller_id=controller, language=lang, today=container.clock.now().date()
    )
    name = f"record-of-processing-{controller}-{lang}.{format}"
    if format == "csv":
        body = ("\ufeff" + record_csv(record)).encode()  # the BOM makes spreadsheets read UTF-8
    elif format == "json":
        body = json.dumps(dataclasses.asdict(record), ensure_ascii=False, indent=2, default=str).encode()
    elif format == "html":
        body = render_document_html(record_document(record)).encode()
    else:
        from sargs.integrations.documents.pdf import render_pdf  # fpdf loads on first PDF

        body = render_pdf(record_document(record))
    return body, MEDIA[format], name


@router.get(
    "/ropa/{controller}",
    responses={
        200: {
            "description": "The Art. 30(1)(a)-(g) record of one controller.",
            "content": {m.split(";")[0]: {} for m in MEDIA.values()},
        },
        **error_responses(404),
    },
)
def ropa(
    controller: str,
    container: ContainerDep,
    principal: Reader,
    format: Annotated[Format, Query()] = "pdf",
    lang: Annotated[Literal["lv", "en"], Query()] = "lv",
) -> Response:
    """The record of processing activities generated from the controller's published policy."""
    require_controller(principal, controller)
    body, media, name = ropa_file(container, controller, format, lang)
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/processors", response_model=list[ProcessorRead])
def processors(
    container: ContainerDep,
    principal: Reader,
    controller: Annotated[str | None, Query(max_length=64)] = None,
) -> list[ProcessorRead]:
    """Processors per controller with their contract state today (expired when the date has passed)."""
    controllers = [controller] if controller else container.registry.controller_ids
    today = container.clock.now().date()
    out = []
    for c in controllers:
        policy = container.registry.policy_for(c)
        if not principal.may_see(c):
            continue
        for p in processors_of(policy, c):
            s = contract_status(p, today=today)
            out.append(
                ProcessorRead(
                    id=p.id,
                    name=p.name,
                    controller=c,
                    contract_state=s.state,
                    in_force=s.in_force,
                    signed=s.signed,
                    expires=s.expires,
                    reason=s.reason,
                    outside_eea=s.outside_eea,
                    purposes=list(p.purposes),
                    data_categories=list(p.data_categories),
                )
            )
    return out
