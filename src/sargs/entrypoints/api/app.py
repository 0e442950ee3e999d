"""The FastAPI application."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI
from sqlalchemy.orm import Session

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
# Writes in one transaction at most: each holds its person's lock until the group commits.
WRITE_GROUP = 100


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

    def grouped(
        name: str, work: str, run: Callable[[Session, Sequence[Any]], Sequence[Any]], max_items: int
    ) -> GroupCommit[Any, Any]:
        """A group commit of this app's requests of one kind, its group sizes in /metrics as `work`."""
        return GroupCommit(
            container.sessions,
            run,
            name=name,
            max_items=max_items,
            on_group=app.state.metrics.http.group_observer(work),
            lanes=lanes,
        )

    # Single consent checks that arrive together share one transaction (consents.check); so do
    # consent writes and inbound SMS, each done as alone and answered once its group committed.
    app.state.consent_checks = grouped(
        "consent-checks",
        "consent_check",
        lambda session, items: check_and_log_many(session=session, requests=items),
        MAX_BATCH_CHECK,
    )
    app.state.consent_writes = grouped(
        "consent-writes", "consent_write", functools.partial(consents.write_consents, container), WRITE_GROUP
    )
    app.state.sms_inbound = grouped(
        "sms-inbound", "sms_inbound", functools.partial(sms.handle_many, container), WRITE_GROUP
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
