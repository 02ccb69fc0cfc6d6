"""Background upkeep shared by every engine process.

- Heartbeat: each process scores itself in the instances set every few seconds.
- Reaper: a process silent for too long is dead; one survivor (claimed with SET NX) treats each of
  its sockets as disconnected — members leave, seats are held for the grace period, presence
  drops — so no ghost members or seats remain.
- Seat holds: once a disconnected user's grace period is over, the held seat is freed.
"""

from __future__ import annotations

import logging
import time

from engine.realtime.server import RealtimeServer
from engine.rooms import live, presence
from engine.rooms.membership import do_leave

log = logging.getLogger("flylive.rooms.janitor")


def _now_ms() -> int:
    return int(time.time() * 1000)


async def reap_instance(rt: RealtimeServer, dead: str) -> int:
    """Disconnect every socket the dead process held; return how many there were."""
    svc = rt.services
    sockets = await svc.redis.hgetall(svc.keys.instance_sockets(dead))
    for raw_sid, raw_value in sockets.items():
        sid = live.text(raw_sid)
        user_text, _, room_text = live.text(raw_value).partition(":")
        user_id, room_id = int(user_text), int(room_text or 0)
        if room_id:
            await do_leave(rt, sid, None, room_id, mode="disconnect", user_id=user_id, instance_id=dead)
        await presence.went_offline(rt, dead, sid, user_id)
    await svc.redis.delete(svc.keys.instance_sockets(dead))
    await svc.redis.zrem(svc.keys.instances(), dead)
    log.warning("dead engine process cleaned up", extra={"instance": dead, "sockets": len(sockets)})
    return len(sockets)


async def reap_dead(rt: RealtimeServer) -> int:
    svc = rt.services
    cutoff = _now_ms() - int(svc.config.instance_dead_after_seconds * 1000)
    reaped = 0
    for raw in await svc.redis.zrangebyscore(svc.keys.instances(), "-inf", cutoff):
        dead = live.text(raw)
        claim = f"{svc.keys.instances()}:reaping:{dead}"
        if dead != rt.instance_id and await svc.redis.set(claim, rt.instance_id, nx=True, ex=60):
            reaped += await reap_instance(rt, dead)
    return reaped


async def sweep_holds(rt: RealtimeServer) -> int:
    """Free seats whose holders did not come back in time."""
    svc = rt.services
    freed = 0
    for raw in await svc.redis.zrangebyscore(svc.keys.seat_holds(), "-inf", _now_ms(), start=0, num=200):
        hold = live.text(raw)
        room_id, user_id, index, stamp = hold.split(":")
        result = await live.run(rt, "sweep_hold", int(room_id), user_id, index, stamp)
        freed += int(bool(result.data.get("freed")))
        await svc.redis.zrem(svc.keys.seat_holds(), hold)
    return freed


async def heartbeat(rt: RealtimeServer) -> None:
    svc = rt.services
    await svc.redis.zadd(svc.keys.instances(), {rt.instance_id: _now_ms()})


async def janitor_pass(rt: RealtimeServer) -> None:
    await heartbeat(rt)
    await reap_dead(rt)
    await sweep_holds(rt)
