"""Client groups from the organisation's systems, one person or a batch at a time (issue 19, R-CON-3).

Both routes go through sargs.domains.subjects.groups, as `sargs subjects import` and the sync do:
a person Sargs does not know is created, identities are added, a move out of a group lapses the
consents only that group may give. Each changed person gets a row in the access log. A batch is
one transaction: if any item is bad, nothing is written and every bad item is named (422).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from sargs.core.errors import Conflict, InvalidInput
from sargs.domains.subjects.groups import GroupReport, apply_batch
from sargs.domains.subjects.identifiers import Identity, parse_identity
from sargs.domains.subjects.records import Membership, parse_record
from sargs.domains.subjects.service import find_subject_id, view_subject
from sargs.domains.tokens.service import Principal
from sargs.entrypoints.api.deps import ContainerDep, Permit, audit, require_controller
from sargs.entrypoints.api.schemas import AUTHENTICATED_ERRORS, error_responses

router = APIRouter(tags=["subjects"], responses=AUTHENTICATED_ERRORS)

Writer = Annotated[Principal, Depends(Permit("subject.groups"))]
MAX_BATCH = 1000


class GroupsWrite(BaseModel):
    groups: dict[str, str] = Field(
        min_length=1, max_length=50, description='Controller -> client group, e.g. {"lmt": "own"}.'
    )
    identities: list[str] = Field(
        default_factory=list,
        max_length=10,
        description='More identities of the same person to attach, e.g. ["customer:C-1001"].',
    )


class GroupsRead(BaseModel):
    subject_id: str
    groups: dict[str, str]
    created: bool
    changed: bool
    consents_lapsed: int


class BatchItem(BaseModel):
    identities: list[str] = Field(min_length=1, max_length=10, description='e.g. ["msisdn:+37129123456"].')
    groups: dict[str, str] = Field(min_length=1, max_length=50)


class BatchWrite(BaseModel):
    items: list[BatchItem] = Field(min_length=1, max_length=MAX_BATCH)
    dry_run: bool = False


class BatchRead(BaseModel):
    items: int
    created: int
    group_changes: int
    identities_added: int
    unchanged: int
    consents_lapsed: int
    dry_run: bool


def _record(identities: list[Identity], groups: dict[str, str]) -> dict[str, Any]:
    record: dict[str, Any] = {"groups": groups}
    for ident in identities:
        if ident.kind in record:
            raise InvalidInput(f"give one {ident.kind} per person", field="identities")
        record[ident.kind] = ident.value
    return record


def _memberships(
    container: Any, principal: Principal, index: int, identities: list[str], groups: dict[str, str]
) -> list[Membership]:
    region = container.settings.default_region
    idents = [parse_identity(text, region=region) for text in identities]
    for controller in groups:
        require_controller(principal, controller)
    return parse_record(_record(idents, groups), line=index, registry=container.registry, region=region)


def _apply(
    container: Any,
    principal: Principal,
    request: Request,
    items: list[Membership],
    *,
    dry_run: bool,
    log_unchanged: bool = False,
) -> GroupReport:
    session = container.sessions()
    try:  # closing without a commit rolls back: a conflict or a dry run writes nothing
        session.begin()
        report = apply_batch(
            session=session, registry=container.registry, items=items, now=container.clock.now(), by="api"
        )
        if report.errors:
            raise Conflict(
                "some items name identities of different people; nothing was written",
                field="items",
                problems=[{"index": e.line, "message": e.reason} for e in report.errors],
            )
        if dry_run:
            return report
        for subject_id, controllers in _by_subject(report).items():
            audit(
                session,
                container,
                principal,
                request,
                "change",
                subject_id=subject_id,
                controllers=controllers,
            )
        if log_unchanged and not report.changes:  # a single person named: logged even if nothing changed
            ident = items[0].identities[0]
            audit(
                session,
                container,
                principal,
                request,
                "change",
                subject_id=find_subject_id(session=session, identity=ident),
                controllers=[m.controller for m in items],
                outcome="unchanged",
            )
        session.commit()
        return report
    finally:
        session.close()


def _by_subject(report: GroupReport) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for _line, subject_id, controller in report.changes:
        if controller not in out.setdefault(subject_id, []):
            out[subject_id].append(controller)
    return out


@router.put(
    "/subjects/{identity}/groups",
    response_model=GroupsRead,
    responses=error_responses(400, 409, 422),
)
def put_groups(
    identity: str, body: GroupsWrite, request: Request, container: ContainerDep, principal: Writer
) -> GroupsRead:
    """Put one person (created if Sargs does not know them) in a client group at each controller
    named. Moving them out of a group lapses the consents only that group may give."""
    items = _memberships(container, principal, 0, [identity, *body.identities], body.groups)
    report = _apply(container, principal, request, items, dry_run=False, log_unchanged=True)
    ident = parse_identity(identity, region=container.settings.default_region)
    with container.read_sessions.begin() as session:
        subject_id = find_subject_id(session=session, identity=ident)
        assert subject_id is not None
        view = view_subject(session=session, subject_id=subject_id)
    return GroupsRead(
        subject_id=subject_id,
        groups={c: g for c, g in view.groups.items() if principal.may_see(c)},
        created=report.created > 0,
        changed=report.changed > 0,
        consents_lapsed=report.lapsed,
    )


@router.post(
    "/subjects/groups:batch",
    response_model=BatchRead,
    responses=error_responses(400, 409, 422),
)
def batch_groups(body: BatchWrite, request: Request, container: ContainerDep, principal: Writer) -> BatchRead:
    """Up to 1000 people at once, in one transaction: all land, or (a bad item) none and every bad
    item is named by its index. `dry_run` reports what would change."""
    items: list[Membership] = []
    problems: list[dict[str, Any]] = []
    for index, item in enumerate(body.items):
        try:
            items.extend(_memberships(container, principal, index, item.identities, item.groups))
        except InvalidInput as exc:
            problems.append({"index": index, "message": exc.message})
    if problems:
        raise InvalidInput(
            f"{len(problems)} of {len(body.items)} items are invalid; nothing was written",
            field="items",
            problems=problems,
        )
    report = _apply(container, principal, request, items, dry_run=body.dry_run)
    return BatchRead(
        items=len(body.items),
        created=report.created,
        group_changes=report.joined,
        identities_added=report.identities_added,
        unchanged=report.unchanged,
        consents_lapsed=report.lapsed,
        dry_run=body.dry_run,
    )
