"""Every route × every role, derived from the role map: each role reaches only what it needs.

Routes declare their permission with `Permit(...)` (API) or `StaffPermit(...)` (console);
this test finds them on the app, so a new route without a sample request here fails.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from sargs.bootstrap import create_app
from sargs.domains.access.permissions import ROLES, allows
from sargs.entrypoints.api.deps import Permit
from sargs.entrypoints.container import Container
from sargs.entrypoints.web.security import StaffPermit
from tests.api.role_samples_followups import followup_api_samples, followup_console_samples, seed_followups
from tests.api.role_samples_reports import api_samples, console_samples, seed_reports
from tests.api.role_samples_subjects import subject_group_samples
from tests.web_helpers import console_csrf, console_login

PHONE = "+37129000001"
REASON = {"X-Access-Reason": "role matrix test"}
# Console and portal pages that any signed-in staff member / anyone may open.
OPEN_TO_ALL = {
    "GET /api/v1/health",
    "POST /api/v1/sms/inbound",  # the SMS provider's webhook: authenticated by its request signature
    "GET /console/login",
    "POST /console/login",
    "POST /console/logout",
    # issue 18: the sign-in steps after the password (a pending session opens only these) and SSO
    "GET /console/login/code",
    "POST /console/login/code",
    "GET /console/login/enrol",
    "POST /console/login/enrol",
    "POST /console/login/sso",
    "GET /console/login/sso/callback",
    "GET /console/",
    # issue 7: website visitors' cookie banner (rate limited, CORS to listed origins), the mail
    # provider's signed webhook and the shop's conversion report (authenticated by a signed click token)
    "GET /api/v1/web/cookie-categories",
    "GET /api/v1/web/sargs-consent.js",
    "POST /api/v1/web/cookie-consents",
    "POST /api/v1/mail/events",
    "POST /api/v1/mail/conversions",
    # issue 16.4: OpenDSR discovery, service status and the processor's certificate are public (spec 6, 8.8)
    "GET /api/v1/opendsr/discovery",
    "GET /api/v1/opendsr/status",
    "GET /api/v1/opendsr/processor-certificate.pem",
}


def permission_of(route: APIRoute) -> str | None:
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if isinstance(dep.call, Permit | StaffPermit):
            return dep.call.permission
        stack.extend(dep.dependencies)
    return None


def api_routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    """(full path, route) for every APIRoute, also inside included routers (FastAPI >= 0.16x nests them)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, route
        elif hasattr(route, "original_router"):
            yield from api_routes(route.original_router.routes, prefix + route.include_context.prefix)


def guarded_routes(app: FastAPI, prefix: str) -> dict[str, str]:
    out = {}
    for path, route in api_routes(app.routes):
        if path.startswith(prefix):
            for method in route.methods:
                key = f"{method} {path}"
                perm = permission_of(route)
                if perm is None:
                    assert key in OPEN_TO_ALL, f"{key} has no permission check"
                else:
                    out[key] = perm
    return out


@pytest.fixture
def seeded(client: TestClient, auth: Callable[..., dict[str, str]], container: Container) -> dict[str, str]:
    from sargs.domains.retention.holds import add_hold

    with container.sessions.begin() as session:
        hold = add_hold(
            session=session,
            registry=container.registry,
            reason="role matrix hold",
            created_by="test",
            now=container.clock.now(),
            source_id="loyalty",
            table="members",
        )
    r = client.post(
        "/api/v1/consents",
        json={"controller": "lmt", "identity": f"msisdn:{PHONE}", "purpose": "offers", "action": "grant"},
        headers=auth("admin"),
    )
    assert r.status_code == 201, r.text
    out = {
        "event_id": r.json()["event"]["id"],
        "subject_id": r.json()["event"]["subject_id"],
        "hold_id": hold.id,
        **seed_dsr(client.app.state.container),  # type: ignore[attr-defined]
        **seed_reports(client, auth),
    }
    return {**out, **seed_followups(container, out["dsr_id"])}


