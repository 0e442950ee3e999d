"""The quick start as a user meets it: `sargs demo` in a real process, its curl lines run by curl."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
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
