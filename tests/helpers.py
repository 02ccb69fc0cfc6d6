"""What the tests share besides fixtures: accounts, logins, room joins and the test's database.

Fixtures live in conftest.py (which builds on these); the Socket.IO test client is tests/sockets.py.
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import asyncpg
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient

from engine.appkeys import CONFIG, ROOMS
from engine.config import Config
from engine.economy import store as economy_store
from engine.economy.flusher import GROUP, flush_all
from engine.rooms.cache import CHANNEL as CACHE_CHANNEL
from tests.sockets import Peer

Client = TestClient[web.Request, web.Application]
TEST_SECRET = "test-secret-" + "x" * 40
PASSWORD = "Secret-pass-1"
METRICS_TOKEN = "metrics-token-" + "m" * 40

_phones = itertools.count(5550000001)


# --- accounts -------------------------------------------------------------------------------------


def new_phone() -> str:
    return f"+1{next(_phones)}"


# The policies a default Config has in force (CONSENT_POLICIES), accepted as v1 registration asks.
CONSENTS = [{"policy": policy, "version": version} for policy, version in Config().consent_policies]


def registration(**changes: Any) -> dict[str, Any]:
    """A valid registration body (a fresh phone each time), with `changes` applied. It accepts the
    policies in force (`consents`, which v1 registration needs; the legacy route ignores it)."""
    body: dict[str, Any] = {
        "name": "Test User",
        "phone": new_phone(),
        "country": "PK",
        "gender": "female",
        "dob": "1995-05-17",
        "password": PASSWORD,
        "consents": CONSENTS,
    }
    body.update(changes)
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def register_user(client: Client, **changes: Any) -> dict[str, Any]:
    """Register through the legacy API; the token response plus the `phone` registered."""
    body = registration(**changes)
    resp = await client.post("/api/register", json=body)
    assert resp.status == 200, await resp.text()
    return {**(await resp.json()), "phone": body["phone"]}


async def me(client: Client, token: str) -> dict[str, Any]:
    """The legacy profile (`GET /api/user`) of the token's holder."""
    resp = await client.get("/api/user", headers=bearer(token))
    assert resp.status == 200, await resp.text()
    profile: dict[str, Any] = await resp.json()
    return profile


@dataclass(frozen=True)
class User:
    token: str
    id: int
    room: int  # the room every account gets at registration
    phone: str


async def new_user(client: Client, name: str = "Test User", *, role: str | None = None) -> User:
    """Register a user (holding `role` as well, when given) and read back their id and room."""
    tokens = await register_user(client, name=name)
    profile = await me(client, tokens["token"])
    user = User(tokens["token"], int(profile["id"]), int(profile["room"]["id"]), tokens["phone"])
    if role is not None:
        await grant_role(client.app[CONFIG].database_url, user.id, role)
    return user


async def login(client: Client, phone: str, password: str = PASSWORD) -> ClientResponse:
    """`POST /api/login`; the response, whatever it says."""
    return await client.post("/api/login", json={"phone": phone, "password": password})


# --- rooms ----------------------------------------------------------------------------------------


async def join(peer: Peer, room: int | str, *, must_succeed: bool = True, **fields: Any) -> dict[str, Any]:
    """`room:join` on the peer's socket (more payload in `fields`); the ack, which must be a
    success unless `must_succeed=False` (for the tests of refused joins)."""
    ack: dict[str, Any] = await peer.call("room:join", {"roomId": room, **fields})
    if must_succeed:
        assert ack["success"] is True, ack
    return ack


# --- the test's database --------------------------------------------------------------------------


def with_database(url: str, name: str) -> str:
    """The same server's URL for another database."""
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


@asynccontextmanager
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """One connection for set-up and inspection (`async with db(url) as conn:`), closed on leaving."""
    conn = await asyncpg.connect(database_url)
    try:
        yield conn
    finally:
        await conn.close()


async def grant_role(database_url: str, user_id: int, role: str) -> None:
    """Give a user a role straight in the database (tests that need staff powers)."""
    async with db(database_url) as conn:
        result = await conn.execute(
            "INSERT INTO user_roles (user_id, role_id) SELECT $1, id FROM roles WHERE name = $2", user_id, role
        )
    assert result == "INSERT 0 1", f"role {role!r} missing"


def load_script(path: Path) -> ModuleType:
    """Import a script that is not in a package (the document generators in docs/)."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def resolve_ref(doc: dict[str, Any], ref: str) -> Any:
    """The node a local `$ref` ("#/components/…") points at in `doc`."""
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        assert part in node, f"unresolved $ref {ref}"
        node = node[part]
    return node


@asynccontextmanager
async def heard_by(database_url: str, *apps: web.Application) -> AsyncIterator[None]:
    """Return from the block only once each app's hot cache has heard of the block's changes.

    A cache forgets a row on PostgreSQL's notification after the commit (engine/rooms/cache.py),
    which races the test's next socket event. After the block a probe is notified on the same
    channel; PostgreSQL delivers notifications in commit order, so once a cache has dropped the
    probe's entry it has heard everything committed before it.
    """
    topic = f"probe:{uuid.uuid4().hex}"
    loads = [0] * len(apps)

    def loader(i: int) -> Any:
        async def load(_conn: Any) -> int:
            loads[i] += 1
            return loads[i]

        return load

    caches = [app[ROOMS].cache for app in apps]
    for i, cache in enumerate(caches):
        await cache.get(topic, (topic,), loader(i))
    yield
    async with db(database_url) as conn:
        await conn.execute("SELECT pg_notify($1, $2)", CACHE_CHANNEL, topic)
    async with asyncio.timeout(5):
        for i, cache in enumerate(caches):
            while await cache.get(topic, (topic,), loader(i)) == 1:  # noqa: ASYNC110  (no event to wait on)
                await asyncio.sleep(0.002)


async def drain_ledger(svc: Any) -> None:
    """Every outbox entry in the ledger: this test's own flush, and the app's flusher done with the
    entries it had already taken (they are not ours to claim, so wait for them)."""
    backlog: list[int] = []
    for _ in range(500):
        await flush_all(svc, svc.wallets, "test")
        backlog = [await economy_store.outbox_backlog(svc.redis, svc.keys.outbox(shard), GROUP)
                   for shard in range(svc.keys.economy_shards)]  # fmt: skip
        if not any(backlog):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"outboxes not drained: {backlog}")
