"""Who may work the breach register and read the DPO's reports (R-BRE, R-ROPA)."""

from __future__ import annotations

from sargs.domains.access.permissions import allows, roles_with


def test_dpo_and_admin_manage_breaches_and_the_auditor_only_reads_them() -> None:
    assert roles_with("breach.manage") == ("admin", "dpo")
    assert roles_with("breach.read") == ("admin", "dpo", "auditor")


def test_reports_are_for_dpo_admin_and_auditor_never_operator_or_marketing() -> None:
    assert roles_with("report.read") == ("admin", "dpo", "auditor")
    assert not allows("marketing", "breach.read") and not allows("operator", "report.read")
