"""Small helpers for tests (markers, direct SQL)."""

from __future__ import annotations

import os

import pytest

PG_URL = os.environ.get("SARGS_TEST_DATABASE_URL")
requires_postgres = pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL: set SARGS_TEST_DATABASE_URL")
