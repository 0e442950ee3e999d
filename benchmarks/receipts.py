"""What signing a consent receipt costs (issue 18): the receipt API answered as JSON (the
reference, as before) and signed (`format=jwt`, ES256), in one run on the same database; and the
two steps alone: building the receipt and signing it.

    python benchmarks/receipts.py [--requests 300]

Prints requests per second and mean milliseconds per receipt for both forms through the ASGI app
(SQLite; signing does not touch the database), then microseconds per build and per signature.
Asserts nothing about time.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from sargs.bootstrap import build, create_app, example_policy_paths
from sargs.core.config import Settings
from sargs.domains.consent.receipts import build_receipt
from sargs.domains.consent.service import get_event
from sargs.domains.policy.loader import load_policy
from sargs.domains.policy.registry import policy_as_published
from sargs.domains.tokens.service import create_token
from sargs.migrations import upgrade


def timed(fn: object, n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        fn()  # type: ignore[operator]
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    n = parser.parse_args().requests
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        policies = [load_policy(p) for p in example_policy_paths()]
        container = build(Settings(database_url=url, demo=True, access_log=False), policies=policies)
        logging.getLogger("sargs").setLevel(logging.WARNING)
        with container.sessions.begin() as session:
            secret = create_token(
                session=session, name="bench", role="operator", now=container.clock.now()
            ).secret
        h = {"Authorization": f"Bearer {secret}"}
        with TestClient(create_app(container)) as client:
            body = {
                "controller": "lmt",
                "identity": "msisdn:+37129123456",
                "purpose": "offers",
                "action": "grant",
            }
            event_id = client.post("/api/v1/consents", json=body, headers=h).json()["event"]["id"]
            forms = [("JSON (reference)", ""), ("signed JWT (ES256)", "&format=jwt")]
            for _, extra in forms:  # warm up
                assert (
                    client.get(f"/api/v1/consents/{event_id}/receipt?lang=en{extra}", headers=h).status_code
                    == 200
                )
            rounds: dict[str, list[float]] = {label: [] for label, _ in forms}
            for _ in range(3):  # alternated, so a busy moment of the machine hits both forms alike
                for label, extra in forms:
                    path = f"/api/v1/consents/{event_id}/receipt?lang=en{extra}"
                    rounds[label].append(timed(lambda path=path: client.get(path, headers=h), n // 3))
            print(f"  {'receipt over the API':<22} {'requests/s':>11} {'mean ms':>8}  (median of 3 rounds)")
            for label, times in rounds.items():
                took = sorted(times)[1]
                print(f"  {label:<22} {(n // 3) / took:>11.0f} {1000 * took / (n // 3):>8.2f}")
        with container.sessions.begin() as session:
            event = get_event(session=session, event_id=event_id)
            policy = policy_as_published(
                session=session,
                registry=container.registry,
                policy_id=event.policy_id,
                version=event.policy_version,
            )
            session.expunge(event)
        receipt = build_receipt(event=event, policy=policy, language="en")
        steps = n * 10
        build_s = timed(lambda: build_receipt(event=event, policy=policy, language="en"), steps)
        sign_s = timed(lambda: container.receipt_keys.sign(receipt), steps)
        print(
            f"  build one receipt: {1e6 * build_s / steps:.0f} µs; sign it (ES256): {1e6 * sign_s / steps:.0f} µs"
        )
        container.close()


if __name__ == "__main__":
    main()
