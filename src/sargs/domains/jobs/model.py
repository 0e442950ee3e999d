"""The worker's tables: one row per periodic job (its next due time and lease) and queued tasks.

Nothing here holds personal data: a job row names the job; a task names what to run (a request id,
a source id) and keeps its progress and result as counts and error classes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sargs.core.db import Base, JSONType, UTCDateTime


class WorkerJob(Base):
    """A periodic job: due at next_run_at; a worker runs it only while it holds the lease."""

    __tablename__ = "worker_jobs"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lease_owner: Mapped[str | None] = mapped_column(String(64), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    last_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    last_ok: Mapped[bool | None] = mapped_column(Boolean, default=None)
    last_error: Mapped[str | None] = mapped_column(String(200), default=None)  # exception class only
    last_summary: Mapped[str | None] = mapped_column(String(500), default=None)  # counts, no personal data
    runs: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)


class WorkerTask(Base):
    """Long work queued by a request (DSR fulfilment, a retention run) and run by a worker."""

    __tablename__ = "worker_tasks"
    __table_args__ = (
        Index("ix_worker_tasks_status_created_at", "status", "created_at"),
        Index("ix_worker_tasks_kind_target", "kind", "target"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # dsr_fulfil | retention_run
    target: Mapped[str] = mapped_column(String(160))  # request id, or policy/source
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(16))  # queued | running | done | failed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(120))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    lease_owner: Mapped[str | None] = mapped_column(String(64), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    progress: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)  # {done, total, label}
    result: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    error: Mapped[str | None] = mapped_column(String(500), default=None)
