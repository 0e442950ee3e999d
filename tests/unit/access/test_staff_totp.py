"""The sealed TOTP secret and the second-factor rule (pure parts of domains/staff/mfa.py)."""

from __future__ import annotations

from sargs.domains.staff.mfa import mfa_key, mfa_required, seal, unseal


def test_a_sealed_secret_opens_only_with_its_key_and_for_its_account() -> None:
    key, other = mfa_key("one key"), mfa_key("another key")
    sealed = seal(key, "staff-1", "JBSWY3DPEHPK3PXP")
    assert "JBSWY3DPEHPK3PXP" not in sealed and sealed.startswith("v1:")
    assert unseal(key, "staff-1", sealed) == "JBSWY3DPEHPK3PXP"
    assert unseal(other, "staff-1", sealed) is None
    assert unseal(key, "staff-2", sealed) is None  # copied onto another account: opens nothing
    assert unseal(key, "staff-1", "plain") is None
    assert seal(key, "staff-1", "JBSWY3DPEHPK3PXP") != sealed  # a fresh nonce each time


def test_admin_and_dpo_always_need_a_second_factor() -> None:
    assert mfa_required("admin", set()) and mfa_required("dpo", set())
    assert not mfa_required("operator", {"admin", "dpo"})
    assert mfa_required("operator", {"operator"})
