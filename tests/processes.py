"""Real Sargs processes for tests: `sargs serve`, later `sargs worker`, started side by side.

    with start_processes([sargs("serve", "--port", str(p)) for p in ports], env) as procs:
        procs.wait_http([f"http://127.0.0.1:{p}/api/v1/health" for p in ports])
        ...

Each process's output goes to a temporary file, shown when a wait fails or a process dies, and
every process is stopped (SIGTERM, then SIGKILL after `stop_timeout`) when the block ends.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import IO

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sargs(*args: str) -> list[str]:
    """The command line of `sargs <args>` with this interpreter."""
    return [sys.executable, "-m", "sargs", *args]


def sargs_env(**settings: str) -> dict[str, str]:
    """This process's environment without any SARGS_* setting, plus `settings` as SARGS_<NAME>
    (and no settings file: a ./sargs.env in the folder the process runs in is not read)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SARGS_")}
    env.update({"PYTHONUNBUFFERED": "1", "COLUMNS": "200", "SARGS_ENV_FILE": os.devnull})
    env.update({f"SARGS_{k.upper()}": v for k, v in settings.items()})
    return env


@dataclass
class Processes:
    """Started processes, in the order of their commands."""

    procs: list[subprocess.Popen[bytes]]
    logs: list[IO[bytes]] = field(default_factory=list)

    def output(self, index: int) -> str:
        log = self.logs[index]
        log.flush()
        log.seek(0)
        return log.read().decode(errors="replace")

    def outputs(self) -> str:
        return "\n".join(
            f"--- process {i} ({' '.join(p.args[2:4]) if isinstance(p.args, list) else p.args}), "
            f"exit {p.poll()}:\n{self.output(i)[-4000:]}"
            for i, p in enumerate(self.procs)
        )

    def check_alive(self) -> None:
        dead = [i for i, p in enumerate(self.procs) if p.poll() is not None]
        if dead:
            raise AssertionError(f"process(es) {dead} exited early\n{self.outputs()}")

    def wait_http(self, urls: Sequence[str], *, timeout: float = 60.0) -> None:
        """Wait until every URL answers 200 (each process is checked for an early death; on a busy
        shared machine four processes importing everything can take over 30 s to listen)."""
        deadline = time.monotonic() + timeout
        pending = list(urls)
        while pending:
            self.check_alive()
            url = pending[0]
            try:
                if httpx.get(url, timeout=1.0).status_code == 200:
                    pending.pop(0)
                    continue
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{url} did not answer within {timeout} s\n{self.outputs()}")
            time.sleep(0.1)

    def signal_all(self, sig: int = signal.SIGTERM) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(sig)

    def stop(self, *, timeout: float = 10.0) -> list[int]:
        """SIGTERM every process, SIGKILL those still running after `timeout`; the exit codes."""
        self.signal_all(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for p in self.procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)
        return [p.returncode for p in self.procs]


@contextmanager
def start_processes(
    cmds: Sequence[Sequence[str]],
    env: Mapping[str, str],
    *,
    stop_timeout: float = 10.0,
    cwd: str | os.PathLike[str] | None = None,
) -> Iterator[Processes]:
    """Start every command at once (same environment and folder); stop them all when the block ends."""
    procs: list[subprocess.Popen[bytes]] = []
    with ExitStack() as files:
        logs: list[IO[bytes]] = []
        try:
            for cmd in cmds:
                log = files.enter_context(tempfile.TemporaryFile())
                logs.append(log)
                procs.append(
                    subprocess.Popen(list(cmd), env=dict(env), stdout=log, stderr=subprocess.STDOUT, cwd=cwd)
                )
            yield Processes(procs, logs)
        finally:
            Processes(procs, logs).stop(timeout=stop_timeout)
