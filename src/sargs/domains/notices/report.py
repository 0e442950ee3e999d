"""What one notice run did."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class NoticeReport:
    """What one run did: people newly told per channel, already told, unreachable, e-mail not possible."""

    sms: int = 0
    email: int = 0
    already: int = 0
    unreachable: int = 0
    email_unavailable: int = 0
    batches: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def queued(self) -> int:
        return self.sms + self.email

    @property
    def seen(self) -> int:
        return self.queued + self.already + self.unreachable + self.email_unavailable


__all__ = ["NoticeReport"]
