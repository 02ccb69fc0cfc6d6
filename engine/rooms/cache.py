"""What the socket hot path would otherwise read from PostgreSQL, kept in this process.

Rows that change rarely and are read on every join, gift or moderated event — a room's row, its
admins and bans, a user's public profile and VIP level, staff standing, agency membership, a user's
blocks and privacy settings, platform mutes — are
read once and then served from memory. Every change to their tables, by any engine process, the
dashboard or plain SQL, fires a trigger (sql/0011_hot_cache_notify.sql) that NOTIFYs channel
`flylive_cache` with the topic to forget ("user:<id>", "room:<id>", "blocks:<id>", "privacy:<id>" or
"*"); each process LISTENs on
a connection of its own and drops what the topic tags, so the next event reads the change.

Three rules keep it correct:
- a load that an invalidation overtook is answered but not kept (the generation check), so a row
  read before a change cannot outlive the change's notification;
- while the LISTEN connection is down nothing is served from memory (every read goes to
  PostgreSQL), and a reconnect starts from an empty cache, since notifications may have been lost;
  "down" includes a connection that is open but hears nothing (a pooler in transaction mode, a
  half-dead TCP link): every PING_SECONDS the process NOTIFYs itself through the pool, and a ping
  not heard back within PING_SECONDS counts as down;
- an entry lives at most `MAX_AGE_SECONDS` even without a notification (belt and braces), and the
  cache empties itself past `MAX_ENTRIES`.
Concurrent misses for one key share one load (a burst of joins into a room reads its row once).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg

from engine.accounts import store as accounts_store
from engine.accounts.vip_model import NO_PRIVILEGES, VipPrivileges, privileges_at, vip_level_at
from engine.db import Conn, listen, notify
from engine.rooms import store, word_filter_store
from engine.rooms.model import public_profile
from engine.social import store as social_store
from engine.social.model import BlockSet, Privacy, blocks_topic, privacy_topic

log = logging.getLogger("flylive.rooms.cache")
V = TypeVar("V")
CHANNEL = "flylive_cache"
MAX_AGE_SECONDS = 300.0
MAX_ENTRIES = 200_000
RECONNECT_SECONDS = 1.0
PING_SECONDS = 5.0
_PING = "ping:"  # payloads of the liveness check: not topics
VIP_TIERS_TOPIC = "vip_tiers"  # never sent: a tier edit sends "*" (profiles embed the tiers)
CHAT_WORDS_TOPIC = "chat_words"  # the chat word filter's edited words (sql/0039)


def user_topic(user_id: int) -> str:
    return f"user:{user_id}"


def room_topic(room_id: int) -> str:
    return f"room:{room_id}"


@dataclass(frozen=True, slots=True)
class CachedUser:
    """What rooms and gifts need of a user: the profile others see (JSON text), the VIP level in
    force when it was read and its tier's privileges, and when that level ends (epoch seconds;
    `HotCache.user` reads the row again once it has)."""

    id: int
    profile_json: str
    vip_level: int
    vip: VipPrivileges = NO_PRIVILEGES
    vip_ends_at: float = math.inf


@dataclass(slots=True)
class _Entry:
    value: Any
    topics: tuple[str, ...]
    loaded_at: float


class HotCache:
    """Entries keyed by any hashable key, each tagged with the topics whose change drops it."""

    def __init__(self, pool: asyncpg.Pool, encode: Callable[[Any], str]) -> None:
        self._pool = pool
        self._encode = encode
        self._entries: dict[Hashable, _Entry] = {}
        self._by_topic: dict[str, set[Hashable]] = {}
        self._loading: dict[Hashable, asyncio.Future[Any]] = {}
        self._generation = 0  # bumped by every invalidation: a load that saw it change is not kept
        self._listening = False
        self._conn: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._ping_sent: str | None = None  # the ping awaiting its echo, and when it was sent
        self._ping_sent_at = 0.0
        self._token = f"{id(self):x}"
        self._pings = 0
        self.ping_seconds = PING_SECONDS

    # --- the LISTEN side ---------------------------------------------------------------------

    async def start(self, dsn: str) -> None:
        """Listen for changes (the first connection is made before this returns)."""
        await self._connect(dsn)
        self._task = asyncio.create_task(self._keep_listening(dsn), name="hot-cache-listen")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._listening = False
        if self._conn is not None and not self._conn.is_closed():
            try:
                await self._conn.close(timeout=5)
            except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                self._conn.terminate()  # a connection that cannot say goodbye is dropped

    async def _connect(self, dsn: str) -> None:
        self._conn = await listen(dsn, CHANNEL, self._heard)
        self._ping_sent = None
        # Anything kept before this connection may have missed a notification.
        self.invalidate("*")
        self._listening = True

    async def _keep_listening(self, dsn: str) -> None:
        while True:
            await asyncio.sleep(RECONNECT_SECONDS)
            if self._conn is not None and not self._conn.is_closed():
                await self._check_hearing()
                continue
            self._listening = False
            try:
                await self._connect(dsn)
                log.info("hot cache listening again")
            except Exception as exc:  # whatever the failure, keep trying: reads go to PostgreSQL meanwhile
                log.warning("hot cache cannot listen: reading PostgreSQL meanwhile", extra={"error": repr(exc)})

    def _heard(self, payload: str) -> None:
        if payload.startswith(_PING):
            if payload == self._ping_sent:
                self._ping_sent = None
            return
        self.invalidate(payload)

    async def _check_hearing(self) -> None:
        """Ping ourselves through the pool; a ping unheard for `ping_seconds` means we hear nothing."""
        now = time.monotonic()
        if self._ping_sent is not None:
            if now - self._ping_sent_at < self.ping_seconds:
                return
            log.warning("hot cache hears no notifications: reading PostgreSQL until it listens again")
            self._listening = False
            assert self._conn is not None
            self._conn.terminate()  # the loop connects afresh, starting from an empty cache
            return
        if now - self._ping_sent_at < self.ping_seconds:
            return
        self._pings += 1
        self._ping_sent, self._ping_sent_at = f"{_PING}{self._token}:{self._pings}", now
        try:
            await notify(self._pool, CHANNEL, self._ping_sent)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("hot cache ping failed", extra={"error": repr(exc)})

    @property
    def listening(self) -> bool:
        return self._listening and self._conn is not None and not self._conn.is_closed()

    def invalidate(self, topic: str) -> None:
        """Forget what `topic` tags ("*": everything)."""
        self._generation += 1
        if topic == "*":
            self._entries.clear()
            self._by_topic.clear()
            return
        for key in self._by_topic.pop(topic, ()):
            self._entries.pop(key, None)

    # --- reads -------------------------------------------------------------------------------

    async def get(self, key: Hashable, topics: tuple[str, ...], load: Callable[[Conn], Awaitable[V]]) -> V:
        """The value for `key`, loaded with `load(conn)` on a miss and kept until a topic changes."""
        entry = self._entries.get(key)
        if entry is not None and self.listening and time.monotonic() - entry.loaded_at < MAX_AGE_SECONDS:
            value: V = entry.value
            return value
        while (pending := self._loading.get(key)) is not None:
            await asyncio.wait([pending])  # raises only if this caller is cancelled
            if not pending.cancelled():  # the loader was cancelled: load again (or wait for another)
                return pending.result()  # type: ignore[no-any-return]
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        try:
            value = await self._load(key, topics, load)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # marked retrieved: waiters, if any, raise it themselves
            raise
        else:
            future.set_result(value)
        finally:
            self._loading.pop(key, None)
        return value

    async def _load(self, key: Hashable, topics: tuple[str, ...], load: Callable[[Conn], Awaitable[V]]) -> V:
        generation = self._generation
        async with self._pool.acquire() as conn:
            value = await load(conn)
        if generation == self._generation and self.listening:
            if len(self._entries) >= MAX_ENTRIES:
                self.invalidate("*")
                return value
            self._entries[key] = _Entry(value, topics, time.monotonic())
            for topic in topics:
                self._by_topic.setdefault(topic, set()).add(key)
        return value

    # --- what rooms read ---------------------------------------------------------------------

    async def room(self, room_id: int) -> dict[str, Any] | None:
        """The room's row with its owner's columns (`store.get_room`), None when there is none."""
        return await self.get(("room", room_id), (room_topic(room_id),), lambda conn: store.get_room(conn, room_id))

    async def user(self, user_id: int) -> CachedUser | None:
        """The user's profile and VIP standing. A VIP level ends at its expiry on every process at
        once, before the expiry job clears the row: an entry past it is read again (as level 0)."""
        tiers = await self.vip_tiers()

        async def load(conn: Conn) -> CachedUser | None:
            row = await accounts_store.get_user(conn, user_id)
            if row is None:
                return None
            level = vip_level_at(row["vip_level"], row["vip_expires_at"], dt.datetime.now(dt.UTC))
            vip = privileges_at(tiers, level)
            ends = row["vip_expires_at"].timestamp() if level else math.inf
            badges = await store.equipped_badges(conn, user_id)
            return CachedUser(user_id, self._encode(public_profile(row, level, vip, badges)), level, vip, ends)

        user = await self.get(("user", user_id), (user_topic(user_id),), load)
        if user is not None and user.vip_ends_at <= time.time():
            self.invalidate(user_topic(user_id))
            user = await self.get(("user", user_id), (user_topic(user_id),), load)
        return user

    async def vip_tiers(self) -> dict[int, VipPrivileges]:
        """Every VIP tier's privileges (a tier edit notifies "*": sql/0025_vip.sql)."""
        return await self.get(("vip_tiers",), (VIP_TIERS_TOPIC,), accounts_store.vip_tier_privileges)

    async def admins(self, room_id: int) -> set[int]:
        return await self.get(("admins", room_id), (room_topic(room_id),), lambda c: store.admin_ids(c, room_id))

    async def ban(self, room_id: int, user_id: int, now: float) -> dict[str, Any] | None:
        """The user's ban from the room in force at `now` (epoch seconds), or None."""
        bans = await self.get(("bans", room_id), (room_topic(room_id),), lambda c: store.active_bans(c, room_id))
        ban = bans.get(user_id)
        if ban is not None and ban["expires_at"] is not None and ban["expires_at"].timestamp() <= now:
            return None  # ran out since it was read
        return ban

    async def blocks(self, user_id: int) -> BlockSet:
        """Whom the user blocked and who blocked them (room:join, gift:send, seat invites, presence)."""
        return await self.get(("blocks", user_id), (blocks_topic(user_id),),
                              lambda c: social_store.block_set(c, user_id))  # fmt: skip

    async def privacy(self, user_id: int) -> Privacy:
        """The user's privacy settings (presence updates, user:getRoom)."""
        return await self.get(("privacy", user_id), (privacy_topic(user_id),),
                              lambda c: social_store.privacy(c, user_id))  # fmt: skip

    async def muted_until(self, user_id: int, now: float) -> float | None:
        """When the user's platform mute ends (epoch seconds), if one is in force at `now`."""
        until = await self.get(("mute", user_id), (user_topic(user_id),),
                               lambda c: store.platform_mute_until(c, user_id))  # fmt: skip
        if until is None or until.timestamp() <= now:
            return None  # none, or ran out since it was read
        return until.timestamp()

    async def is_staff(self, user_id: int) -> bool:
        return await self.get(("staff", user_id), (user_topic(user_id),), lambda c: store.is_staff(c, user_id))

    async def blocked_words(self) -> tuple[str, ...]:
        """The chat word filter's edited words (sql/0039; CHAT_BLOCKED_WORDS comes on top)."""
        return await self.get(("chat_words",), (CHAT_WORDS_TOPIC,), word_filter_store.blocked_words)
