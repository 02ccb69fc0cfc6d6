"""The one app factory: `create_app(config)` builds the whole service.

Each resource is one `cleanup_ctx` generator, so start-up and shutdown run in mirror order:
PostgreSQL pool and Redis, then the services every handler uses, then the realtime server.
Nothing connects at import time or in `create_app` itself.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web
from redis.asyncio import Redis

from engine.appkeys import CONFIG, METRICS, REALTIME, SERVICES
from engine.auth import store as auth_store
from engine.auth.passwords import PasswordHasher
from engine.auth.tokens import TokenSigner
from engine.config import Config
from engine.db import create_pool
from engine.keys import Keys
from engine.lua import preload
from engine.metrics import Metrics
from engine.ratelimit.store import TOKEN_BUCKET, RateLimiter
from engine.realtime.events import register_core_events
from engine.realtime.server import RealtimeServer
from engine.rooms.handlers import register_room_events
from engine.services import Services
from httpapi.middleware import MIDDLEWARES
from httpapi.ops import LIFECYCLE, Lifecycle
from httpapi.routes import setup_routes

log = logging.getLogger("flylive.app")


def redis_client(url: str) -> Redis:
    return Redis.from_url(url, decode_responses=False, health_check_interval=30)


async def _services_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    assert config.redis_url, "create_app needs REDIS_URL (or the embedded server) resolved"
    pool = await create_pool(config)
    redis = redis_client(config.redis_url)
    try:
        await redis.ping()
        await preload(redis, TOKEN_BUCKET)
        keys = Keys(config.redis_prefix)
        svc = Services(
            config=config,
            pool=pool,
            redis=redis,
            keys=keys,
            hasher=PasswordHasher(config.argon2_memory_kib, config.argon2_time_cost),
            signer=TokenSigner(config.jwt_secret, config.jwt_secret_previous, config.access_token_ttl),
            limiter=RateLimiter(redis, keys),
            metrics=app[METRICS],
        )
        restored = await auth_store.rebuild_revocations(pool, redis, keys, config.access_token_ttl)
        log.info("services ready", extra={"revocations_restored": restored})
        app[SERVICES] = svc
        yield
    finally:
        await redis.aclose()
        await pool.close()


async def _realtime_ctx(app: web.Application) -> AsyncIterator[None]:
    realtime = app[REALTIME]
    await realtime.start()
    yield
    await realtime.stop()


async def _on_shutdown(app: web.Application) -> None:
    # Runs after the listener closed and before aiohttp waits for open connections: readiness turns
    # 503, and the sockets are closed now — otherwise open WebSockets would hold shutdown for the
    # whole grace period and then be cut without a Socket.IO disconnect.
    app[LIFECYCLE].draining = True
    await app[REALTIME].disconnect_all()


def create_app(config: Config) -> web.Application:
    if not config.jwt_secret:
        raise ValueError("create_app needs a JWT secret (JWT_SECRET or engine.config.ensure_jwt_secret)")
    app = web.Application(client_max_size=config.max_body_bytes, middlewares=MIDDLEWARES)
    app[CONFIG] = config
    app[METRICS] = Metrics()
    app[LIFECYCLE] = Lifecycle()
    assert config.redis_url, "create_app needs REDIS_URL (or the embedded server) resolved"
    realtime = RealtimeServer(app, config, app[METRICS], config.redis_url, Keys(config.redis_prefix).socketio_channel())
    register_core_events(realtime)
    register_room_events(realtime)
    app[REALTIME] = realtime
    setup_routes(app)
    app.cleanup_ctx.append(_services_ctx)
    app.cleanup_ctx.append(_realtime_ctx)
    app.on_shutdown.append(_on_shutdown)
    return app
