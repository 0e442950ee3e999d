"""A revoked token is refused within TOKEN_CACHE_SECONDS (1 s), without a query on every request."""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi.testclient import TestClient

from sargs.domains.access.principal import Principal
from sargs.domains.tokens.service import revoke_token
from sargs.entrypoints.api.deps import TOKEN_CACHE_SECONDS, TokenCache
from sargs.entrypoints.container import Container


def test_the_token_cache_lasts_at_most_one_second() -> None:
    assert TOKEN_CACHE_SECONDS <= 1.0


def test_a_cached_token_expires_from_when_its_read_began() -> None:
    cache = TokenCache(ttl=1.0)
    principal = Principal("token", "t1", "admin", None)
    cache.put("k", principal, read_at=time.monotonic() - 0.99)
    assert cache.get("k") == principal
    cache.put("k", principal, read_at=time.monotonic() - 1.0)
    assert cache.get("k") is None


def test_a_full_cache_drops_expired_entries_not_live_ones() -> None:
    cache = TokenCache(ttl=60.0)
    live = Principal("token", "live", "admin", None)
    cache.put("live", live)
    for i in range(20_000):
        cache.put(f"k{i}", live, read_at=time.monotonic() - 61)
    assert cache.get("live") == live


def test_a_revoked_token_is_refused_within_a_second(
    client: TestClient, container: Container, token: Callable[..., str]
) -> None:
    secret = token("admin")
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/audit", headers=headers).status_code == 200
    token_id = secret.removeprefix("sargs_").partition("_")[0]
    with container.sessions.begin() as session:
        revoke_token(session=session, token_id=token_id, now=container.clock.now())
    time.sleep(TOKEN_CACHE_SECONDS)
    r = client.get("/api/v1/audit", headers=headers)
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"
