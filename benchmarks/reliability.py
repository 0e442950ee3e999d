"""Reliability drills (`make reliability`): crash, concurrency, outage and hostile input.

    python benchmarks/reliability.py [--db sqlite|postgres|both] [--kills 5] [--drills crash,concurrency,outage,hostile]

- crash: clients send consent changes (each with an Idempotency-Key) and signed SMS webhooks
  (each with a message id) to a real `sargs serve`, retrying until they get a 2xx, as real
  clients do; the server is killed with SIGKILL mid-stream and restarted, and so is the
  `sargs sms send` worker delivering replies to a local fake SMS gateway. Afterwards: every
  acknowledged request is in the ledger exactly once, every inbound message has exactly one
  reply and every reply reached the gateway once, the projection equals a replay of the ledger,
  and the chain verifies.
- concurrency: many clients grant and withdraw the same person's consent at once; no 5xx, the
  final state is the last event in ledger order, the chain verifies.
- outage (PostgreSQL only; needs root to stop and start the cluster): PostgreSQL is stopped
  during load and started again; requests fail fast with 503, nothing is half-written, service
  resumes by itself.
- hostile: malformed, oversized and injection-laden requests at every write route: no 5xx.

Prints a table; exits 1 if any drill lost, doubled or half-wrote anything.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent))

from consent import PG_URL, ensure_pg_database, free_port
from databases import wipeable
from sargs.bootstrap import build, example_policy_paths
from sargs.core.config import Settings
from sargs.domains.consent.model import ConsentEvent, ConsentState
from sargs.domains.consent.service import STATUS_OF
from sargs.domains.consent.verify import verify_ledger
from sargs.domains.sms.model import SmsInbound, SmsOutbox
from sargs.domains.sms.signatures import sign_json
from sargs.domains.tokens.service import create_token
from sargs.migrations import downgrade, upgrade

SMS_SECRET = "drill-sms-secret"
POLICIES = [str(p) for p in example_policy_paths()]
console = Console(width=max(Console().width, 180))


@dataclass
class Outcome:
    drill: str
    database: str
    load: str = ""
    faults: str = ""
    bad: str = ""
    lost: int = 0
    doubled: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and self.lost == 0 and self.doubled == 0


# --- processes ----------------------------------------------------------------------------------


class Process:
    """A sargs command in its own process group, killable with SIGKILL and restartable."""

    def __init__(self, args: list[str], env: dict[str, str], health: str | None = None) -> None:
        self.args, self.env, self.health = args, env, health
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sargs", *self.args],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        if self.health:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if httpx.get(self.health, timeout=1).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            raise SystemExit(f"{self.args[-3:]} did not come up")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


class Gateway:
    """A fake SMS gateway: accepts every message, de-duplicates by Idempotency-Key."""

    def __init__(self) -> None:
        self.posts: Counter[str] = Counter()
        self.lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                key = self.headers.get("Idempotency-Key") or json.loads(body).get("reference", "")
                with gateway.lock:
                    gateway.posts[key] += 1
                payload = json.dumps({"id": f"gw-{key}"}).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:  # the sender was killed mid-request
                    pass

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/send"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


# --- the database -----------------------------------------------------------------------------


def fresh_database(url: str) -> str:
    if url.startswith("sqlite"):
        for suffix in ("", "-wal", "-shm"):
            Path(url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
    else:
        ensure_pg_database(url)
        downgrade(wipeable(url), "base")
    upgrade(url)
    container = build(Settings(database_url=url, policy_files=POLICIES, demo=True))
    with container.sessions.begin() as session:
        token = create_token(session=session, name="drill", role="admin", now=container.clock.now()).secret
    container.close()
    return token


def check_database(
    url: str, acked_keys: set[str], acked_sms: set[str], outcome: Outcome, *, exactly_once: bool = True
) -> None:
    """Exactly once (when the drill tracked what was acknowledged), projection = replay, chain intact."""
    container = build(Settings(database_url=url, policy_files=POLICIES, demo=True), publish_policies=False)
    with container.read_sessions.begin() as session:
        by_key = Counter(
            dict(
                session.execute(
                    select(ConsentEvent.idempotency_key, func.count())
                    .where(ConsentEvent.channel == "api")
                    .group_by(ConsentEvent.idempotency_key)
                ).all()
            )
        )
        if not exactly_once:
            by_key.clear()
        outcome.lost += sum(1 for k in acked_keys if by_key.get(k, 0) == 0)
        outcome.doubled += sum(max(n - 1, 0) for n in by_key.values())
        unacked = set(by_key) - acked_keys
        if unacked:  # committed but the client never heard: it retried, so this cannot happen
            outcome.problems.append(f"{len(unacked)} consent events no client was told about")
        inbound = Counter(
            dict(
                session.execute(
                    select(SmsInbound.provider_message_id, func.count()).group_by(
                        SmsInbound.provider_message_id
                    )
                ).all()
            )
        )
        outcome.lost += sum(1 for m in acked_sms if inbound.get(m, 0) == 0)
        outcome.doubled += sum(max(n - 1, 0) for n in inbound.values())
        replies = Counter(
            dict(
                session.execute(
                    select(SmsOutbox.inbound_id, func.count())
                    .where(SmsOutbox.kind == "reply")
                    .group_by(SmsOutbox.inbound_id)
                ).all()
            )
        )
        inbound_ids = set(session.scalars(select(SmsInbound.id)))
        outcome.lost += sum(1 for i in inbound_ids if replies.get(i, 0) == 0)
        outcome.doubled += sum(max(n - 1, 0) for n in replies.values())
        sms_events = sum(len(ids or []) for ids in session.scalars(select(SmsInbound.event_ids)))
        sms_in_ledger = session.scalar(
            select(func.count()).select_from(ConsentEvent).where(ConsentEvent.channel == "sms")
        )
        if sms_in_ledger != sms_events:
            outcome.problems.append(f"SMS events in ledger {sms_in_ledger} != referenced {sms_events}")
        mismatched = projection_mismatches(session)
        if mismatched:
            outcome.problems.append(f"projection differs from a replay of the ledger for {mismatched} rows")
        report = verify_ledger(session=session)
        if not report.ok:
            outcome.problems.append(f"ledger verify: {report.problems[0]}")
    container.close()


def projection_mismatches(session: Any) -> int:
    """consent_states against the last event per (subject, controller, purpose) in time order."""
    latest: dict[tuple[str, str, str], str] = {}
    rows = session.execute(
        select(
            ConsentEvent.subject_id, ConsentEvent.controller, ConsentEvent.purpose, ConsentEvent.action
        ).order_by(ConsentEvent.occurred_at, ConsentEvent.seq)
    )
    for subject_id, controller, purpose, action in rows:
        latest[(subject_id, controller, purpose)] = STATUS_OF[action]
    states = {
        (s.subject_id, s.controller, s.purpose): s.status
        for s in session.execute(
            select(
                ConsentState.subject_id, ConsentState.controller, ConsentState.purpose, ConsentState.status
            )
        )
    }
    keys = set(latest) | set(states)
    return sum(1 for k in keys if latest.get(k) != states.get(k))


# --- clients ------------------------------------------------------------------------------------


@dataclass
class Tally:
    acked_keys: set[str] = field(default_factory=set)
    acked_sms: set[str] = field(default_factory=set)
    statuses: Counter[int] = field(default_factory=Counter)
    connection_errors: int = 0
    refused: int = 0  # answered 409/422: the policy said no, which is an answer
    lock: threading.Lock = field(default_factory=threading.Lock)


def consent_request(i: int, rng: random.Random) -> tuple[str, dict[str, Any], dict[str, str], str]:
    key = f"drill-{i}"
    doc = {
        "controller": "lmt",
        "identity": f"msisdn:+3712{7000000 + rng.randrange(300):07d}",
        "purpose": rng.choice(["offers", "location", "metadata"]),
        "action": rng.choice(["grant", "withdraw"]),
        "channel": "api",
    }
    return "/api/v1/consents", doc, {"Idempotency-Key": key}, key


def sms_request(i: int, rng: random.Random) -> tuple[str, bytes, dict[str, str], str]:
    message_id = f"drill-sms-{i}"
    body = json.dumps(
        {
            "message_id": message_id,
            "from": f"+3712{8000000 + rng.randrange(300):07d}",
            "to": "29307777",
            "text": rng.choice(["JAUNUMI", "JAUNUMI STOP", "STOP", "HELP", "METADATI", "vieta"]),
        }
    ).encode()
    return "/api/v1/sms/inbound", body, {"X-Sargs-Signature": sign_json(SMS_SECRET, body)}, message_id


def client_loop(base: str, token: str, jobs: list[int], tally: Tally, seed: int, deadline: float) -> None:
    rng = random.Random(seed)
    with httpx.Client(base_url=base, timeout=15, headers={"Authorization": f"Bearer {token}"}) as http:
        for i in jobs:
            is_sms = i % 3 == 0
            while time.monotonic() < deadline:
                try:
                    if is_sms:
                        path, body, headers, ident = sms_request(i, random.Random(i))
                        r = http.post(
                            path, content=body, headers={**headers, "Content-Type": "application/json"}
                        )
                    else:
                        path, doc, headers, ident = consent_request(i, random.Random(i))
                        r = http.post(path, json=doc, headers=headers)
                except httpx.HTTPError:
                    with tally.lock:
                        tally.connection_errors += 1
                    time.sleep(0.05 + rng.random() * 0.1)
                    continue
                with tally.lock:
                    tally.statuses[r.status_code] += 1
                if r.status_code < 300:
                    with tally.lock:
                        (tally.acked_sms if is_sms else tally.acked_keys).add(ident)
                    break
                if r.status_code in (422, 409):  # the domain refused it: an answer, not a failure
                    with tally.lock:
                        tally.refused += 1
                    break
                time.sleep(0.05)


# --- drills -------------------------------------------------------------------------------------


def crash_drill(label: str, url: str, kills: int, requests: int) -> Outcome:
    outcome = Outcome("crash (SIGKILL server and sender)", label)
    token = fresh_database(url)
    port = free_port()
    gateway = Gateway()
    env = {
        **os.environ,
        "SARGS_SECRET_KEY": "drill-secret-key",
        "SARGS_SMS_WEBHOOK_SECRET": SMS_SECRET,
        "SARGS_SMS_PROVIDER": "http",
        "SARGS_SMS_PROVIDER_URL": gateway.url,
    }
    common = ["--database-url", url, *[a for p in POLICIES for a in ("--policy", p)]]
    server = Process(
        [*common, "serve", "--port", str(port), "--workers", "2"],
        env,
        f"http://127.0.0.1:{port}/api/v1/health",
    )
    sender = Process([*common, "sms", "send", "--interval", "0.2", "--batch", "20", "--lease", "6"], env)
    server.start()
    sender.start()
    tally = Tally()
    deadline = time.monotonic() + 600
    workers = 12
    jobs = [list(range(w, requests, workers)) for w in range(workers)]
    threads = [
        threading.Thread(
            target=client_loop, args=(f"http://127.0.0.1:{port}", token, jobs[w], tally, w, deadline)
        )
        for w in range(workers)
    ]
    started = time.monotonic()
    for t in threads:
        t.start()
    survived = 0
    rng = random.Random(5)
    while survived < kills and any(t.is_alive() for t in threads):
        time.sleep(1.0 + rng.random() * 2.0)
        server.kill()
        if survived % 2 == 0:
            sender.kill()
            sender.start()
        server.start()
        survived += 1
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    # Drain the outbox: leases of killed senders run out after 6 s.
    drain_deadline = time.monotonic() + 60
    container = build(Settings(database_url=url, policy_files=POLICIES, demo=True), publish_policies=False)
    while time.monotonic() < drain_deadline:
        with container.read_sessions.begin() as session:
            pending = session.scalar(
                select(func.count()).select_from(SmsOutbox).where(SmsOutbox.status.in_(("queued", "sending")))
            )
        if not pending:
            break
        time.sleep(0.5)
    with container.read_sessions.begin() as session:
        outbox = dict(
            session.execute(select(SmsOutbox.status, func.count()).group_by(SmsOutbox.status)).all()
        )
        outbox_ids = set(session.scalars(select(SmsOutbox.id)))
    container.close()
    sender.stop()
    server.stop()
    gateway.close()
    delivered = set(gateway.posts)
    lost_replies = len(outbox_ids - delivered)
    resent = sum(n - 1 for n in gateway.posts.values())
    acked = len(tally.acked_keys) + len(tally.acked_sms)
    outcome.load = (
        f"{acked:,} acknowledged + {tally.refused:,} refused by policy in {elapsed:.0f} s, "
        f"through {survived} restarts"
    )
    outcome.faults = f"{survived} server kills, {(survived + 1) // 2} sender kills"
    five = sum(n for s, n in tally.statuses.items() if s >= 500)
    outcome.bad = f"{tally.connection_errors} dropped connections, {five} 5xx (retried)"
    outcome.lost += lost_replies
    if outbox.get("sent", 0) != len(outbox_ids):
        outcome.problems.append(f"outbox not drained: {outbox}")
    check_database(url, tally.acked_keys, tally.acked_sms, outcome)
    outcome.faults += f"; {resent} re-sends after kills absorbed by Idempotency-Key"
    return outcome


def concurrency_drill(label: str, url: str) -> Outcome:
    outcome = Outcome("concurrency (one person, 16 clients)", label)
    token = fresh_database(url)
    port = free_port()
    env = {**os.environ, "SARGS_SECRET_KEY": "drill-secret-key", "SARGS_SMS_WEBHOOK_SECRET": SMS_SECRET}
    common = ["--database-url", url, *[a for p in POLICIES for a in ("--policy", p)]]
    server = Process(
        [*common, "serve", "--port", str(port), "--workers", "2"],
        env,
        f"http://127.0.0.1:{port}/api/v1/health",
    )
    server.start()
    statuses: Counter[int] = Counter()
    lock = threading.Lock()

    def hammer(w: int) -> None:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", timeout=60, headers={"Authorization": f"Bearer {token}"}
        ) as http:
            for k in range(40):
                r = http.post(
                    "/api/v1/consents",
                    json={
                        "controller": "lmt",
                        "identity": "msisdn:+37129999999",
                        "purpose": "offers",
                        "action": "grant" if (w + k) % 2 else "withdraw",
                    },
                )
                with lock:
                    statuses[r.status_code] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=hammer, args=(w,)) for w in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    server.stop()
    container = build(Settings(database_url=url, policy_files=POLICIES, demo=True), publish_policies=False)
    with container.read_sessions.begin() as session:
        last = session.execute(
            select(ConsentEvent.action).order_by(ConsentEvent.chain_seq.desc()).limit(1)
        ).scalar()
        state = session.scalar(select(ConsentState.status))
        events = session.scalar(select(func.count()).select_from(ConsentEvent))
        report = verify_ledger(session=session)
    container.close()
    five = sum(n for s, n in statuses.items() if s >= 500)
    ok = statuses.get(201, 0)
    outcome.load = f"{sum(statuses.values())} writes to one person in {elapsed:.1f} s"
    outcome.faults = "640 concurrent writes on one chain"
    outcome.bad = f"{five} 5xx"
    outcome.lost = ok - (events or 0)
    if five:
        outcome.problems.append(f"{five} server errors: {dict(statuses)}")
    if last is None or STATUS_OF[last] != state:
        outcome.problems.append(f"final state {state} is not the last event {last}")
    if not report.ok:
        outcome.problems.append(report.problems[0])
    return outcome


def postgres_ctl(action: str) -> None:
    subprocess.run(
        ["pg_ctlcluster", "15", "main", action, *(["-m", "fast"] if action == "stop" else [])], check=True
    )


def outage_drill(url: str) -> Outcome:
    outcome = Outcome("outage (PostgreSQL stopped 4 s)", "PostgreSQL")
    if os.geteuid() != 0:
        outcome.problems.append("needs root to stop and start PostgreSQL (pg_ctlcluster)")
        return outcome
    token = fresh_database(url)
    port = free_port()
    env = {**os.environ, "SARGS_SECRET_KEY": "drill-secret-key", "SARGS_SMS_WEBHOOK_SECRET": SMS_SECRET}
    common = ["--database-url", url, *[a for p in POLICIES for a in ("--policy", p)]]
    server = Process(
        [*common, "serve", "--port", str(port), "--workers", "2"],
        env,
        f"http://127.0.0.1:{port}/api/v1/health",
    )
    server.start()
    tally = Tally()
    slowest_503 = 0.0
    first_ok_after_start: float | None = None
    started_at: float | None = None
    stop = threading.Event()
    lock = threading.Lock()

    def load(w: int) -> None:
        nonlocal slowest_503, first_ok_after_start
        i = w
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", timeout=30, headers={"Authorization": f"Bearer {token}"}
        ) as http:
            while not stop.is_set():
                path, doc, headers, key = consent_request(100_000 + i, random.Random(i))
                t0 = time.monotonic()
                try:
                    r = http.post(path, json=doc, headers=headers)
                except httpx.HTTPError:
                    with lock:
                        tally.connection_errors += 1
                    continue
                took = time.monotonic() - t0
                with lock:
                    tally.statuses[r.status_code] += 1
                    if r.status_code == 503:
                        slowest_503 = max(slowest_503, took)
                    elif r.status_code < 300:
                        tally.acked_keys.add(key)
                        if started_at is not None and first_ok_after_start is None:
                            first_ok_after_start = time.monotonic() - started_at
                if r.status_code < 300 or r.status_code in (409, 422):
                    i += 8
                else:
                    time.sleep(0.05)

    threads = [threading.Thread(target=load, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    time.sleep(3)
    postgres_ctl("stop")
    time.sleep(4)
    postgres_ctl("start")
    started_at = time.monotonic()
    time.sleep(6)
    stop.set()
    for t in threads:
        t.join()
    server.stop()
    five_hundreds = sum(n for s, n in tally.statuses.items() if s >= 500 and s != 503)
    outcome.load = f"{len(tally.acked_keys):,} writes acknowledged"
    resumed = f"{first_ok_after_start:.1f} s" if first_ok_after_start is not None else "never"
    outcome.faults = f"4 s outage; resumed {resumed} after restart"
    outcome.bad = (
        f"{tally.statuses.get(503, 0)} 503 (slowest {slowest_503 * 1000:.0f} ms), {five_hundreds} other 5xx"
    )
    if five_hundreds:
        outcome.problems.append(f"{five_hundreds} 5xx other than 503: {dict(tally.statuses)}")
    if first_ok_after_start is None:
        outcome.problems.append("service did not resume")
    check_database(url, tally.acked_keys, set(), outcome)
    return outcome


HOSTILE_TEXTS = [
    "'; DROP TABLE subjects; --",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "\x00\x01\x02",
    "𝕏" * 500,
    "A" * 100_000,
    "../../etc/passwd",
    "${jndi:ldap://x}",
    "%s%s%s%n",
]


def send(http: httpx.Client, method: str, path: str, **kwargs: Any) -> int:
    """The status, or 0 when the server closed the connection (e.g. on a refused huge body)."""
    try:
        return http.request(method, path, **kwargs).status_code
    except httpx.TransportError:
        return 0


def hostile_drill(label: str, url: str) -> Outcome:
    outcome = Outcome("hostile input (every write route)", label)
    token = fresh_database(url)
    port = free_port()
    env = {**os.environ, "SARGS_SECRET_KEY": "drill-secret-key", "SARGS_SMS_WEBHOOK_SECRET": SMS_SECRET}
    common = ["--database-url", url, *[a for p in POLICIES for a in ("--policy", p)]]
    server = Process(
        [*common, "serve", "--port", str(port), "--workers", "2"],
        env,
        f"http://127.0.0.1:{port}/api/v1/health",
    )
    server.start()
    rng = random.Random(11)
    statuses: Counter[int] = Counter()
    fields = ["controller", "identity", "purpose", "action", "channel", "occurred_at", "idempotency_key"]
    valid = {"controller": "lmt", "identity": "msisdn:+37129000111", "purpose": "offers", "action": "grant"}
    tried = 0
    with httpx.Client(
        base_url=f"http://127.0.0.1:{port}", timeout=30, headers={"Authorization": f"Bearer {token}"}
    ) as http:
        for _ in range(400):
            doc: Any = dict(valid)
            doc[rng.choice(fields)] = rng.choice([*HOSTILE_TEXTS, None, 1e308, [], {"$ne": 1}, True])
            statuses[send(http, "POST", "/api/v1/consents", json=doc)] += 1
            tried += 1
        for body in (
            b"{",
            b"\xff\xfe\xfa",
            b"[" * 5000 + b"]" * 5000,
            b"x" * 3_000_000,
            b"null",
            b'{"a":' * 2000,
        ):
            for path in ("/api/v1/consents", "/api/v1/sms/inbound"):
                statuses[
                    send(http, "POST", path, content=body, headers={"Content-Type": "application/json"})
                ] += 1
                tried += 1
        for text_ in HOSTILE_TEXTS:
            sms = json.dumps(
                {"message_id": f"h-{tried}", "from": "+37129000222", "to": "29307777", "text": text_[:1600]}
            ).encode()
            signed = {"Content-Type": "application/json", "X-Sargs-Signature": sign_json(SMS_SECRET, sms)}
            statuses[send(http, "POST", "/api/v1/sms/inbound", content=sms, headers=signed)] += 1
            person = "/api/v1/subjects/" + quote(text_[:300], safe="") + "/consents"
            statuses[send(http, "GET", person, headers={"X-Access-Reason": "drill"})] += 1
            check = {"controller": "lmt", "identity": text_[:300], "purpose": "offers"}
            statuses[send(http, "GET", "/api/v1/consents/check", params=check)] += 1
            tried += 3
    server.stop()
    five = sum(n for s, n in statuses.items() if s >= 500)
    outcome.load = f"{tried} hostile requests"
    outcome.bad = f"{tried} bad inputs tried, {five} 5xx; answers {dict(sorted(statuses.items()))}"
    if five:
        outcome.problems.append(f"{five} server errors")
    check_database(url, set(), set(), outcome, exactly_once=False)
    return outcome


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--drills", default="crash,concurrency,outage,hostile")
    args, _ = parser.parse_known_args()
    drills = set(args.drills.split(","))
    databases = []
    if args.db in ("sqlite", "both"):
        Path("/tmp/sargs-drill").mkdir(exist_ok=True)
        databases.append(("SQLite", "sqlite:////tmp/sargs-drill/drill.db"))
    if args.db in ("postgres", "both"):
        databases.append(("PostgreSQL", PG_URL.rsplit("/", 1)[0] + "/sargs_drill"))
    results: list[Outcome] = []
    for label, url in databases:
        if "crash" in drills:
            results.append(crash_drill(label, url, args.kills, args.requests))
            console.print(f"crash drill on {label} done", style="dim")
        if "concurrency" in drills:
            results.append(concurrency_drill(label, url))
        if "hostile" in drills:
            results.append(hostile_drill(label, url))
        if "outage" in drills and label == "PostgreSQL":
            results.append(outage_drill(url))
    table = Table(title="Sargs reliability drills")
    for column in (
        "drill",
        "database",
        "load held",
        "faults survived",
        "bad inputs / answers",
        "lost",
        "doubled",
        "verdict",
    ):
        table.add_column(column, overflow="fold")
    for r in results:
        table.add_row(
            r.drill, r.database, r.load, r.faults, r.bad, str(r.lost), str(r.doubled),
            "[green]ok[/]" if r.ok else "[red]" + "; ".join(r.problems or ["lost or doubled"]) + "[/]",
        )  # fmt: skip
    console.print(table)
    sys.exit(0 if all(r.ok for r in results) else 1)


if __name__ == "__main__":
    main()
