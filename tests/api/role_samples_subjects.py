"""Sample requests for the client-group routes (issue 19), merged into the role-matrix test."""

from __future__ import annotations

from typing import Any

Sample = tuple[str, str, dict[str, Any]]


def subject_group_samples(phone: str) -> dict[str, Sample]:
    return {
        "PUT /api/v1/subjects/{identity}/groups": (
            "PUT",
            f"/api/v1/subjects/msisdn:{phone}/groups",
            {"json": {"groups": {"lmt": "own"}}},
        ),
        "POST /api/v1/subjects/groups:batch": (
            "POST",
            "/api/v1/subjects/groups:batch",
            {"json": {"items": [{"identities": [f"msisdn:{phone}"], "groups": {"lmt": "own"}}]}},
        ),
    }
