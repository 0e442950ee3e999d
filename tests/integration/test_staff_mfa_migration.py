"""Migration 0013_c1 (staff second factor, SSO link, re-authentication time) goes up and down
with accounts and sessions in the tables, and keeps them."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, inspect, text

from sargs.migrations import downgrade, upgrade
from tests.helpers import PG_URL

STAFF = (
    "INSERT INTO staff_members (id, email, name, role, password_hash, created_at, failed_logins) "
    "VALUES ('s1', 'dpo@lmt.example', 'D', 'dpo', 'h', '2026-12-01 10:00:00+00', 0)"
)
SESSION = (
    "INSERT INTO web_sessions (id, token_sha256, kind, owner_id, created_at, last_seen_at, expires_at) "
    "VALUES ('w1', 'abc', 'staff', 's1', '2026-12-01 10:00:00+00', '2026-12-01 10:00:00+00', '2026-12-01 20:00:00+00')"
)


def test_up_and_down_with_rows(tmp_path: Path, _template_db: str) -> None:
    url = PG_URL or f"sqlite:///{tmp_path / 'm.db'}"
    downgrade(url, "base")
    upgrade(url, "0013_d1")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(STAFF))
            conn.execute(text(SESSION))
        upgrade(url, "0013_c1")
        names = {c["name"] for c in inspect(engine).get_columns("staff_members")}
        assert {"totp_secret", "totp_enrolled_at", "totp_last_step", "oidc_subject"} <= names
        assert "authenticated_at" in {c["name"] for c in inspect(engine).get_columns("web_sessions")}
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO staff_recovery_codes (id, staff_id, code_hash, created_at) "
                    "VALUES ('r1', 's1', 'h', '2026-12-01 10:00:00+00')"
                )
            )
            conn.execute(text("UPDATE staff_members SET oidc_subject = 'https://idp x' WHERE id = 's1'"))
        downgrade(url, "0013_d1")
        inspector = inspect(engine)
        assert "staff_recovery_codes" not in inspector.get_table_names()
        assert "totp_secret" not in {c["name"] for c in inspector.get_columns("staff_members")}
        with engine.connect() as conn:
            assert conn.execute(text("SELECT email FROM staff_members")).scalars().all() == [
                "dpo@lmt.example"
            ]
            assert conn.execute(text("SELECT owner_id FROM web_sessions")).scalars().all() == ["s1"]
        upgrade(url, "0013_c1")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT totp_secret FROM staff_members")).scalars().all() == [None]
    finally:
        engine.dispose()
        downgrade(url, "base")
        upgrade(url)
