"""One exception tree for the whole application.

Entrypoints translate these into HTTP statuses or CLI exit codes; domain code raises
only these (or lets database errors through untouched).
"""

from __future__ import annotations

from typing import Any


class SargsError(Exception):
    """Base of every error Sargs raises on purpose."""

    code = "error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(SargsError):
    """The caller sent something malformed (bad identity, unknown purpose, bad date...)."""

    code = "invalid_input"


class NotFound(SargsError):
    """The thing asked for does not exist (or the caller may not know it exists)."""

    code = "not_found"


class Conflict(SargsError):
    """The request contradicts what is stored (e.g. an idempotency key reused for other data)."""

    code = "conflict"


class NotEligible(SargsError):
    """Policy does not allow this subject to give this consent (R-CON-3)."""

    code = "not_eligible"


class PolicyError(SargsError):
    """A policy file is invalid or a published version was changed."""

    code = "policy_error"


class PermissionDenied(SargsError):
    """The caller is authenticated but its role may not do this."""

    code = "forbidden"


class ReasonRequired(PermissionDenied):
    """The caller's role must state why it opens this person's data (R-ACC-1)."""

    code = "reason_required"


class Unauthenticated(SargsError):
    """No valid credentials."""

    code = "unauthenticated"


class RateLimited(SargsError):
    """Too many attempts in a window (sign-in codes, passwords)."""

    code = "rate_limited"


class RateLimitUnavailable(RateLimited):
    """A limit that fails closed could not be checked (its shared storage is unreachable)."""


class ConfigurationError(SargsError):
    """Settings are unusable (e.g. a default secret outside demo mode)."""

    code = "configuration_error"


class SourceUnavailable(SargsError):
    """A declared data source cannot be read as declared (unreachable, missing table or column)."""

    code = "source_unavailable"


class SourceBusy(SourceUnavailable):
    """A data source failed for now (a timeout, 429, a 5xx): the same call may succeed later.

    `retry_after`: seconds the source asked to wait (Retry-After), or None for the caller's backoff.
    """

    code = "source_busy"

    def __init__(self, message: str, *, retry_after: float | None = None, **details: Any) -> None:
        super().__init__(message, **details)
        self.retry_after = retry_after