def seed_dsr(container: Container) -> dict[str, str]:
    """Rights requests for the DSR routes: one to read, verify, decide on, a repeat, an OpenDSR one."""
    from sargs.domains.dsr.intake import Intake, file_request
    from sargs.domains.dsr.service import DsrActor, lock_request, verify_identity
    from sargs.domains.subjects.identifiers import Identity

    actor = DsrActor("staff", "seed")
    requester = {"name": "A B", "address": "Rīga", "contact": PHONE, "signed": True}

    def file(kind: str, channel: str = "in_person", **kw: object) -> str:
        with container.sessions.begin() as session:
            intake = Intake(
                controller="lmt",
                kind=kind,
                channel=channel,
                identities=[Identity("msisdn", PHONE)],
                requester=requester,
                **kw,  # type: ignore[arg-type]
            )
            return file_request(
                session=session,
                registry=container.registry,
                intake=intake,
                actor=actor,
                now=container.clock.now(),
            ).id

    out = {"dsr_id": file("access"), "verify_id": file("restriction", details="stop profiling")}
    out["repeat_id"] = file("access")
    out["decision_id"] = file("rectification", details="my name is A B")
    with container.sessions.begin() as session:
        row = lock_request(session=session, request_id=out["decision_id"])
        verify_identity(
            session=session,
            request=row,
            method="id_document",
            evidence={"document_type": "passport"},
            actor=actor,
            now=container.clock.now(),
        )
    file("access", channel="api", external_id="seed-opendsr")
    from sargs.domains.jobs import tasks

    with container.sessions.begin() as session:  # background tasks whose status URLs are read
        tasks.enqueue(
            session=session,
            kind="dsr_fulfil",
            target=out["dsr_id"],
            created_by="test",
            now=container.clock.now(),
        )
        out["retention_task"] = tasks.enqueue(
            session=session,
            kind="retention_run",
            target="sargs/sargs",
            params={"policy": "sargs", "source": "sargs"},
            created_by="test",
            now=container.clock.now(),
        )[0].id
    return out


