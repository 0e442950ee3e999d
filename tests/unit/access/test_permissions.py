"""The role map itself: what each role may and may never do (R-ACC-1)."""

from __future__ import annotations

from sargs.domains.access.permissions import (
    GRANTABLE_ROLES,
    PERMISSIONS,
    ROLE_PERMISSIONS,
    ROLES,
    allows,
    reason_required,
    roles_with,
)


def test_every_role_has_an_entry_and_only_known_permissions() -> None:
    assert set(ROLE_PERMISSIONS) == set(ROLES)
    for perms in ROLE_PERMISSIONS.values():
        assert perms <= set(PERMISSIONS)


def test_marketing_reaches_audiences_and_the_check_but_never_a_persons_history() -> None:
    assert allows("marketing", "audience.export") and allows("marketing", "consent.check")
    assert not allows("marketing", "subject.read")
    assert not allows("marketing", "consent.write")


def test_auditor_reads_everything_and_writes_nothing() -> None:
    assert allows("auditor", "subject.read") and allows("auditor", "audit.read")
    assert not {"consent.write", "staff.manage", "audience.export"} & ROLE_PERMISSIONS["auditor"]


def test_operator_finds_and_records_but_cannot_read_the_audit_log_or_manage_staff() -> None:
    assert {"subject.read", "consent.write"} <= ROLE_PERMISSIONS["operator"]
    assert not allows("operator", "audit.read") and not allows("operator", "staff.manage")


def test_only_admin_and_dpo_manage_staff_and_a_dpo_cannot_create_an_admin() -> None:
    assert roles_with("staff.manage") == ("admin", "dpo")
    assert "admin" not in GRANTABLE_ROLES["dpo"] and "operator" in GRANTABLE_ROLES["dpo"]


def test_reads_of_a_named_person_need_a_reason_except_for_the_operator_at_the_counter() -> None:
    assert reason_required("dpo", "subject.read") and reason_required("auditor", "subject.read")
    assert not reason_required("operator", "subject.read")
    assert not reason_required("dpo", "consent.check")


def test_unknown_role_may_do_nothing() -> None:
    assert not any(allows("root", p) for p in PERMISSIONS)
