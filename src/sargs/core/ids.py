"""Identifiers: random, unguessable, and free of personal data."""

from __future__ import annotations

import uuid


def new_id() -> str:
    """A new random identifier (UUID4, 32 hex characters)."""
    return uuid.uuid4().hex