def api_requests(seeded: dict[str, str], role: str) -> dict[str, tuple[str, str, dict[str, Any]]]:
    return {
        "POST /api/v1/consents": (
            "POST",
            "/api/v1/consents",
            {
                "json": {
                    "controller": "lmt",
                    "identity": f"msisdn:{PHONE}",
                    "purpose": "offers",
                    "action": "grant",
                }
            },
        ),
        "GET /api/v1/consents/check": (
            "GET",
            "/api/v1/consents/check",
            {"params": {"controller": "lmt", "identity": f"msisdn:{PHONE}", "purpose": "offers"}},
        ),
        "POST /api/v1/consents/checks": (
            "POST",
            "/api/v1/consents/checks",
            {"json": {"controller": "lmt", "items": [{"identity": f"msisdn:{PHONE}", "purpose": "offers"}]}},
        ),
        "GET /api/v1/subjects/{identity}/consents": ("GET", f"/api/v1/subjects/msisdn:{PHONE}/consents", {}),
        "GET /api/v1/consents/{event_id}/receipt": (
            "GET",
            f"/api/v1/consents/{seeded['event_id']}/receipt",
            {},
        ),
        "GET /api/v1/audiences/{purpose}": (
            "GET",
            "/api/v1/audiences/offers",
            {"params": {"controller": "lmt"}},
        ),
        "GET /api/v1/audit": ("GET", "/api/v1/audit", {}),
        "GET /api/v1/sms/messages": (
            "GET",
            "/api/v1/sms/messages",
            {"params": {"identity": f"msisdn:{PHONE}"}},
        ),
        "GET /api/v1/staff": ("GET", "/api/v1/staff", {}),
        "POST /api/v1/staff": (
            "POST",
            "/api/v1/staff",
            {
                "json": {
                    "email": f"new-{role}@staff.example",
                    "name": "New",
                    "role": "operator",
                    "password": "a long enough password",
                    "controllers": ["lmt"],
                }
            },
        ),
        "POST /api/v1/staff/disable": (
            "POST",
            "/api/v1/staff/disable",
            {"json": {"email": "victim@staff.example"}},
        ),
        # --- retention ---
        "GET /api/v1/retention/plan": ("GET", "/api/v1/retention/plan", {}),
        "GET /api/v1/retention/runs": ("GET", "/api/v1/retention/runs", {}),
        "POST /api/v1/retention/runs": (
            "POST",
            "/api/v1/retention/runs",
            {"json": {"policy": "sargs", "source": "sargs"}},
        ),
        "GET /api/v1/retention/tasks/{task_id}": (
            "GET",
            f"/api/v1/retention/tasks/{seeded['retention_task']}",
            {},
        ),
        "GET /api/v1/retention/log": ("GET", "/api/v1/retention/log", {}),
        "GET /api/v1/retention/holds": ("GET", "/api/v1/retention/holds", {}),
        "POST /api/v1/retention/holds": (
            "POST",
            "/api/v1/retention/holds",
            {"json": {"reason": "role matrix", "identity": f"msisdn:{PHONE}"}},
        ),
        "POST /api/v1/retention/holds/{hold_id}/release": (
            "POST",
            f"/api/v1/retention/holds/{seeded['hold_id']}/release",
            {},
        ),
        "POST /api/v1/dsr/requests": (
            "POST",
            "/api/v1/dsr/requests",
            {
                "json": {
                    "controller": "lmt",
                    "kind": "access",
                    "channel": "post",
                    "identities": [f"msisdn:{PHONE}"],
                    "requester": {"name": "A B", "address": "Rīga", "contact": "post", "signed": True},
                }
            },
        ),
        "GET /api/v1/dsr/requests": ("GET", "/api/v1/dsr/requests", {"params": {"overdue": "false"}}),
        "GET /api/v1/dsr/requests/{request_id}": ("GET", f"/api/v1/dsr/requests/{seeded['dsr_id']}", {}),
        "POST /api/v1/dsr/requests/{request_id}/verify": (
            "POST",
            f"/api/v1/dsr/requests/{seeded['verify_id']}/verify",
            {"json": {"method": "id_document", "evidence": {"document_type": "ID card"}}},
        ),
        "POST /api/v1/dsr/requests/{request_id}/fulfil": (
            "POST",
            f"/api/v1/dsr/requests/{seeded['decision_id']}/fulfil",
            {"json": {"outcome": "fulfilled"}},
        ),
        "GET /api/v1/dsr/requests/{request_id}/fulfilment": (
            "GET",
            f"/api/v1/dsr/requests/{seeded['dsr_id']}/fulfilment",
            {},
        ),
        "GET /api/v1/dsr/requests/{request_id}/response": (
            "GET",
            f"/api/v1/dsr/requests/{seeded['dsr_id']}/response",
            {"params": {"format": "html"}},
        ),
        "POST /api/v1/opendsr/requests": (
            "POST",
            "/api/v1/opendsr/requests",
            {
                "json": {
                    "regulation": "gdpr",
                    "subject_request_id": str(uuid.uuid4()),
                    "subject_request_type": "access",
                    "submitted_time": "2026-11-20T09:00:00Z",
                    "controller_id": "lmt",
                    "subject_identities": [{"identity_type": "phone_number", "identity_value": PHONE}],
                }
            },
        ),
        "GET /api/v1/opendsr/requests/{request_id}": ("GET", "/api/v1/opendsr/requests/seed-opendsr", {}),
        "DELETE /api/v1/opendsr/requests/{request_id}": (
            "DELETE",
            "/api/v1/opendsr/requests/seed-opendsr",
            {},
        ),
        **api_samples(seeded),
        **followup_api_samples(seeded),
        **subject_group_samples(PHONE),
    }


