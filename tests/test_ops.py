"""Operations endpoints: liveness, readiness (and its failure modes) and Prometheus metrics."""

from __future__ import annotations

import re
from typing import Any

import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from engine.appkeys import SERVICES
from httpapi.ops import LIFECYCLE
from tests.helpers import METRICS_TOKEN, bearer, login

Client = TestClient[web.Request, web.Application]


def sample(metrics: str, name: str, **labels: str) -> float | None:
    """The value of one Prometheus sample whose labels include `labels`, or None."""
    for line in metrics.splitlines():
        match = re.fullmatch(rf"{re.escape(name)}(?:\{{(.*)\}})? (\S+)", line)
        if match is None:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(1) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(match.group(2))
    return None


async def scrape(client: Client) -> str:
    resp = await client.get("/metrics", headers=bearer(METRICS_TOKEN))
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/plain")
    return await resp.text()


async def test_healthz_and_readyz(client: Client) -> None:
    resp = await client.get("/healthz")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok"}
    resp = await client.get("/readyz")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok", "checks": {"postgres": "ok", "redis": "ok"}}


async def test_readyz_503_when_redis_is_unreachable(client: Client) -> None:
    services = client.app[SERVICES]
    real = services.redis
    dead = Redis.from_url("redis://127.0.0.1:1", socket_connect_timeout=0.5)
    services.redis = dead
    try:
        resp = await client.get("/readyz")
        text = await resp.text()
        assert resp.status == 503, text
        assert "Traceback" not in text
        body = await resp.json()
        assert body["status"] == "unavailable"
        assert body["checks"] == {"postgres": "ok", "redis": "down"}
        assert (await client.get("/healthz")).status == 200  # liveness does not depend on Redis
    finally:
        services.redis = real
        await dead.aclose()
    assert (await client.get("/readyz")).status == 200


async def test_readyz_503_when_postgres_is_unreachable(client: Client, database_url: str) -> None:
    services = client.app[SERVICES]
    real = services.pool
    closed = await asyncpg.create_pool(database_url, min_size=0, max_size=1)
    await closed.close()
    services.pool = closed
    try:
        resp = await client.get("/readyz")
        assert resp.status == 503
        assert (await resp.json())["checks"] == {"postgres": "down", "redis": "ok"}
    finally:
        services.pool = real
    assert (await client.get("/readyz")).status == 200


async def test_readyz_503_while_draining(client: Client) -> None:
    lifecycle = client.app[LIFECYCLE]
    lifecycle.draining = True
    try:
        resp = await client.get("/readyz")
        assert resp.status == 503
        assert await resp.json() == {"status": "draining"}
    finally:
        lifecycle.draining = False
    assert (await client.get("/readyz")).status == 200


async def test_metrics_exposition(client: Client) -> None:
    before = await scrape(client)
    assert sample(before, "flylive_http_requests_total", route="/api/health_check") is None
    for _ in range(3):
        assert (await client.get("/api/health_check")).status == 200
    assert (await client.get("/definitely/not/here")).status == 404
    text = await scrape(client)
    labels = {"method": "GET", "route": "/api/health_check", "status": "200"}
    assert sample(text, "flylive_http_requests_total", **labels) == 3
    assert sample(text, "flylive_http_requests_total", route="unmatched", status="404") == 1
    count = sample(text, "flylive_http_request_duration_seconds_count", method="GET", route="/api/health_check")
    assert count == 3
    assert sample(text, "flylive_http_request_duration_seconds_bucket", route="/api/health_check", le="+Inf") == 3
    for family, kind in (
        ("flylive_http_requests_total", "counter"),
        ("flylive_http_request_duration_seconds", "histogram"),
        ("flylive_socket_connections", "gauge"),
        ("flylive_socket_events_total", "counter"),
    ):
        # prometheus_client names a counter's family with or without `_total` depending on its version.
        names = {family, family.removesuffix("_total")}
        assert any(f"\n# TYPE {name} {kind}\n" in text for name in names), family
    assert sample(text, "flylive_socket_connections") == 0


async def test_metrics_route_label_is_the_route_pattern(client: Client, register: Any) -> None:
    token = (await register())["token"]
    me = await (await client.get("/api/user", headers=bearer(token))).json()
    for user_id in (me["id"], 987654321):
        await client.get(f"/api/user/{user_id}", headers=bearer(token))
    text = await scrape(client)
    # One series per route pattern, never per id: path parameters must not explode label cardinality.
    assert sample(text, "flylive_http_requests_total", route="/api/user/{id}", status="200") == 1
    assert sample(text, "flylive_http_requests_total", route="/api/user/{id}", status="404") == 1
    assert f"/api/user/{me['id']}" not in text and "987654321" not in text


async def test_metrics_count_login_outcomes(client: Client, register: Any) -> None:
    phone = (await register())["phone"]
    await login(client, phone, "Wrong-pass-1")
    text = await scrape(client)
    assert sample(text, "flylive_auth_attempts_total", kind="login", result="bad_credentials") == 1
    assert sample(text, "flylive_http_requests_total", route="/api/login", status="422") == 1
