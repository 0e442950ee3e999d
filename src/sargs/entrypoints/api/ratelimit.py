"""A small in-process rate limiter for public endpoints (per client address, sliding window)."""

from __future__ import annotations

import threading
import time
from collections import deque

from sargs.core.errors import RateLimited


class RateLimiter:
    """At most `limit` hits per `window` seconds per key; RateLimited beyond that."""

    def __init__(self, *, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._hits) > 50_000:  # bounded memory under a flood of addresses
                self._hits.clear()
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                raise RateLimited(f"too many requests; at most {self.limit} per {int(self.window)} s")
            hits.append(now)
