"""Where a hot path's time goes: py-spy samples one `sargs serve` process under load.

    python benchmarks/profile.py --database-url sqlite:////tmp/sargs-bench/bench.db --work write

Uses a database a benchmark left behind (benchmarks/consent.py: subjects with msisdn
+37120000000…). Starts one server process, runs the load generator against `--work`
(write, check, batch), records with `py-spy record --format raw` meanwhile and prints the
functions holding the most samples (inclusive, and where the sample was taken). Not part of
`make bench`: it prints no figure, it answers "where".
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loadgen
from consent import free_port, msisdn, sargs_server
from sargs.bootstrap import build, example_policy_paths
from sargs.core.config import Settings
from sargs.domains.tokens.service import create_token


def requests(work: str, n: int) -> list[loadgen.Request]:
    rng = random.Random(5)
    if work == "write":
        return [
            ("POST", "/api/v1/consents", loadgen.body({
                "controller": "lmt", "identity": f"msisdn:{msisdn(rng.randrange(n))}", "purpose": "location",
                "action": "grant" if k % 3 else "withdraw", "channel": "api",
            }))
            for k in range(4000)
        ]  # fmt: skip
    if work == "check":
        return [
            ("GET", f"/api/v1/consents/check?controller=lmt&identity=msisdn:%2B{msisdn(rng.randrange(n))[1:]}"
             "&purpose=offers", None)
            for _ in range(8000)
        ]  # fmt: skip
    items = [{"identity": f"msisdn:{msisdn(rng.randrange(n))}", "purpose": "offers"} for _ in range(1000)]
    return [("POST", "/api/v1/consents/checks", loadgen.body({"controller": "lmt", "items": items}))] * 80


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--work", choices=["write", "check", "batch"], default="write")
    parser.add_argument("--subjects", type=int, default=20_000, help="how many the database holds")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--gil", action="store_true", help="sample only the thread holding the GIL: where Python's CPU goes"
    )
    args = parser.parse_args()
    policies = [str(p) for p in example_policy_paths()]
    container = build(Settings(database_url=args.database_url, policy_files=policies, demo=True))
    with container.sessions.begin() as session:
        token = create_token(session=session, name="profile", role="admin", now=datetime.now(UTC)).secret
    container.close()
    load = requests(args.work, args.subjects)
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp, sargs_server(args.database_url, policies, 1, port) as server:
        out = Path(tmp) / "profile.txt"
        spy = subprocess.Popen(
            [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(server.pid), "--format", "raw", "--output", str(out),
             "--rate", "200", "--nonblocking", *(["--gil"] if args.gil else [])],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        result = loadgen.run("127.0.0.1", port, token, load, args.concurrency)
        spy.send_signal(2)
        spy.wait(timeout=60)
        print(result.line(f"{args.work} under py-spy"))
        inclusive: Counter[str] = Counter()
        leaf: Counter[str] = Counter()
        total = 0
        for line in out.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            frames = stack.split(";")
            if any(
                "Condition.wait" in f or "EpollSelector.select" in f or "_worker_thread" in f
                for f in frames[-2:]
            ):
                continue  # an idle thread
            samples = int(count)
            total += samples
            for frame in set(frames):
                inclusive[frame] += samples
            leaf[frames[-1]] += samples
    print(f"{total} busy samples; inclusive share (function (file:line)):")
    for frame, samples in inclusive.most_common(args.top):
        print(f"  {samples / total:6.1%}  {frame}")
    print("where the samples were taken (self):")
    for frame, samples in leaf.most_common(25):
        print(f"  {samples / total:6.1%}  {frame}")


if __name__ == "__main__":
    main()