@pytest.mark.parametrize("role", ROLES)
def test_api_routes_admit_exactly_the_roles_the_map_allows(
    role: str,
    client: TestClient,
    container: Container,
    seeded: dict[str, str],
    auth: Callable[..., dict[str, str]],
    staff_member: Callable[..., tuple[str, str]],
) -> None:
    from sargs.domains.staff.service import add_staff

    with container.sessions.begin() as session:
        add_staff(
            session=session,
            email="victim@staff.example",
            name="V",
            role="operator",
            password="victim-password-long",
            controllers=["lmt"],
            now=container.clock.now(),
        )
    routes = guarded_routes(create_app(container), "/api/")
    samples = api_requests(seeded, role)
    assert set(routes) == set(samples), "add a sample request for every guarded API route"
    headers = {**auth(role), **REASON}
    for key, permission in routes.items():
        method, path, kwargs = samples[key]
        r = client.request(method, path, headers=headers, **kwargs)
        if allows(role, permission):
            assert r.status_code < 400, f"{role} {key}: {r.status_code} {r.text[:200]}"
        else:
            assert r.status_code == 403, f"{role} {key} should be refused: {r.status_code}"
            error = r.json()["error"]
            if path.startswith("/api/v1/opendsr/"):  # the spec's error object: the status as the code
                assert error["code"] == 403 and error["errors"][0]["reason"] == "forbidden"
            else:
                assert error["code"] == "forbidden"


def test_api_refuses_callers_without_a_token(client: TestClient, seeded: dict[str, str]) -> None:
    for key, (method, path, kwargs) in api_requests(seeded, "anon").items():
        r = client.request(method, path, **kwargs)
        assert r.status_code == 401, key


def console_requests(seeded: dict[str, str], role: str) -> dict[str, tuple[str, str, dict[str, Any]]]:
    reason = {"reason": "role matrix test"}
    sid, eid = seeded["subject_id"], seeded["event_id"]
    return {
        "GET /console/find": (
            "GET",
            "/console/find",
            {"params": {"kind": "msisdn", "value": PHONE, **reason}},
        ),
        "GET /console/subjects/{subject_id}": ("GET", f"/console/subjects/{sid}", {"params": reason}),
        "POST /console/subjects/{subject_id}/consents": (
            "POST",
            f"/console/subjects/{sid}/consents",
            {"data": {"choice": "lmt/offers", "action": "withdraw"}},
        ),
        "GET /console/receipts/{event_id}": ("GET", f"/console/receipts/{eid}", {"params": reason}),
        "GET /console/receipts/{event_id}/download": (
            "GET",
            f"/console/receipts/{eid}/download",
            {"params": reason},
        ),
        "GET /console/staff": ("GET", "/console/staff", {}),
        "POST /console/staff": (
            "POST",
            "/console/staff",
            {
                "data": {
                    "email": f"web-{role}@staff.example",
                    "name": "Web",
                    "role": "operator",
                    "password": "a long enough password",
                    "controllers": "lmt",
                }
            },
        ),
        "POST /console/staff/disable": (
            "POST",
            "/console/staff/disable",
            {"data": {"email": "nobody@staff.example"}},
        ),
        "GET /console/audit": ("GET", "/console/audit", {}),
        # --- retention ---
        "GET /console/retention": ("GET", "/console/retention", {}),
        "GET /console/retention/tasks/{task_id}": (
            "GET",
            f"/console/retention/tasks/{seeded['retention_task']}",
            {},
        ),
        "POST /console/retention/run": (
            "POST",
            "/console/retention/run",
            {"data": {"policy": "sargs", "source": "sargs"}},
        ),
        "POST /console/retention/holds": (
            "POST",
            "/console/retention/holds",
            {"data": {"reason": "role matrix", "identity": f"msisdn:{PHONE}"}},
        ),
        "POST /console/retention/holds/release": (
            "POST",
            "/console/retention/holds/release",
            {"data": {"hold": seeded["hold_id"]}},
        ),
        "GET /console/dsr": ("GET", "/console/dsr", {"params": {"view": "overdue"}}),
        "GET /console/dsr/new": ("GET", "/console/dsr/new", {}),
        "POST /console/dsr/new": (
            "POST",
            "/console/dsr/new",
            {
                "data": {
                    "controller": "lmt",
                    "kind": "access",
                    "channel": "in_person",
                    "identities": PHONE,
                    "name": "A B",
                    "address": "Rīga",
                    "contact": PHONE,
                    "signed": "true",
                }
            },
        ),
        "GET /console/dsr/{request_id}": ("GET", f"/console/dsr/{seeded['dsr_id']}", {}),
        "POST /console/dsr/{request_id}/verify": (
            "POST",
            f"/console/dsr/{seeded['verify_id']}/verify",
            {"data": {"method": "id_document", "document_type": "passport"}},
        ),
        "POST /console/dsr/{request_id}/hold": (
            "POST",
            f"/console/dsr/{seeded['verify_id']}/hold",
            {"data": {"message": "please sign the request"}},
        ),
        "POST /console/dsr/{request_id}/content": (
            "POST",
            f"/console/dsr/{seeded['verify_id']}/content",
            {"data": {"contact": "+37129000001"}},
        ),
        "POST /console/dsr/{request_id}/repeat": (
            "POST",
            f"/console/dsr/{seeded['repeat_id']}/repeat",
            {"data": {"decision": "free"}},
        ),
        "POST /console/dsr/{request_id}/extend": (
            "POST",
            f"/console/dsr/{seeded['dsr_id']}/extend",
            {"data": {"days": "10", "reason": "many systems", "notice": "we need ten more days"}},
        ),
        "GET /console/dsr/{request_id}/progress": ("GET", f"/console/dsr/{seeded['dsr_id']}/progress", {}),
        "POST /console/dsr/{request_id}/fulfil": (
            "POST",
            f"/console/dsr/{seeded['decision_id']}/fulfil",
            {"data": {"outcome": "fulfilled", "text": "corrected"}},
        ),
        "GET /console/dsr/{request_id}/answer": (
            "GET",
            f"/console/dsr/{seeded['dsr_id']}/answer",
            {"params": {"format": "html"}},
        ),
        "GET /console/dsr/{request_id}/export": ("GET", f"/console/dsr/{seeded['dsr_id']}/export", {}),
        **console_samples(seeded),
        **followup_console_samples(seeded),
    }


