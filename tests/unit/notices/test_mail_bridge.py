"""The bridge to the e-mail outbox: used when the installation has one, forwarding every field."""

from __future__ import annotations

import sys
import types
from datetime import UTC, datetime
from typing import Any

from sargs.entrypoints.notices import OutboxMailQueue, mail_queue

NOW = datetime(2026, 11, 23, tzinfo=UTC)


def test_the_outbox_enqueue_receives_every_field_and_its_id_comes_back() -> None:
    calls: list[dict[str, Any]] = []

    def enqueue(
        *,
        session: Any,
        to: str,
        subject: str,
        text: str,
        kind: str,
        now: datetime,
        headers: dict[str, str] | None = None,
        subject_id: str | None = None,
    ) -> str:
        calls.append(
            {"to": to, "subject": subject, "kind": kind, "headers": headers, "subject_id": subject_id}
        )
        return "mail-1"

    queue = OutboxMailQueue(enqueue)
    got = queue.enqueue(
        session=None,
        to="a@example.lv",
        subject="S",
        text="T",
        headers={"X-Sargs-Breach": "b"},
        kind="breach",
        now=NOW,
        subject_id="s1",
    )  # type: ignore[arg-type]
    assert got == "mail-1"
    assert calls == [
        {
            "to": "a@example.lv",
            "subject": "S",
            "kind": "breach",
            "headers": {"X-Sargs-Breach": "b"},
            "subject_id": "s1",
        }
    ]


def test_without_an_e_mail_outbox_there_is_no_queue_and_with_one_it_is_used() -> None:
    name = "sargs.domains.mail.outbox"
    saved = sys.modules.get(name)
    try:
        sys.modules[name] = None  # type: ignore[assignment]  # import fails as if absent
        assert mail_queue(None) is None  # type: ignore[arg-type]
        fake = types.ModuleType(name)
        fake.enqueue = lambda **kw: "id"  # type: ignore[attr-defined]
        sys.modules[name] = fake
        queue = mail_queue(None)  # type: ignore[arg-type]
        assert isinstance(queue, OutboxMailQueue)
    finally:
        if saved is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = saved
