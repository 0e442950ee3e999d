"""The FastAPI application."""

from __future__ import annotations

import functools

from fastapi import FastAPI

import sargs
from sargs.core.group_commit import GroupCommit
from sargs.domains.consent.checks import MAX_BATCH_CHECK, check_and_log_many
from sargs.entrypoints.api.deps import TokenCache
from sargs.entrypoints.api.errors import install_error_handlers
from sargs.entrypoints.api.metrics import Metrics
from sargs.entrypoints.api.middleware import install_middleware
from sargs.entrypoints.api.routers import (
    audiences,
    audit,
    breaches,
    client_groups,
    consents,
    dsr,
    dsr_followups,
    health,
    opendsr,
    operations,
    retention,
    ropa,
    sms,
    staff,
    subjects,
    web,
)
from sargs.entrypoints.api.routers.wellknown import install_well_known
from sargs.entrypoints.container import Container

GROUP_LANES = 4


def create_api(container: Container) -> FastAPI:
    """Build the API around a container (engine, sessions, policies, clock)."""
    app = FastAPI(
        title="Sargs",
        version=sargs.__version__,
        description="Privacy operations: consent ledger, audiences, receipts. Authenticate with `Authorization: Bearer <token>`.",
    )
    app.state.container = container
    app.state.token_cache = TokenCache()
    app.state.metrics = Metrics(container)
    # Transactions in flight at once per group commit: PostgreSQL works on several groups at a
    # time; SQLite has one writer, so more lanes would only wait for each other's lock.
    lanes = 1 if container.engine.dialect.name == "sqlite" else GROUP_LANES
    # Single consent checks that arrive together share one transaction (consents.check).
    app.state.consent_checks = GroupCommit(
        container.sessions,
        lambda session, items: check_and_log_many(session=session, requests=items),
        name="consent-checks",
        max_items=MAX_BATCH_CHECK,
        on_group=app.state.metrics.http.group_observer("consent_check"),
        lanes=lanes,
    )
    # Consent writes and inbound SMS likewise: each done as alone, answered once its group committed.
    app.state.consent_writes = GroupCommit(
        container.sessions,
        functools.partial(consents.write_consents, container),
        name="consent-writes",
        max_items=consents.WRITE_GROUP,
        on_group=app.state.metrics.http.group_observer("consent_write"),
        lanes=lanes,
    )
    app.state.sms_inbound = GroupCommit(
        container.sessions,
        functools.partial(sms.handle_many, container),
        name="sms-inbound",
        max_items=consents.WRITE_GROUP,
        on_group=app.state.metrics.http.group_observer("sms_inbound"),
        lanes=lanes,
    )
    install_error_handlers(app)
    install_middleware(
        app,
        metrics=app.state.metrics.http,
        log_access=container.settings.access_log,
        trust_request_id=container.settings.trust_request_id,
    )
    app.include_router(operations.router)
    install_well_known(app, container)
    for router in (
        health.router,
        consents.router,
        subjects.router,
        client_groups.router,
        audiences.router,
        audit.router,
        staff.router,
        sms.router,
        dsr.router,
        dsr_followups.router,
        opendsr.router,
        breaches.router,
        ropa.router,
        web.router,
        retention.router,
    ):
        app.include_router(router, prefix="/api/v1")
    return app
