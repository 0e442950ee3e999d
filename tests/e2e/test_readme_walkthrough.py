"""The README's walkthrough, as a reader runs it: the shell block after `<!-- walkthrough -->`,
taken from README.md and run by bash against `sargs demo` in its own process, folder and port.

Only what a test must change is changed: the demo's port (8000 in the README) and the line
activating the checkout's .venv (this test's interpreter is put on PATH instead). The rest runs
verbatim, so a README whose commands stop working fails here.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import free_port, sargs, sargs_env, start_processes

README = Path(__file__).resolve().parents[2] / "README.md"
MARK = "<!-- walkthrough -->"
ACTIVATE = ". .venv/bin/activate"

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")


def walkthrough(readme: str) -> str:
    """The shell block that follows the walkthrough mark."""
    assert readme.count(MARK) == 1, f"README.md must mark exactly one block with {MARK}"
    match = re.search(re.escape(MARK) + r"\s*```sh\n(.*?)```", readme, re.S)
    assert match, f"no ```sh block right after {MARK}"
    return match.group(1)


def test_the_readme_walkthrough_runs_verbatim_against_the_demo(tmp_path: Path) -> None:
    script = walkthrough(README.read_text(encoding="utf-8"))
    assert ACTIVATE in script and "cd .demo" in script and "127.0.0.1:8000" in script
    port = free_port()
    script = script.replace("127.0.0.1:8000", f"127.0.0.1:{port}").replace(
        ACTIVATE, f'export PATH="{Path(sys.executable).parent}:$PATH"'
    )
    env = sargs_env()
    env.pop("SARGS_ENV_FILE")  # the walkthrough relies on ./sargs.env being read
    # `make demo` runs in the checkout and makes .demo there; here the folder is tmp_path.
    demo = sargs("demo", "--port", str(port), "--subjects", "100")
    with start_processes([demo], env, cwd=tmp_path) as procs:
        procs.wait_http([f"http://127.0.0.1:{port}/api/v1/health"], timeout=80)
        done = subprocess.run(
            ["bash", "-c", "set -euxo pipefail\n" + script],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        shown = f"--- stdout\n{done.stdout[:6000]}\n--- stderr\n{done.stderr[-6000:]}"
        assert done.returncode == 0, shown
        demo_output = procs.output(0)
    # The phone the demo prints for the portal is the one the walkthrough uses, and a shop customer.
    assert "sign in with +37120000008 (a shop customer)" in demo_output, demo_output[-3000:]
    finds = [line for line in done.stdout.splitlines() if line.startswith("shop: ")]
    assert finds[0].startswith("shop: customers 1, orders "), shown
    assert finds[1] == "shop: customers 0, orders 0, loyalty_transactions 0, email_events 0", shown
    assert '"status":"verified"' in done.stdout, shown
    # Erased, but the orders the ten-year rule keeps are kept (and said to be): partially fulfilled.
    assert ": partially_fulfilled" in done.stdout and "source shop: erase ok" in done.stdout, shown
    assert (tmp_path / ".demo" / "answer.pdf").read_bytes().startswith(b"%PDF")
    assert "lytagra-group / shop" in done.stdout, shown  # the retention plan
    assert "ledger intact" in done.stdout, shown
