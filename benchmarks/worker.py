"""`sargs worker` idle cost and how long due work waits, beside the polling commands it replaces.

    python benchmarks/worker.py [--seconds 20] [--pg URL]

On a fresh SQLite database (and PostgreSQL with --pg, or SARGS_BENCH_PG_URL) with both example
policies, for --seconds each, measured from /proc:
- CPU and RSS of one idle `sargs worker` (every job on its default schedule, SMS every 2 s);
- the reference: `sargs sms send` + `sargs mail send`, the two polling loops that had to run
  beside cron before (they cover only the outboxes);
- how late each due slot started (the worker logs it per run), and how long a queued background
  task waited for a worker to start it (20 tasks queued 0.3 s apart; the poll interval is 1 s).
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import sqlalchemy as sa

from databases import wipeable
from sargs.bootstrap import example_policy_paths
from sargs.core.db import make_engine, make_session_factory
from sargs.domains.jobs import tasks
from sargs.domains.jobs.model import WorkerTask
from sargs.migrations import downgrade, upgrade

TICK = os.sysconf("SC_CLK_TCK")
WAITED = re.compile(r"started ([0-9.]+) s after due")


def proc_stats(pid: int) -> tuple[float, float]:
    """(CPU seconds, RSS MiB) of a process and its children so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = sum(int(x) for x in fields[11:15]) / TICK  # utime stime cutime cstime
    rss = next(
        int(line.split()[1]) / 1024
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if line.startswith("VmRSS")
    )
    return cpu, rss


def env_for(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SARGS_")}
    env.update(
        SARGS_DATABASE_URL=url,
        SARGS_POLICY_FILES=",".join(str(p) for p in example_policy_paths()),
        SARGS_DEMO="true",
        SARGS_LOG_LEVEL="DEBUG",
        # retention needs the demo's source databases; the ledger job has nothing to verify
        SARGS_WORKER_SCHEDULE=json.dumps({"retention": "off"}),
        PYTHONUNBUFFERED="1",
    )
    return env


def measure(
    cmds: list[list[str]], env: dict[str, str], seconds: float, log: Path
) -> tuple[float, float, str]:
    """Start the commands, let them settle 3 s, then CPU% and RSS over `seconds`; their stderr."""
    with log.open("w") as out:
        procs = [subprocess.Popen(c, env=env, stdout=subprocess.DEVNULL, stderr=out) for c in cmds]
        try:
            time.sleep(3)
            before = [proc_stats(p.pid) for p in procs]
            time.sleep(seconds)
            after = [proc_stats(p.pid) for p in procs]
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(timeout=15)
    cpu = sum(a[0] - b[0] for a, b in zip(after, before, strict=True)) / seconds * 100
    rss = sum(a[1] for a in after)
    return cpu, rss, log.read_text()


def task_waits(url: str, env: dict[str, str], log: Path) -> list[float]:
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    with log.open("w") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "sargs", "worker"], env=env, stdout=subprocess.DEVNULL, stderr=out
        )
        try:
            time.sleep(3)
            ids = []
            for i in range(20):
                with sessions.begin() as s:
                    task, _ = tasks.enqueue(
                        session=s,
                        kind="retention_run",
                        target=f"bench-{i}",
                        params={"policy": "sargs", "source": "sargs"},
                        created_by="bench",
                        now=datetime.now(UTC),
                    )
                    ids.append(task.id)
                time.sleep(0.3)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with sessions.begin() as s:
                    rows = s.scalars(sa.select(WorkerTask).where(WorkerTask.id.in_(ids))).all()
                    if all(r.started_at is not None for r in rows):
                        break
                time.sleep(0.2)
        finally:
            worker.terminate()
            worker.wait(timeout=15)
    with sessions.begin() as s:
        rows = s.scalars(sa.select(WorkerTask).where(WorkerTask.id.in_(ids))).all()
        waits = [(r.started_at - r.created_at).total_seconds() for r in rows if r.started_at]
    engine.dispose()
    return waits


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def run(label: str, url: str, seconds: float, scratch: Path) -> None:
    env = env_for(url)
    sargs = [sys.executable, "-m", "sargs"]
    w_cpu, w_rss, w_log = measure([[*sargs, "worker"]], env, seconds, scratch / f"{label}-worker.log")
    r_cpu, r_rss, _ = measure(
        [[*sargs, "sms", "send"], [*sargs, "mail", "send"]], env, seconds, scratch / f"{label}-polls.log"
    )
    late = [float(m.group(1)) for m in WAITED.finditer(w_log)]
    waits = task_waits(url, env, scratch / f"{label}-tasks.log")
    print(f"\n[{label}] idle for {seconds:.0f} s")
    print(f"  one `sargs worker` (all jobs):               CPU {w_cpu:5.2f} %   RSS {w_rss:6.1f} MiB")
    print(
        f"  reference: `sargs sms send` + `mail send`:   CPU {r_cpu:5.2f} %   RSS {r_rss:6.1f} MiB (two processes)"
    )
    if late:
        print(
            f"  due slot -> job start ({len(late)} runs):     p50 {statistics.median(late) * 1000:6.1f} ms"
            f"   p99 {pct(late, 0.99) * 1000:6.1f} ms   max {max(late) * 1000:6.1f} ms"
        )
    if waits:
        print(
            f"  queued task -> started ({len(waits)} tasks):    p50 {statistics.median(waits) * 1000:6.1f} ms"
            f"   max {max(waits) * 1000:6.1f} ms   (reference: poll interval 1000 ms)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--pg", default=os.environ.get("SARGS_BENCH_PG_URL"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        url = f"sqlite:///{scratch / 'bench.db'}"
        upgrade(url)
        run("SQLite", url, args.seconds, scratch)
        if args.pg:
            downgrade(wipeable(args.pg), "base")
            upgrade(args.pg)
            run("PostgreSQL", args.pg, args.seconds, scratch)


if __name__ == "__main__":
    main()