@pytest.mark.parametrize("role", ROLES)
def test_console_pages_admit_exactly_the_roles_the_map_allows(
    role: str,
    container: Container,
    seeded: dict[str, str],
    staff_member: Callable[..., tuple[str, str]],
) -> None:
    app = create_app(container)
    routes = guarded_routes(app, "/console")
    samples = console_requests(seeded, role)
    assert set(routes) == set(samples), "add a sample request for every guarded console page"
    with TestClient(app) as browser:
        console_login(browser, *staff_member(role))
        csrf = console_csrf(browser)
        for key, permission in routes.items():
            method, path, kwargs = samples[key]
            if method == "POST":
                kwargs = {"data": {**kwargs["data"], "csrf": csrf}}
            r = browser.request(method, path, follow_redirects=False, **kwargs)
            if allows(role, permission):
                # 422 here is the domain refusing the sample (e.g. no such account), not the role.
                assert r.status_code in (200, 303, 422), f"{role} {key}: {r.status_code} {r.text[:300]}"
                assert "forbidden" not in r.text
            else:
                assert r.status_code == 403, f"{role} {key} should be refused: {r.status_code}"


def test_console_sends_anonymous_visitors_to_sign_in(container: Container, seeded: dict[str, str]) -> None:
    with TestClient(create_app(container)) as browser:
        for key, (method, path, kwargs) in console_requests(seeded, "anon").items():
            if method == "GET":
                r = browser.get(path, follow_redirects=False, **kwargs)
                assert r.status_code == 303 and r.headers["location"] == "/console/login", key
            else:
                r = browser.post(path, follow_redirects=False, **kwargs)
                assert r.status_code in (401, 403), key
