"""Fixtures against real servers.

PostgreSQL: a template database is migrated once per session; each test gets its own database
cloned from it. Redis: each test gets its own key prefix (and pub/sub channels), deleted after.
The servers are TEST_DATABASE_URL / TEST_REDIS_URL when set, else embedded ones started here.
Plain helpers (users, logins, room joins, database connections) are in tests/helpers.py.
"""

from __future__ import annotations

import functools
import itertools
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis

from engine.app import create_app
from engine.config import Config, Rate
from engine.embedded import start_postgres, start_valkey
from engine.migrations import migrate
from tests.helpers import METRICS_TOKEN, TEST_SECRET, Client, db, register_user, with_database
from tests.sockets import open_peers

_counter = itertools.count(1)


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    with tempfile.TemporaryDirectory(prefix="flylive-test-pg-", dir="/tmp") as tmp:
        os.chmod(tmp, 0o755)  # as root, PostgreSQL runs as `nobody`, which must reach the data folder
        server = start_postgres(Path(tmp) / "data", ephemeral=True)
        try:
            yield server.url
        finally:
            server.stop()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url = os.environ.get("TEST_REDIS_URL")
    if url:
        yield url
        return
    with tempfile.TemporaryDirectory(prefix="flylive-test-valkey-") as tmp:
        server = start_valkey(Path(tmp), ephemeral=True)
        try:
            yield server.url
        finally:
            server.stop()


@pytest.fixture(scope="session")
async def template_db(pg_admin_url: str) -> AsyncIterator[str]:
    name = f"flylive_tpl_{os.getpid()}"
    async with db(pg_admin_url) as admin:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await admin.execute(f'CREATE DATABASE "{name}"')
        async with db(with_database(pg_admin_url, name)) as conn:
            await migrate(conn)
        yield name
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


@pytest.fixture
async def database_url(pg_admin_url: str, template_db: str) -> AsyncIterator[str]:
    name = f"flylive_t{os.getpid()}_{next(_counter)}"
    async with db(pg_admin_url) as admin:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
        yield with_database(pg_admin_url, name)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def redis_prefix(redis_url: str) -> AsyncIterator[str]:
    prefix = f"t{uuid.uuid4().hex[:12]}:"
    yield prefix
    redis = Redis.from_url(redis_url)
    try:
        keys = [key async for key in redis.scan_iter(match=f"{prefix}*", count=500)]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


@pytest.fixture
def config(database_url: str, redis_url: str, redis_prefix: str) -> Config:
    return Config(
        database_url=database_url,
        redis_url=redis_url,
        redis_prefix=redis_prefix,
        jwt_secret=TEST_SECRET,
        argon2_memory_kib=1024,
        argon2_time_cost=1,
        db_pool_min=1,
        db_pool_max=5,
        # Generous defaults so ordinary tests never trip a limit; limit tests set their own.
        http_rate_limit=Rate(10_000, 60),
        login_rate_limit_phone=Rate(1_000, 60),
        login_rate_limit_ip=Rate(1_000, 60),
        socket_event_rate_limit=Rate(1_000, 1),
        log_format="text",
        # The tests pay through the sandbox provider, which only a development deployment may run.
        environment="development",
        payment_provider="sandbox",
        metrics_token=METRICS_TOKEN,
    )


AppFactory = Callable[..., Awaitable[Client]]


@pytest.fixture
def make_client(config: Config, aiohttp_client: Callable[..., Awaitable[Client]]) -> AppFactory:
    # `config` (and so the per-test database) is requested first so it is torn down last, after
    # the app and its pool have closed.
    """Start an app (optionally with config overrides) behind a real TCP test server."""

    async def factory(**overrides: Any) -> Client:
        return await aiohttp_client(TestServer(create_app(config.with_overrides(**overrides))))

    return factory


@pytest.fixture
async def client(make_client: AppFactory) -> Client:
    return await make_client()


@pytest.fixture
def register(client: Client) -> Callable[..., Awaitable[dict[str, Any]]]:
    """Register a user on `client` through the legacy API; returns the token response plus `phone`."""
    return functools.partial(register_user, client)


@pytest.fixture
async def connect() -> AsyncIterator[Callable[..., Awaitable[Any]]]:
    """Open sockets as `await connect(client, user)`; every event they received must match its
    typed schema, and all are closed at the end."""
    async with open_peers() as open_peer:
        yield open_peer


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    """One headless Chromium for the session's dashboard tests (tests/browser.py)."""
    from tests.browser import CHROMIUM, chromium_or_reason

    reason = chromium_or_reason()
    if reason is not None:
        pytest.skip(reason)
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def page(browser: Any) -> AsyncIterator[Any]:
    """A fresh browser context (no cookies) and page for one test, closed after it."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        yield await context.new_page()
    finally:
        await context.close()
