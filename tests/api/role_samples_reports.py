"""Role-matrix samples for the breach register, the record of processing and the dashboard (issue 6)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import NOW

Sample = tuple[str, str, dict[str, Any]]

BREACH = {
    "controller": "lmt",
    "title": "Role matrix breach",
    "nature": "A sample breach for the role matrix.",
    "aware_at": (NOW - timedelta(hours=1)).isoformat(),
}


def seed_reports(client: TestClient, auth: Callable[..., dict[str, str]]) -> dict[str, str]:
    """Breaches in the states each sample request needs (open, assessed, high risk, no risk)."""
    admin = auth("admin")
    ids: dict[str, str] = {}
    for name, risk in (
        ("open", None),
        ("risk", "risk"),
        ("high", "high"),
        ("high2", "high"),
        ("none", "none"),
    ):
        r = client.post("/api/v1/breaches", json=BREACH, headers=admin)
        assert r.status_code == 201, r.text
        ids[f"breach_{name}"] = r.json()["id"]
        if risk:
            r = client.post(
                f"/api/v1/breaches/{ids[f'breach_{name}']}/assessment",
                json={"risk": risk, "reasoning": "role matrix reasoning"},
                headers=admin,
            )
            assert r.status_code == 200, r.text
    return ids


def api_samples(seeded: dict[str, str]) -> dict[str, Sample]:
    b = seeded
    return {
        "GET /api/v1/breaches": ("GET", "/api/v1/breaches", {}),
        "POST /api/v1/breaches": ("POST", "/api/v1/breaches", {"json": BREACH}),
        "GET /api/v1/breaches/{breach_id}": ("GET", f"/api/v1/breaches/{b['breach_open']}", {}),
        "PATCH /api/v1/breaches/{breach_id}": (
            "PATCH",
            f"/api/v1/breaches/{b['breach_open']}",
            {"json": {"approx_subjects": 3}},
        ),
        "POST /api/v1/breaches/{breach_id}/assessment": (
            "POST",
            f"/api/v1/breaches/{b['breach_open']}/assessment",
            {"json": {"risk": "risk", "reasoning": "role matrix reasoning"}},
        ),
        "POST /api/v1/breaches/{breach_id}/notifications": (
            "POST",
            f"/api/v1/breaches/{b['breach_risk']}/notifications",
            {"json": {"phase": "initial"}},
        ),
        "POST /api/v1/breaches/{breach_id}/exemption": (
            "POST",
            f"/api/v1/breaches/{b['breach_high']}/exemption",
            {"json": {"ground": "protected_data", "explanation": "encrypted with a key kept elsewhere"}},
        ),
        "POST /api/v1/breaches/{breach_id}/close": ("POST", f"/api/v1/breaches/{b['breach_none']}/close", {}),
        "POST /api/v1/breaches/{breach_id}/subject-notices": (
            "POST",
            f"/api/v1/breaches/{b['breach_high2']}/subject-notices",
            {"json": {}},
        ),
        "GET /api/v1/breaches/{breach_id}/notification": (
            "GET",
            f"/api/v1/breaches/{b['breach_open']}/notification",
            {"params": {"format": "pdf"}},
        ),
        "GET /api/v1/ropa/{controller}": ("GET", "/api/v1/ropa/lmt", {"params": {"format": "csv"}}),
        "GET /api/v1/processors": ("GET", "/api/v1/processors", {}),
    }


def console_samples(seeded: dict[str, str]) -> dict[str, Sample]:
    b = seeded
    base = "/console/breaches"
    return {
        "GET /console/breaches": ("GET", base, {}),
        "GET /console/breaches/new": ("GET", f"{base}/new", {"params": {"controller": "lmt"}}),
        "POST /console/breaches": (
            "POST",
            base,
            {
                "data": {
                    "controller": "lmt",
                    "title": "Console role matrix",
                    "nature": "A sample breach.",
                    "aware_at": (NOW - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
                }
            },
        ),
        "GET /console/breaches/{breach_id}": ("GET", f"{base}/{b['breach_open']}", {}),
        "POST /console/breaches/{breach_id}/assess": (
            "POST",
            f"{base}/{b['breach_open']}/assess",
            {"data": {"risk": "risk", "reasoning": "role matrix reasoning"}},
        ),
        "POST /console/breaches/{breach_id}/notify": (
            "POST",
            f"{base}/{b['breach_risk']}/notify",
            {"data": {"phase": "initial"}},
        ),
        "POST /console/breaches/{breach_id}/exemption": (
            "POST",
            f"{base}/{b['breach_high']}/exemption",
            {"data": {"ground": "protected_data", "explanation": "encrypted with a key kept elsewhere"}},
        ),
        "POST /console/breaches/{breach_id}/close": (
            "POST",
            f"{base}/{b['breach_none']}/close",
            {"data": {}},
        ),
        "POST /console/breaches/{breach_id}/subject-notices": (
            "POST",
            f"{base}/{b['breach_high2']}/subject-notices",
            {"data": {}},
        ),
        "GET /console/breaches/{breach_id}/notification": (
            "GET",
            f"{base}/{b['breach_open']}/notification",
            {"params": {"format": "json"}},
        ),
        "GET /console/breaches/{breach_id}/edit": ("GET", f"{base}/{b['breach_open']}/edit", {}),
        "POST /console/breaches/{breach_id}/edit": (
            "POST",
            f"{base}/{b['breach_open']}/edit",
            {
                "data": {
                    "title": "Edited in the role matrix",
                    "nature": "A sample breach.",
                    "aware_at": (NOW - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
                }
            },
        ),
        "GET /console/dashboard": ("GET", "/console/dashboard", {}),
        "POST /console/policies/{policy_id}/notify": (
            "POST",
            "/console/policies/lmt-group/notify",
            {"data": {}},
        ),
        "GET /console/ropa": ("GET", "/console/ropa", {}),
        "GET /console/ropa/{controller}": ("GET", "/console/ropa/lmt", {"params": {"format": "csv"}}),
    }
