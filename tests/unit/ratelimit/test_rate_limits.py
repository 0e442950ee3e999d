"""The rate limiter on memory storage, and what it does when its Redis is unreachable."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from sargs.core.config import Settings
from sargs.core.errors import ConfigurationError, RateLimited, RateLimitUnavailable
from sargs.integrations.ratelimit import RateLimiter, memory_rate_limits, redacted_url, redis_rate_limits

DEAD_REDIS = "redis://:hunter2@127.0.0.1:1/0"  # nothing listens on port 1: connection refused at once


def admitted(limiter: RateLimiter, key: str, times: int) -> int:
    ok = 0
    for _ in range(times):
        try:
            limiter.hit(key)
            ok += 1
        except RateLimited:
            pass
    return ok


def test_a_limit_of_five_admits_exactly_five_of_ten() -> None:
    limiter = memory_rate_limits().limiter("consents", limit=5)
    assert admitted(limiter, "203.0.113.1", 10) == 5


def test_the_refusal_says_the_limit() -> None:
    limiter = memory_rate_limits().limiter("consents", limit=1)
    limiter.hit("a")
    with pytest.raises(RateLimited, match="at most 1 per 60 s"):
        limiter.hit("a")


def test_each_address_has_its_own_count() -> None:
    limiter = memory_rate_limits().limiter("consents", limit=2)
    assert admitted(limiter, "203.0.113.1", 5) == 2
    assert admitted(limiter, "203.0.113.2", 5) == 2


def test_each_limiter_name_has_its_own_count() -> None:
    limits = memory_rate_limits()
    assert admitted(limits.limiter("consents", limit=2), "a", 3) == 2
    assert admitted(limits.limiter("categories", limit=2), "a", 3) == 2
    assert limits.limiter("consents", limit=2) is limits.limiter("consents", limit=2)


def test_a_flood_of_addresses_resets_no_limit() -> None:
    """The old limiter cleared every count once it held 50,000 addresses."""
    limiter = memory_rate_limits().limiter("consents", limit=3)
    assert admitted(limiter, "victim", 3) == 3
    for i in range(60_000):
        limiter.hit(f"flood-{i}")
    assert admitted(limiter, "victim", 1) == 0


def test_hits_expire_after_the_window() -> None:
    limiter = memory_rate_limits().limiter("short", limit=2, per=1.0)
    assert admitted(limiter, "a", 3) == 2
    time.sleep(1.1)
    assert admitted(limiter, "a", 1) == 1


def test_keys_in_the_store_are_hashes_not_addresses() -> None:
    limits = memory_rate_limits(key=b"k")
    assert "203.0.113.1" not in limits.digest("consents", "203.0.113.1")
    assert limits.digest("consents", "a") != memory_rate_limits(key=b"other").digest("consents", "a")


def test_a_limit_failing_open_admits_while_redis_is_down_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limits = redis_rate_limits(DEAD_REDIS, key=b"k")
    limiter = limits.limiter("consents", limit=1, fail_open=True)
    with caplog.at_level(logging.WARNING, logger="sargs.integrations.ratelimit"):
        assert admitted(limiter, "a", 5) == 5
    warnings = [r for r in caplog.records if r.getMessage() == "rate limit storage unreachable"]
    assert len(warnings) == 1
    assert "hunter2" not in caplog.text
    assert warnings[0].storage == "redis://***@127.0.0.1:1/0"


def test_a_limit_failing_closed_refuses_while_redis_is_down() -> None:
    limiter = redis_rate_limits(DEAD_REDIS, key=b"k").limiter("portal-signin", limit=10, fail_open=False)
    with pytest.raises(RateLimitUnavailable):
        limiter.hit("a")


def test_a_down_redis_is_not_asked_again_for_a_while() -> None:
    limits = redis_rate_limits(DEAD_REDIS, key=b"k")
    limiter = limits.limiter("consents", limit=1)
    limiter.hit("a")
    started = time.perf_counter()
    for _ in range(1000):
        limiter.hit("a")
    assert time.perf_counter() - started < 1.0  # no connection attempt per hit


def test_a_redis_url_of_another_scheme_is_refused_without_its_password() -> None:
    with pytest.raises(ConfigurationError) as caught:
        redis_rate_limits("http://:s3cret@cache:6379/0", key=b"k")
    assert "s3cret" not in str(caught.value)


def test_the_redis_url_is_logged_without_its_password() -> None:
    assert redacted_url("redis://:s3cret@cache.internal:6380/2") == "redis://***@cache.internal:6380/2"
    assert redacted_url("rediss://user:s3cret@cache/0") == "rediss://***@cache/0"
    assert redacted_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_a_redis_url_may_come_from_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "redis_url"
    secret.write_text("redis://:s3cret@cache:6379/0\n")
    monkeypatch.setenv("SARGS_REDIS_URL_FILE", str(secret))
    assert Settings().redis_url == "redis://:s3cret@cache:6379/0"
