"""Rate limits: login per phone and per IP, the default per-route HTTP limit, and the Redis token bucket."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from engine.config import Rate
from engine.errors import DomainError
from engine.keys import Keys
from engine.ratelimit.store import RateLimiter, Verdict
from tests.conftest import AppFactory
from tests.helpers import METRICS_TOKEN, PASSWORD, bearer, login, new_phone, register_user

Client = TestClient[web.Request, web.Application]
THROTTLED = re.compile(r"Too many login attempts\. Please try again in (\d+) seconds\.")


async def assert_login_throttled(resp: Any, max_wait: int) -> int:
    assert resp.status == 429, await resp.text()
    retry_after = int(resp.headers["Retry-After"])
    assert 1 <= retry_after <= max_wait
    body = await resp.json()
    assert body["error"]["code"] == "rate_limited"
    expected = f"Too many login attempts. Please try again in {retry_after} seconds."
    assert body["errors"]["phone"] == [expected] and body["error"]["fields"]["phone"] == [expected]
    assert THROTTLED.fullmatch(body["message"])
    return retry_after


# --- login limits --------------------------------------------------------------------------------


async def test_login_throttled_per_phone(make_client: AppFactory) -> None:
    client = await make_client(login_rate_limit_phone=Rate(3, 60))
    phone, other_phone = (await register_user(client))["phone"], (await register_user(client))["phone"]
    assert (await login(client, phone)).status == 200
    assert (await login(client, phone, "Wrong-pass-1")).status == 422
    assert (await login(client, phone, "Wrong-pass-2")).status == 422
    # 4th attempt for this phone: refused even with the right password (one token per 20 s).
    await assert_login_throttled(await login(client, phone), max_wait=20)
    v1 = await client.post("/api/v1/auth/login", json={"phone": phone, "password": PASSWORD})
    assert v1.status == 429 and "Retry-After" in v1.headers
    # Another phone from the same address is unaffected.
    assert (await login(client, other_phone)).status == 200


async def test_login_throttled_per_ip(make_client: AppFactory) -> None:
    client = await make_client(login_rate_limit_ip=Rate(3, 60))
    phone = (await register_user(client))["phone"]
    for _ in range(3):
        assert (await login(client, new_phone())).status == 422  # unknown phones, each a new subject
    await assert_login_throttled(await login(client, new_phone()), max_wait=20)
    # The IP limit covers every phone, including a registered one with the right password.
    await assert_login_throttled(await login(client, phone), max_wait=20)


# --- default HTTP limit --------------------------------------------------------------------------


async def test_default_route_limit(make_client: AppFactory) -> None:
    client = await make_client(http_rate_limit=Rate(5, 60))
    for _ in range(5):
        assert (await client.get("/api/health_check")).status == 200
    resp = await client.get("/api/health_check")
    assert resp.status == 429
    assert 1 <= int(resp.headers["Retry-After"]) <= 12  # one token per 12 s
    body = await resp.json()
    assert body["error"]["code"] == "rate_limited" and body["status"] == "error"
    assert body["request_id"] == resp.headers["X-Request-ID"]
    # Probes and scrapes are never limited, however often they are called.
    for path in ("/healthz", "/readyz", "/metrics"):
        for _ in range(12):
            probe = await client.get(path, headers=bearer(METRICS_TOKEN))
            assert probe.status == 200, (path, await probe.text())
    metrics = await (await client.get("/metrics", headers=bearer(METRICS_TOKEN))).text()
    assert re.search(r'^flylive_rate_limited_total\{scope="http"\} [1-9]', metrics, re.M), metrics


async def test_default_route_limit_refills(make_client: AppFactory) -> None:
    client = await make_client(http_rate_limit=Rate(2, 1))
    assert (await client.get("/api/health_check")).status == 200
    assert (await client.get("/api/health_check")).status == 200
    assert (await client.get("/api/health_check")).status == 429
    await asyncio.sleep(1.1)
    assert (await client.get("/api/health_check")).status == 200


# --- RateLimiter against Redis ------------------------------------------------------------------


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def keys(redis_prefix: str) -> Keys:
    return Keys(redis_prefix)


@pytest.fixture
def limiter(redis: Redis, keys: Keys) -> RateLimiter:
    return RateLimiter(redis, keys)


async def test_a_pipelined_hit_shares_the_bucket_and_survives_a_forgotten_script(
    limiter: RateLimiter, redis: Redis
) -> None:
    rate = Rate(2, 60)
    async with redis.pipeline(transaction=False) as pipe:
        limiter.queue_hit(pipe, "probe", "p1", rate)
        limiter.queue_hit(pipe, "probe", "p1", rate)
        replies = await pipe.execute(raise_on_error=False)
    verdicts = [await limiter.verdict_of(reply, "probe", "p1", rate) for reply in replies]
    assert [(v.allowed, v.remaining) for v in verdicts] == [(True, 1), (True, 0)]
    # A reply of NOSCRIPT (Redis restarted and forgot the script) runs the hit on its own.
    forgot = await limiter.verdict_of(NoScriptError("NOSCRIPT"), "probe", "p1", rate)
    assert forgot.allowed is False and (await limiter.hit("probe", "p1", rate)).allowed is False


async def test_bucket_capacity_and_retry_after(limiter: RateLimiter) -> None:
    rate = Rate(3, 60)
    verdicts = [await limiter.hit("test", "alice", rate) for _ in range(4)]
    assert [(v.allowed, v.remaining) for v in verdicts] == [(True, 2), (True, 1), (True, 0), (False, 0)]
    assert all(v.retry_after_ms == 0 for v in verdicts[:3])
    refused = verdicts[3]
    # One token takes 60 s / 3 = 20 s to come back; a few ms may already have refilled.
    assert 15_000 < refused.retry_after_ms <= 20_000
    assert refused.retry_after_seconds == -(-refused.retry_after_ms // 1000)


async def test_bucket_subjects_and_scopes_are_independent(limiter: RateLimiter) -> None:
    rate = Rate(1, 60)
    assert (await limiter.hit("scope-a", "alice", rate)).allowed
    assert not (await limiter.hit("scope-a", "alice", rate)).allowed
    assert (await limiter.hit("scope-a", "bob", rate)).allowed
    assert (await limiter.hit("scope-b", "alice", rate)).allowed


async def test_bucket_cost(limiter: RateLimiter) -> None:
    rate = Rate(5, 60)
    first = await limiter.hit("cost", "x", rate, cost=3)
    assert first.allowed and first.remaining == 2
    refused = await limiter.hit("cost", "x", rate, cost=3)
    assert not refused.allowed and refused.remaining == 2  # a refusal takes nothing
    assert (await limiter.hit("cost", "x", rate, cost=2)).allowed
    assert not (await limiter.hit("cost", "x", rate)).allowed


async def test_bucket_check_raises_rate_limited(limiter: RateLimiter) -> None:
    rate = Rate(1, 30)
    assert (await limiter.check("check", "x", rate)).allowed
    with pytest.raises(DomainError) as caught:
        await limiter.check("check", "x", rate)
    assert caught.value.status == 429 and caught.value.code == "rate_limited"
    assert caught.value.retry_after is not None and 1 <= caught.value.retry_after <= 30


async def test_bucket_key_is_prefixed_and_expires(limiter: RateLimiter, redis: Redis, keys: Keys) -> None:
    await limiter.hit("ttl", "subject", Rate(4, 10))
    key = keys.rate_bucket("ttl", "subject")
    assert key.startswith(keys.prefix)
    assert await redis.exists(key) == 1
    ttl = await redis.pttl(key)
    assert 0 < ttl <= 10_000 + 1000  # never longer than a full refill (plus the script's slack)
    assert [k async for k in redis.scan_iter(match=f"{keys.prefix}*")] == [key.encode()]


async def test_bucket_is_atomic_under_concurrency(limiter: RateLimiter) -> None:
    rate = Rate(10, 60)
    verdicts = await asyncio.gather(*(limiter.hit("race", "shared", rate) for _ in range(25)))
    assert sum(v.allowed for v in verdicts) == 10


async def test_bucket_refills(limiter: RateLimiter) -> None:
    rate = Rate(2, 1)
    assert (await limiter.hit("refill", "x", rate)).allowed
    assert (await limiter.hit("refill", "x", rate)).allowed
    assert not (await limiter.hit("refill", "x", rate)).allowed
    await asyncio.sleep(1.1)
    again = await limiter.hit("refill", "x", rate)
    assert again.allowed and again.remaining >= 1  # a full period refills the whole bucket


def test_verdict_retry_after_seconds_rounds_up() -> None:
    assert Verdict(False, 0, 0).retry_after_seconds == 1
    assert Verdict(False, 1, 0).retry_after_seconds == 1
    assert Verdict(False, 1000, 0).retry_after_seconds == 1
    assert Verdict(False, 1001, 0).retry_after_seconds == 2
    assert Verdict(False, 59_999, 0).retry_after_seconds == 60
