"""The quick start as a user meets it: `sargs demo` in a real process, its curl lines run by curl."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")

EXPECT = [
    '"status":"ok"',  # health
    '"allowed":true',  # check: the sample person has consented
    '"event":',  # withdraw
    '"history":',  # subject consents
    "KI-CR-v1.1.0",  # receipt
    "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCIs",  # the receipt signed: {"alg":"ES256","typ":"JWT",...
    '"route":"GET /api/v1/consents/{event_id}/receipt"',  # audit: the receipt read above was logged
    "subject_id,since,contact",  # audience
    '"outcome":"granted"',  # an SMS texting JAUNUMI
    "paldies, piekri",  # the person's messages, with the reply
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_demo_serves_and_answers_every_curl_line_it_prints(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "500"}
    env.pop("SARGS_DATABASE_URL", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sargs",
            "demo",
            "--subjects",
            "120",
            "--port",
            str(port),
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 90
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if line.startswith("serving on"):
                break
        output = "\n".join(lines)
        assert any(line.startswith("serving on") for line in lines), output
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(0.2)
        curls = [line for line in lines if line.startswith("curl ")]
        assert len(curls) >= len(EXPECT), output
        for curl, expected in zip(curls, EXPECT, strict=False):
            done = subprocess.run(
                ["bash", "-o", "pipefail", "-c", curl], capture_output=True, text=True, timeout=30
            )
            assert done.returncode == 0, (curl, done.stderr)
            assert expected in done.stdout, (curl, done.stdout[:500])
    finally:
        proc.terminate()
        proc.wait(timeout=20)


class DemoProcess:
    """`sargs demo` in a real process, its output collected line by line as it comes."""

    def __init__(self, tmp_path: Path, extra_env: dict[str, str]) -> None:
        import threading

        self.port = free_port()
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "500", **extra_env}
        env.pop("SARGS_DATABASE_URL", None)
        cmd = [sys.executable, "-m", "sargs", "demo", "--subjects", "60", "--port", str(self.port)]
        self.proc = subprocess.Popen(
            [*cmd, "--dir", str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = 90) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = next((line for line in list(self.lines) if pattern in line), None)
            if found is not None:
                return found
            assert self.proc.poll() is None, "\n".join(self.lines)
            time.sleep(0.1)
        raise AssertionError(f"no {pattern!r} in the demo's output:\n" + "\n".join(self.lines))

    def wait_http(self, url: str, timeout: float = 30) -> None:
        """Until `url` answers 200 (the server is up)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server did not come up"
            assert self.proc.poll() is None, "\n".join(self.lines)
            time.sleep(0.2)

    def value(self, label: str) -> str:
        return self.wait_for(label).split(label, 1)[1].split()[0]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)


def test_the_demo_runs_a_worker_that_sends_replies_and_runs_queued_work(tmp_path: Path) -> None:
    demo = DemoProcess(tmp_path, {"SARGS_WORKER_SCHEDULE": '{"sms_send": "1s"}'})
    try:
        demo.wait_for("serving on")
        base = f"http://127.0.0.1:{demo.port}"
        admin = {"Authorization": f"Bearer {demo.value('admin token:')}"}
        demo.wait_http(f"{base}/api/v1/health")
        # An SMS keyword: the reply is queued with the consent and the demo's worker delivers it.
        sms = next(line for line in demo.lines if line.startswith("curl ") and "/sms/inbound" in line)
        done = subprocess.run(["bash", "-c", sms], capture_output=True, text=True, timeout=30)
        assert '"outcome":"granted"' in done.stdout, done.stdout
        demo.wait_for("SMS to +371")
        # Long work goes to the worker: a retention run answers 202 and its status URL shows it done.
        queued = httpx.post(
            f"{base}/api/v1/retention/runs", json={"policy": "lmt-group", "source": "loyalty"}, headers=admin
        )
        assert queued.status_code == 202, queued.text
        deadline = time.monotonic() + 60
        while (task := httpx.get(base + queued.headers["Location"], headers=admin).json())[
            "status"
        ] != "done":
            assert task["status"] in ("queued", "running"), task
            assert time.monotonic() < deadline, task
            time.sleep(0.3)
        assert task["result"]["status"] == "finished" and task["progress"]["tables"], task
    finally:
        demo.stop()


class Inbox:
    """A real SMTP server's mailbox (aiosmtpd)."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


def test_a_breach_registered_50_hours_ago_in_the_demo_e_mails_the_dpo_its_24_hour_alert(
    tmp_path: Path,
) -> None:
    from email import message_from_bytes
    from email.header import decode_header, make_header

    from aiosmtpd.controller import Controller

    inbox, smtp_port = Inbox(), free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    demo = DemoProcess(
        tmp_path,
        {
            "SARGS_SMTP_HOST": "127.0.0.1",
            "SARGS_SMTP_PORT": str(smtp_port),
            "SARGS_SMTP_STARTTLS": "false",
            "SARGS_WORKER_SCHEDULE": '{"breach_alerts": "1s", "mail_send": "1s"}',
        },
    )
    try:
        demo.wait_for("serving on")
        base = f"http://127.0.0.1:{demo.port}"
        admin = {"Authorization": f"Bearer {demo.value('admin token:')}"}
        demo.wait_http(f"{base}/api/v1/health")
        aware = datetime.now(UTC) - timedelta(hours=50)
        created = httpx.post(
            f"{base}/api/v1/breaches",
            json={
                "controller": "lmt",
                "title": "Lost laptop with a customer list",
                "nature": "An unencrypted laptop was left on a train.",
                "aware_at": aware.isoformat(),
            },
            headers=admin,
        )
        assert created.status_code == 201, created.text
        deadline = time.monotonic() + 60
        while not inbox.messages:
            assert time.monotonic() < deadline, "no alert e-mail reached the SMTP server"
            time.sleep(0.2)
        time.sleep(3)  # a second alert (a repeat, or the 6-hour one) would come within these slots
        [(to, raw)] = inbox.messages
        mail = message_from_bytes(raw)
        subject = str(make_header(decode_header(mail["Subject"])))
        assert to == ["dpo@demo.sargs.example"]
        assert "Lost laptop with a customer list" in subject and re.search(r"\b2[12] h\b", subject), subject
    finally:
        demo.stop()
        smtp.stop()
