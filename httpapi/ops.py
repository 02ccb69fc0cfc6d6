"""Operations endpoints: liveness, readiness and Prometheus metrics (behind METRICS_TOKEN)."""

from __future__ import annotations

import asyncio
import hmac

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from engine.appkeys import CONFIG, METRICS, SERVICES
from engine.errors import unauthenticated
from httpapi import schemas
from httpapi.auth import bearer_token
from httpapi.contract import ApiRoutes
from httpapi.responses import json_response

routes = ApiRoutes()


class Lifecycle:
    """Mutable run state: the app's mapping is frozen once it starts."""

    draining: bool = False


LIFECYCLE = web.AppKey("lifecycle", Lifecycle)


@routes.api("GET", "/healthz", summary="Liveness: the process is up.", response=schemas.Status)
async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


@routes.api(
    "GET", "/readyz", summary="Readiness: PostgreSQL and Redis answer.", response=schemas.Readiness, errors=(503,)
)
async def readyz(request: web.Request) -> web.Response:
    if request.app[LIFECYCLE].draining:
        return json_response({"status": "draining"}, 503)
    svc = request.app.get(SERVICES)
    checks = {"postgres": "down", "redis": "down"}
    if svc is not None:

        async def pg() -> None:
            async with svc.pool.acquire() as conn:
                await conn.fetchval("SELECT 1")
            checks["postgres"] = "ok"

        async def redis() -> None:
            await svc.redis.ping()
            checks["redis"] = "ok"

        await asyncio.gather(*(asyncio.wait_for(c(), 2.0) for c in (pg, redis)), return_exceptions=True)
    ready = all(v == "ok" for v in checks.values())
    return json_response({"status": "ok" if ready else "unavailable", "checks": checks}, 200 if ready else 503)


@routes.api(
    "GET",
    "/metrics",
    summary="Prometheus metrics (needs METRICS_TOKEN).",
    response=str,
    content_type="text/plain",
    errors=(401, 404),
    security="metricsToken",
)
async def metrics(request: web.Request) -> web.Response:
    """Prometheus scrape, opt-in: without METRICS_TOKEN the route answers like an unknown one."""
    token = request.app[CONFIG].metrics_token
    if not token:
        raise web.HTTPNotFound()
    if not hmac.compare_digest((bearer_token(request) or "").encode(), token.encode()):
        raise unauthenticated()
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
