"""Feature flags (issue 15 §9): the stable rollout bucket (pure), and the engine reading a change
without a restart — at once on the process that made it, within the cache's TTL on another — plus
the caller's flags over REST; maintenance mode refusing new joins (staff excepted) and telling every
socket, a socket connecting during maintenance told at once, and announcements reaching sockets on
two engine processes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from engine.appkeys import CONFIG, REALTIME, SERVICES
from engine.errors import DomainError
from engine.flags import actions as flag_actions
from engine.flags.model import Flag, bucket, check_flag, is_on
from engine.messages import decode_event
from engine.system import actions as system_actions
from tests.helpers import bearer, db, join, new_user
from tests.sockets import first

# --- pure -----------------------------------------------------------------------------------------


def test_the_bucket_is_stable_and_spread() -> None:
    assert bucket("new_panel", 42) == bucket("new_panel", 42)
    # sha256-based, not Python's salted hash: a fixed value across processes and restarts
    assert bucket("new_panel", 42) == int.from_bytes(__import__("hashlib").sha256(b"new_panel:42").digest()[:8],
                                                     "big") % 100  # fmt: skip
    buckets = [bucket("new_panel", u) for u in range(1, 10_001)]
    share = sum(b < 25 for b in buckets) / len(buckets)
    assert 0.22 < share < 0.28
    # independent between flags: not the same users first
    other = [bucket("other_flag", u) for u in range(1, 10_001)]
    assert sum(a < 25 and b < 25 for a, b in zip(buckets, other, strict=True)) < 0.1 * len(buckets)


def test_is_on() -> None:
    def flag(enabled: bool, pct: int) -> Flag:
        return Flag("f", "", enabled, pct)

    user_in = next(u for u in range(1, 1000) if bucket("f", u) < 10)
    user_out = next(u for u in range(1, 1000) if bucket("f", u) >= 10)
    assert is_on(flag(True, 10), user_in) and not is_on(flag(True, 10), user_out)
    assert not is_on(flag(False, 100), user_in)
    assert not is_on(flag(True, 0), user_in)
    assert is_on(flag(True, 100), None) and not is_on(flag(True, 50), None)
    assert not is_on(None, user_in)


@pytest.mark.parametrize(("name", "pct"), [("Bad Name", 10), ("9lives", 10), ("ok", 101), ("ok", -1), ("x" * 65, 5)])
def test_check_flag_refuses(name: str, pct: int) -> None:
    with pytest.raises(DomainError) as caught:
        check_flag(name, "", pct)
    assert caught.value.status == 422


# --- the engine reads changes without a restart --------------------------------------------------


async def test_a_flag_change_is_read_here_at_once_and_on_another_process_within_the_ttl(make_client: Any) -> None:
    a, b = await make_client(), await make_client()
    admin = await new_user(a, "Ada Admin", role="admin")
    user = await new_user(a, "Plain User")
    svc_a, svc_b = a.app[SERVICES], b.app[SERVICES]
    svc_b.flags.ttl = 0.5
    assert not await svc_a.flags.enabled("gift_panel", user.id)
    assert not await svc_b.flags.enabled("gift_panel", user.id)  # b has read (and keeps) the old state
    await flag_actions.do_save_flag(svc_a, admin.id, "gift_panel", description="new panel", enabled=True,
                                    rollout_percent=100)  # fmt: skip
    assert await svc_a.flags.enabled("gift_panel", user.id)  # the process that changed it: at once
    for _ in range(40):
        if await svc_b.flags.enabled("gift_panel", user.id):
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the other process never saw the flag")
    resp = await b.get("/api/v1/me/flags", headers=bearer(user.token))
    assert resp.status == 200 and (await resp.json())["data"] == {"flags": ["gift_panel"]}
    assert (await b.get("/api/v1/me/flags")).status == 401

    await flag_actions.do_delete_flag(svc_a, admin.id, "gift_panel")
    assert not await svc_a.flags.enabled("gift_panel", user.id)
    async with db(a.app[CONFIG].database_url) as conn:
        rows = await conn.fetch("SELECT action, target_id, details FROM audit_log WHERE action LIKE 'flags.%' "
                                "ORDER BY id")  # fmt: skip
    assert [(r["action"], r["target_id"]) for r in rows] == [("flags.save", "gift_panel"),
                                                             ("flags.delete", "gift_panel")]  # fmt: skip
    assert '"before": null' in rows[0]["details"] and '"rollout_percent": 100' in rows[0]["details"]
    with pytest.raises(DomainError):
        await flag_actions.do_delete_flag(svc_a, admin.id, "gift_panel")


# --- maintenance and announcements on live sockets -------------------------------------------------


async def test_maintenance_refuses_new_joins_but_not_staff_and_tells_every_socket(
    make_client: Any, connect: Any
) -> None:
    a, b = await make_client(), await make_client()
    admin = await new_user(a, "Ada Admin", role="admin")
    owner, guest, member = await new_user(a, "Owner"), await new_user(b, "Guest"), await new_user(a, "Member")
    staff = await new_user(b, "Mo Moderator", role="moderator")
    o, g, m, s = await connect(a, owner), await connect(b, guest), await connect(a, member), await connect(b, staff)
    await join(m, owner.room)  # already in: stays

    await system_actions.do_set_maintenance(a.app[REALTIME], admin.id, active=True, message="Upgrading, back soon")
    for peer in (o, g, m, s):  # both processes' sockets
        told = decode_event("system:maintenance", (await peer.wait_for("system:maintenance"))[0])
        assert (told.active, told.message) == (True, "Upgrading, back soon")  # type: ignore[attr-defined]
    b.app[SERVICES].flags.forget()  # (b would see it within its TTL anyway)
    ack = await join(g, owner.room, must_succeed=False)
    assert ack == {"success": False, "error": "Under maintenance, try again later", "code": "MAINTENANCE"}
    await join(s, owner.room)  # staff still allowed
    status = await (await b.get("/api/v1/system/status")).json()
    assert status["data"]["maintenance"]["active"] is True
    legacy = await (await a.get("/api/system/status")).json()
    assert legacy["maintenance"]["message"] == "Upgrading, back soon"

    late = await new_user(a, "Late Comer")
    p = await connect(a, late)  # connects during maintenance: told at once
    assert (await first(p, "system:maintenance")).active is True  # type: ignore[attr-defined]

    await system_actions.do_set_maintenance(a.app[REALTIME], admin.id, active=False)
    assert (await g.wait_for("system:maintenance", 2))[1]["active"] is False
    b.app[SERVICES].flags.forget()
    await join(g, owner.room)
    assert a.app[SERVICES].metrics.maintenance_refusals._value.get() == 0  # refused on b, not a
    assert b.app[SERVICES].metrics.maintenance_refusals._value.get() == 1


async def test_an_announcement_reaches_every_socket_on_every_process(make_client: Any, connect: Any) -> None:
    a, b = await make_client(), await make_client()
    admin = await new_user(a, "Ada Admin", role="admin")
    one, two = await new_user(a, "One"), await new_user(b, "Two")
    p1, p2 = await connect(a, one), await connect(b, two)
    row = await system_actions.do_announce(a.app[REALTIME], admin.id, "  New gifts tonight!  ", "info")
    for peer in (p1, p2):
        got = await first(peer, "system:announcement")
        assert (got.id, got.message, got.level) == (row["id"], "New gifts tonight!", "info")  # type: ignore[attr-defined]
    with pytest.raises(DomainError):
        await system_actions.do_announce(a.app[REALTIME], admin.id, "   ", "info")
    with pytest.raises(DomainError):
        await system_actions.do_announce(a.app[REALTIME], admin.id, "hi", "shouting")


async def test_the_cache_serves_its_last_snapshot_when_postgresql_fails_and_shares_one_read(client: Any) -> None:
    from engine.flags.cache import FlagCache

    svc = client.app[SERVICES]
    admin = await new_user(client, "Ada Admin", role="admin")
    await flag_actions.do_save_flag(svc, admin.id, "on_for_all", description="", enabled=True, rollout_percent=100)
    reads = 0

    class Pool:
        """The real pool, counting reads, until it is told to fail."""

        failing = False

        def acquire(self) -> Any:
            nonlocal reads
            reads += 1
            if self.failing:
                raise OSError("connection refused")
            return svc.pool.acquire()

    pool = Pool()
    cache = FlagCache(pool, ttl=0.0)  # type: ignore[arg-type]
    assert await asyncio.gather(*(cache.enabled("on_for_all", 7) for _ in range(5))) == [True] * 5
    assert reads == 1  # concurrent misses share one read
    pool.failing = True
    assert await cache.enabled("on_for_all", 7)  # the last snapshot, not an error
    assert reads == 2
    empty = FlagCache(pool)  # type: ignore[arg-type]
    assert not await empty.enabled("on_for_all", 7) and not (await empty.maintenance()).active


# --- rate limits changed at run time -------------------------------------------------------------


@pytest.mark.parametrize(("scope", "capacity", "period"), [("nope", 5, 60), ("search", 0, 60), ("search", 5, 0)])
def test_check_rate_refuses(scope: str, capacity: int, period: float) -> None:
    from engine.flags.model import check_rate

    with pytest.raises(DomainError):
        check_rate(scope, capacity, period)


async def test_a_rate_limit_changed_at_run_time_applies_on_another_process_and_resets(make_client: Any) -> None:
    a, b = await make_client(), await make_client()
    admin, user = await new_user(a, "Ada Admin", role="admin"), await new_user(a, "Searcher")
    b.app[SERVICES].flags.ttl = 0.3

    async def searches(n: int) -> list[int]:
        return [(await b.get("/api/v1/users/search?q=Ada", headers=bearer(user.token))).status for _ in range(n)]

    assert await searches(3) == [200] * 3  # the environment's 60/60
    await flag_actions.do_set_rate(a.app[SERVICES], admin.id, "search", 4, 3600)
    await asyncio.sleep(0.4)  # b's TTL
    # The bucket keeps what it held (3 spent of the environment's 60): refill at the new rate, capped at 4.
    assert await searches(6) == [200] * 4 + [429] * 2
    assert b.app[SERVICES].limiter.live is b.app[SERVICES].flags

    await flag_actions.do_clear_rate(a.app[SERVICES], admin.id, "search")
    await asyncio.sleep(1.2)  # back to 60/60: a token a second (the 4/3600 rate would give none)
    assert (await searches(1)) == [200]
    async with db(a.app[CONFIG].database_url) as conn:
        actions = [r["action"] for r in await conn.fetch("SELECT action FROM audit_log WHERE action LIKE 'rates.%' "
                                                         "ORDER BY id")]  # fmt: skip
    assert actions == ["rates.set", "rates.clear"]
    with pytest.raises(DomainError):
        await flag_actions.do_clear_rate(a.app[SERVICES], admin.id, "search")
