"""Long-running commands stop at a safe point on SIGTERM or Ctrl+C: the signal only sets an event,
which their loop checks between two units of work (then hands back what it holds)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextmanager
def stop_on_signals(event: threading.Event | None = None) -> Iterator[threading.Event]:
    """Within the block, SIGTERM and SIGINT set `event` (a new one if None) instead of killing the
    process; the previous handlers are put back after it."""
    stop = event if event is not None else threading.Event()
    previous = {sig: signal.getsignal(sig) for sig in SIGNALS}
    for sig in SIGNALS:
        signal.signal(sig, lambda *_: stop.set())
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
