"""Rate limits on the `limits` library: in memory for one process, or in Redis for all of them.

Strategy: moving window. It keeps one timestamp per accepted hit and admits a hit only when
fewer than `limit` fall in the last `per` seconds, so "5 per minute" means exactly 5 in any
60 s, across window boundaries too. The sliding-window counter keeps two counters per key and
weights the previous window: cheaper in memory but approximate, and it may admit a hit more
or less at a boundary. Sargs' limits are small (at most a few hundred per minute), so the
exact window costs little; the Redis side is one Lua script per hit.

Keys are keyed hashes of (limiter name, client key): Redis never holds a client's address.
Each key expires on its own, so many addresses never reset anyone's limit.

When the storage is unreachable, a limiter either admits the hit (`fail_open`, with a warning
logged once per outage) or refuses it with `RateLimitUnavailable`; after a failure the storage
is left alone for `RETRY_AFTER` seconds so that a dead Redis does not cost a timeout per request.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from urllib.parse import urlsplit, urlunsplit

from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter

from sargs.core.errors import ConfigurationError, RateLimited, RateLimitUnavailable

log = logging.getLogger(__name__)

KEY_PREFIX = "sargs:ratelimit"
RETRY_AFTER = 5.0  # seconds a failed storage is not asked again
REDIS_TIMEOUT = 0.25  # seconds; a hung Redis must not hold a request for long


def redacted_url(url: str) -> str:
    """The URL without its password (and user name), for logs and error messages."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparseable URL>"
    netloc = f"***@{host}{port}" if parts.password or parts.username else f"{host}{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class RateLimits:
    """Named limiters over one storage; `limiter()` returns the same limiter for the same name."""

    def __init__(
        self, storage: Storage, *, key: bytes, description: str, retry_after: float = RETRY_AFTER
    ) -> None:
        self.storage = storage
        self.description = description  # "memory" or the Redis URL without password
        self.retry_after = retry_after
        self._strategy = MovingWindowRateLimiter(storage)
        self._key = key
        self._limiters: dict[str, RateLimiter] = {}
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._warned = False

    def limiter(self, name: str, *, limit: int, per: float = 60.0, fail_open: bool = True) -> RateLimiter:
        """At most `limit` hits per `per` seconds per client key, under `name`."""
        ident = f"{name}:{limit}/{per}:{'open' if fail_open else 'closed'}"
        with self._lock:
            found = self._limiters.get(ident)
            if found is None:
                found = self._limiters[ident] = RateLimiter(
                    self, name, limit=limit, per=per, fail_open=fail_open
                )
            return found

    def digest(self, name: str, key: str) -> str:
        return hmac.new(self._key, f"{name}\x00{key}".encode(), hashlib.sha256).hexdigest()[:32]

    def _hit(self, item: RateLimitItemPerSecond, name: str, key: str) -> bool | None:
        """True: admitted; False: over the limit; None: the storage did not answer."""
        if time.monotonic() < self._down_until:
            return None
        try:
            admitted = self._strategy.hit(item, name, self.digest(name, key))
        except Exception as exc:  # the storage's errors (redis.RedisError, OSError) vary by backend
            self._down_until = time.monotonic() + self.retry_after
            if not self._warned:
                self._warned = True
                log.warning(
                    "rate limit storage unreachable",
                    extra={"storage": self.description, "error": type(exc).__name__},
                )
            return None
        if self._warned:
            self._warned = False
            log.info("rate limit storage reachable again", extra={"storage": self.description})
        return bool(admitted)

    def close(self) -> None:
        """Let go of the storage's connections (Redis); memory counts stay."""
        client = getattr(self.storage, "storage", None)
        if isinstance(self.storage, RedisStorage) and client is not None:
            client.close()


class RateLimiter:
    """One named limit; `hit(key)` counts a hit or raises RateLimited."""

    def __init__(self, limits: RateLimits, name: str, *, limit: int, per: float, fail_open: bool) -> None:
        self.limits, self.name, self.limit, self.per, self.fail_open = limits, name, limit, per, fail_open
        self._item = RateLimitItemPerSecond(limit, max(1, round(per)))

    def hit(self, key: str) -> None:
        """Count one hit for `key`; RateLimited when over the limit (or, failing closed, when the
        storage does not answer: RateLimitUnavailable)."""
        admitted = self.limits._hit(self._item, self.name, key)
        if admitted is None:
            if self.fail_open:
                return
            raise RateLimitUnavailable("this is briefly unavailable; please try again in a minute")
        if not admitted:
            raise RateLimited(f"too many requests; at most {self.limit} per {int(self.per)} s")


def memory_rate_limits(*, key: bytes | None = None) -> RateLimits:
    """Counts in this process only (the keys never leave it, so any hash key will do)."""
    return RateLimits(MemoryStorage(), key=key or secrets.token_bytes(32), description="memory")


def redis_rate_limits(url: str, *, key: bytes) -> RateLimits:
    """Counts in Redis, shared by every process using the same URL. Nothing connects until the
    first hit, so a Redis that is down does not stop the process from starting."""
    if urlsplit(url).scheme not in ("redis", "rediss", "unix"):
        raise ConfigurationError(
            f"SARGS_REDIS_URL must be a redis://, rediss:// or unix:// URL, not {redacted_url(url)!r}"
        )
    storage = RedisStorage(
        url,
        key_prefix=KEY_PREFIX,
        socket_timeout=REDIS_TIMEOUT,
        socket_connect_timeout=REDIS_TIMEOUT,
    )
    return RateLimits(storage, key=key, description=redacted_url(url))
