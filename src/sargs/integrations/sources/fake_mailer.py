"""A small fake of an e-mail marketing platform's REST API: the demo's and the tests' `http` source.

It speaks what the retailer's example policy declares for its source `mailer`:

- `GET /v1/contacts?email=…&cursor=…`: `{"data": [...], "meta": {"next_cursor": …}}`, two a page;
- `DELETE /v1/contacts/{id}`: 204, or 404 when there is no such contact;
- `GET /v1/activity?email=…&page=…&per_page=…`: `{"events": [...]}`, page-numbered;
- `POST /v1/privacy/erasure` `{"email": …}`: 202, erases the address's activity (one job per
  `Idempotency-Key`: a repeated key answers the first job again);
- `GET /v1/ping`.

Every call needs `Authorization: Bearer <token>`. Tests queue faults (`fail_next`) and hold calls
(`hold`) to see timeouts, 429 with Retry-After and 5xx; the store is in memory, behind a lock.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

CONTACTS_PAGE = 2


@dataclass
class Fault:
    """Answer the next call matching `method` and `path` prefix with `status` (and headers), or,
    with `then_apply`, do the work first and answer `status` after (a reply lost on the way back)."""

    method: str
    path: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    then_apply: bool = False


@dataclass
class FakeMailer:
    token: str
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    activity: list[dict[str, Any]] = field(default_factory=list)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)  # Idempotency-Key -> erasure job
    deleted: list[str] = field(default_factory=list)  # contact ids, in the order of the DELETEs
    calls: list[tuple[str, str]] = field(default_factory=list)  # (method, path): never the query
    faults: deque[Fault] = field(default_factory=deque)
    held: threading.Event | None = None  # while set up and not released, calls wait for it
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_person(
        self, email: str, *, name: str = "", lists: tuple[str, ...] = ("news",), events: int = 3
    ) -> str:
        """A contact for `email` with `events` activity rows; the contact's id."""
        with self.lock:
            cid = f"c{len(self.contacts) + len(self.deleted) + 1:05d}"
            first, _, last = name.partition(" ")
            self.contacts[cid] = {
                "id": cid,
                "email": email,
                "first_name": first,
                "last_name": last,
                "lists": [{"name": n} for n in lists],
            }
            for i in range(events):
                self.activity.append(
                    {
                        "id": f"e{len(self.activity) + 1:06d}",
                        "email": email,
                        "campaign": f"spring-{i + 1}",
                        "type": "open" if i % 2 == 0 else "click",
                    }
                )
            return cid

    def fail_next(
        self, method: str, path: str, status: int, *, retry_after: str | None = None, then_apply: bool = False
    ) -> None:
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        with self.lock:
            self.faults.append(Fault(method, path, status, headers, then_apply))

    def hold(self) -> threading.Event:
        """Calls wait until the returned event is set (a client's timeout sees a silent server)."""
        self.held = threading.Event()
        return self.held

    def of(self, email: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(contacts, activity) held for an address."""
        with self.lock:
            return (
                [c for c in self.contacts.values() if c["email"] == email],
                [a for a in self.activity if a["email"] == email],
            )

    # --- the API -----------------------------------------------------------------------------

    async def _gate(self, request: Request) -> tuple[Response | None, Fault | None]:
        held = self.held
        if held is not None:
            await anyio.to_thread.run_sync(held.wait, 30)
        with self.lock:
            self.calls.append((request.method, request.url.path))
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return JSONResponse({"error": "unauthorised"}, status_code=401), None
        with self.lock:
            for fault in list(self.faults):
                if fault.method == request.method and request.url.path.startswith(fault.path):
                    self.faults.remove(fault)
                    if fault.then_apply:
                        return None, fault
                    return JSONResponse(
                        {"error": "fault"}, status_code=fault.status, headers=fault.headers
                    ), None
        return None, None

    @staticmethod
    def _after(fault: Fault | None, response: Response) -> Response:
        if fault is None:
            return response
        return JSONResponse({"error": "fault"}, status_code=fault.status, headers=fault.headers)

    async def list_contacts(self, request: Request) -> Response:
        refused, fault = await self._gate(request)
        if refused:
            return refused
        email = request.query_params.get("email", "").lower()
        with self.lock:
            mine = sorted(
                (c for c in self.contacts.values() if c["email"].lower() == email), key=lambda c: c["id"]
            )
        start = int(request.query_params.get("cursor") or 0)
        page = mine[start : start + CONTACTS_PAGE]
        more = start + CONTACTS_PAGE < len(mine)
        return self._after(
            fault,
            JSONResponse(
                {"data": page, "meta": {"next_cursor": str(start + CONTACTS_PAGE) if more else None}}
            ),
        )

    async def delete_contact(self, request: Request) -> Response:
        refused, fault = await self._gate(request)
        if refused:
            return refused
        cid = request.path_params["cid"]
        with self.lock:
            gone = self.contacts.pop(cid, None)
            if gone is not None:
                self.deleted.append(cid)
        return self._after(fault, Response(status_code=204 if gone else 404))

    async def list_activity(self, request: Request) -> Response:
        refused, fault = await self._gate(request)
        if refused:
            return refused
        email = request.query_params.get("email", "").lower()
        page = int(request.query_params.get("page") or 1)
        size = int(request.query_params.get("per_page") or 50)
        with self.lock:
            mine = [a for a in self.activity if a["email"].lower() == email]
        return self._after(fault, JSONResponse({"events": mine[(page - 1) * size : page * size]}))

    async def erase(self, request: Request) -> Response:
        refused, fault = await self._gate(request)
        if refused:
            return refused
        try:
            email = str((await request.json())["email"]).lower()
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": 'send {"email": ...}'}, status_code=400)
        key = request.headers.get("idempotency-key") or f"anon-{len(self.jobs)}"
        with self.lock:
            job = self.jobs.get(key)
            if job is None:
                removed = [a for a in self.activity if a["email"].lower() == email]
                self.activity = [a for a in self.activity if a["email"].lower() != email]
                job = self.jobs[key] = {"job": f"j{len(self.jobs) + 1}", "erased": len(removed)}
        return self._after(fault, JSONResponse(job, status_code=202))

    async def ping(self, request: Request) -> Response:
        refused, _ = await self._gate(request)
        return refused or JSONResponse({"ok": True})

    def app(self) -> Starlette:
        """The platform as an ASGI app (its API under /v1)."""
        return Starlette(
            routes=[
                Route("/v1/contacts", self.list_contacts, methods=["GET"]),
                Route("/v1/contacts/{cid}", self.delete_contact, methods=["DELETE"]),
                Route("/v1/activity", self.list_activity, methods=["GET"]),
                Route("/v1/privacy/erasure", self.erase, methods=["POST"]),
                Route("/v1/ping", self.ping, methods=["GET"]),
            ]
        )
