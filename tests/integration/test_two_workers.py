"""Two `sargs worker` processes on one PostgreSQL database: every due slot of every job runs, and
none runs twice (the workers' own logs say which slot each ran)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta

from sargs.bootstrap import example_policy_paths
from tests.helpers import requires_postgres

RAN = re.compile(r"job (\S+) slot (\d{8}T\d{6}\.\d{6}Z) ")
EVERY_SECOND = ("sms_send", "mail_send", "dsr_callbacks", "breach_alerts", "ledger_verify")


@requires_postgres
def test_two_workers_run_each_due_slot_exactly_once(db_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SARGS_")}
    env.update(
        PYTHONUNBUFFERED="1",
        SARGS_DATABASE_URL=db_url,
        SARGS_POLICY_FILES=",".join(str(p) for p in example_policy_paths()),
        SARGS_LOG_LEVEL="DEBUG",
        SARGS_WORKER_SCHEDULE=json.dumps(
            {
                **dict.fromkeys(EVERY_SECOND, "1s"),
                "retention": "off",
                "dsr_remind": "off",
                "policy_review": "off",
            }
        ),
    )
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "sargs", "worker"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    time.sleep(8)
    logs = []
    for w in workers:
        w.send_signal(signal.SIGTERM)
    for w in workers:
        out, _ = w.communicate(timeout=15)
        assert w.returncode == 0, out
        logs.append(out)
    runs = [[m.groups() for m in RAN.finditer(log)] for log in logs]
    both = Counter(run for worker in runs for run in worker)
    assert both, logs
    assert [run for run, n in both.items() if n > 1] == []  # no slot ran twice
    assert all(runs), "each worker ran some of the slots"
    for job in EVERY_SECOND:
        slots = sorted(
            datetime.strptime(slot, "%Y%m%dT%H%M%S.%fZ")
            for name, slot in both
            if name == job and slot.endswith(".000000Z")
        )
        assert len(slots) >= 4, (job, slots)
        # every second between the first slot and the last was run by one of the two
        assert slots == [slots[0] + timedelta(seconds=i) for i in range(len(slots))], (job, slots)
