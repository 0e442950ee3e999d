"""A full ledger verification split over processes (consent.verify, `jobs` > 1).

The chains are cut into parts by subject-id range (`verify.BOUNDS`); `jobs` verifier processes
take the parts one at a time as they finish the last (a slow process holds up no other), and the
caller merges the parts' reports in subject-id order, so the report is the one a single process
makes. Each verifier is `python -m sargs.domains.consent.parallel`: it imports the verifier and
the database driver only (not the caller's main module, as multiprocessing's spawn does, nor the
application), keeps one connection for all its parts and reads, on PostgreSQL, the caller's own
snapshot (`pg_export_snapshot`): the chains verified are those the caller's checkpoints describe.

The caller and a verifier talk pickles over the verifier's stdin and stdout: first (url,
snapshot), then per part (lo, hi) -> (VerifyReport, chain ends); None ends the verifier.
"""

from __future__ import annotations

import os
import pickle
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import suppress
from typing import IO, Any

from sqlalchemy import text
from sqlalchemy.orm import Session

SNAPSHOT_ID = re.compile(r"^[0-9A-Fa-f-]+$")
Part = tuple[str | None, str | None]
Result = tuple[Any, list[tuple[Any, ...]]]


def export_snapshot(session: Session) -> str | None:
    """The caller's snapshot for the verifiers to share (PostgreSQL), or None where there is none
    to share (SQLite; a server that refuses, as a standby may: each verifier then reads its own)."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    try:
        with session.begin_nested():
            snapshot = session.scalar(text("SELECT pg_export_snapshot()"))
    except Exception:  # only a consistency nicety; the savepoint undid the error
        return None
    return snapshot if isinstance(snapshot, str) and SNAPSHOT_ID.match(snapshot) else None


def run_parts(url: str, snapshot: str | None, parts: Sequence[Part], jobs: int) -> Iterator[Result]:
    """Each part's (report, chain ends), in the order of `parts`, from `jobs` verifier processes."""
    futures = [Future[Result]() for _ in parts]
    queue = iter(range(len(parts)))
    lock = threading.Lock()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "sargs.domains.consent.parallel"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        for _ in range(max(1, min(jobs, len(parts))))
    ]

    def drive(proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdin is not None and proc.stdout is not None
        index = None
        try:
            _send(proc.stdin, (url, snapshot))
            while True:
                with lock:
                    index = next(queue, None)
                if index is None:
                    break
                _send(proc.stdin, parts[index])
                futures[index].set_result(pickle.load(proc.stdout))
            _send(proc.stdin, None)
        except BaseException as exc:  # handed to the caller through the futures
            failure = RuntimeError(f"a ledger verifier process failed ({type(exc).__name__}: {exc})")
            for future in futures[index or 0 :]:
                if not future.done():
                    future.set_exception(failure)

    threads = [threading.Thread(target=drive, args=(proc,), daemon=True) for proc in procs]
    for thread in threads:
        thread.start()
    try:
        for future in futures:
            yield future.result()
    finally:
        if any(not f.done() or f.exception() is not None for f in futures):
            for proc in procs:  # stopped early or failed: no verifier is waited for
                proc.kill()
        for thread in threads:
            thread.join()
        for proc in procs:
            for stream in (proc.stdin, proc.stdout):
                if stream is not None:
                    with suppress(OSError):
                        stream.close()
            proc.wait()


def _send(stream: IO[bytes], value: Any) -> None:
    pickle.dump(value, stream, protocol=pickle.HIGHEST_PROTOCOL)
    stream.flush()


def serve(source: IO[bytes], sink: IO[bytes]) -> None:
    """A verifier process: verify the parts it is sent, on one connection, in one transaction."""
    from sqlalchemy.pool import NullPool

    from sargs.core.db import make_engine
    from sargs.domains.consent.verify import VerifyReport, _verify_range

    url, snapshot = pickle.load(source)
    engine = (
        make_engine(url, poolclass=NullPool) if url.startswith("sqlite") else make_engine(url, pool_size=1)
    )
    try:
        options: dict[str, Any] = {"readonly": True}
        if engine.dialect.name == "postgresql":
            options["isolation_level"] = "REPEATABLE READ"  # subjects and events from one snapshot
        with Session(engine.execution_options(**options)) as session, session.begin():
            if snapshot is not None and SNAPSHOT_ID.match(snapshot):
                session.execute(text(f"SET TRANSACTION SNAPSHOT '{snapshot}'"))
            while (part := pickle.load(source)) is not None:
                report, chains = VerifyReport(), list[tuple[Any, ...]]()
                _verify_range(session, report, part[0], part[1], None, _collect(chains))
                _send(sink, (report, chains))
    finally:
        engine.dispose()


def _collect(chains: list[tuple[Any, ...]]) -> Callable[..., None]:
    return lambda *chain: chains.append(chain)


def main() -> None:
    """Answer on a private copy of stdout: anything else printed goes to stderr, not into the pickles."""
    sink = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    serve(sys.stdin.buffer, sink)


if __name__ == "__main__":
    main()
