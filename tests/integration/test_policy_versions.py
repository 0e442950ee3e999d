"""Published policy versions are immutable; review reminders follow the interval (R-POL-3)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from sargs.bootstrap import build
from sargs.core.config import Settings
from sargs.core.errors import PolicyError
from sargs.domains.policy.registry import PolicyRegistry, policy_as_published, publish
from sargs.domains.policy.schema import Policy, Text
from sargs.entrypoints.container import Container

NOW = datetime(2026, 11, 23, tzinfo=UTC)


def reworded(policy: Policy, version: str | None = None) -> Policy:
    purpose = policy.purposes[0].model_copy(update={"title": Text(lv="Cits nosaukums", en="Another title")})
    meta = policy.policy.model_copy(update={"version": version or policy.version})
    return policy.model_copy(update={"purposes": [purpose, *policy.purposes[1:]], "policy": meta})


def test_republishing_the_same_content_is_a_no_op(
    container: Container, example_policies: list[Policy]
) -> None:
    with container.sessions.begin() as s:
        assert publish(session=s, policy=example_policies[0], now=NOW) is False  # published at start


def test_two_processes_publishing_the_same_version_at_once_both_start(
    container: Container, example_policies: list[Policy], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second one's insert conflicts with the first one's row; it checks that row instead."""
    with container.sessions.begin() as s:
        real_get = s.get
        calls = iter([None])
        monkeypatch.setattr(s, "get", lambda *a, **k: next(calls, None) or real_get(*a, **k))
        assert publish(session=s, policy=example_policies[0], now=NOW) is False
        with pytest.raises(PolicyError, match="immutable"):
            calls = iter([None])
            publish(session=s, policy=reworded(example_policies[0]), now=NOW)


def test_changing_a_published_version_is_refused(
    container: Container, example_policies: list[Policy]
) -> None:
    with pytest.raises(PolicyError, match="immutable"), container.sessions.begin() as s:
        publish(session=s, policy=reworded(example_policies[0]), now=NOW)


def test_a_changed_policy_with_a_new_version_is_published_and_the_old_one_kept(
    container: Container, example_policies: list[Policy]
) -> None:
    new = reworded(example_policies[0], version="2026-11-23")
    with container.sessions.begin() as s:
        assert publish(session=s, policy=new, now=NOW) is True
    registry = PolicyRegistry([new, example_policies[1]])
    with container.read_sessions.begin() as s:
        old = policy_as_published(session=s, registry=registry, policy_id="lmt-group", version="2021-01-12")
    assert old == example_policies[0]


def test_a_server_will_not_start_on_a_silently_edited_policy(
    container: Container, example_policies: list[Policy], db_url: str
) -> None:
    with pytest.raises(PolicyError, match=r"new `policy\.version`"):
        build(Settings(database_url=db_url), policies=[reworded(example_policies[0]), example_policies[1]])


def test_review_reminder_is_due_two_years_after_publication(example_policies: list[Policy]) -> None:
    registry = PolicyRegistry(example_policies)
    reminders = {r.policy_id: r for r in registry.review_reminders(today=date(2026, 11, 23))}
    assert reminders["lytagra-group"].due == date(2020, 6, 1) and reminders["lytagra-group"].overdue
    assert reminders["lmt-group"].due == date(2023, 1, 12)
    fresh = {r.policy_id: r for r in registry.review_reminders(today=date(2019, 1, 1))}
    assert not fresh["lytagra-group"].overdue


def test_two_policies_may_not_declare_the_same_controller(example_policies: list[Policy]) -> None:
    with pytest.raises(PolicyError, match="declared by both"):
        PolicyRegistry(
            [
                example_policies[0],
                example_policies[0].model_copy(
                    update={"policy": example_policies[0].policy.model_copy(update={"id": "copy"})}
                ),
            ]
        )
