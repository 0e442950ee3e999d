"""What every entrypoint needs, built by `sargs.bootstrap`."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from sargs.core.clock import Clock, SystemClock
from sargs.core.config import Settings
from sargs.domains.policy.registry import PolicyRegistry


@dataclass
class Container:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    read_sessions: sessionmaker[Session]
    registry: PolicyRegistry
    clock: Clock = field(default_factory=SystemClock)

    def close(self) -> None:
        self.engine.dispose()
