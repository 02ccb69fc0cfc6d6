"""Background upkeep shared by every engine process.

- Heartbeat: each process scores itself in the instances set every few seconds, in a job of its
  own: reaping a big dead process takes minutes (a leave per socket), and a heartbeat waiting
  behind it made the reaper look dead in turn, to be reaped by the next survivor.
- Reaper: a process silent for too long is dead; one survivor (claimed with SET NX, the claim
  renewed while the reap runs so that nobody else starts it again) treats each of its sockets as
  disconnected — members leave, seats are held for the grace period, presence drops — so no ghost
  members or seats remain.
- Seat holds: once a disconnected user's grace period is over, the held seat is freed.
"""

from __future__ import annotations

import logging
import time

from engine.rooms import presence, store
from engine.rooms.live import LiveRooms
from engine.rooms.membership import do_leave

log = logging.getLogger("flylive.rooms.janitor")
HOLDS_PER_PASS = 200
RENEW_EVERY = 50  # sockets reaped between two renewals of the reaping claim


def _now_ms() -> int:
    return int(time.time() * 1000)


async def reap_instance(rooms: LiveRooms, dead: str) -> int:
    """Disconnect every socket the dead process held; return how many there were."""
    svc = rooms.svc
    sockets = await store.instance_sockets(svc.redis, svc.keys, dead)
    for n, (sid, user_id, room_id) in enumerate(sockets):
        if n and n % RENEW_EVERY == 0:
            await store.renew_reaping_claim(svc.redis, svc.keys, rooms.rt.instance_id, dead)
        if room_id:
            await do_leave(rooms, sid, None, room_id, mode="disconnect", user_id=user_id, instance_id=dead)
        await presence.went_offline(rooms, dead, sid, user_id)
    await store.forget_instance(svc.redis, svc.keys, dead)
    log.warning("dead engine process cleaned up", extra={"instance": dead, "sockets": len(sockets)})
    return len(sockets)


async def reap_dead(rooms: LiveRooms) -> int:
    svc = rooms.svc
    cutoff = _now_ms() - int(svc.config.instance_dead_after_seconds * 1000)
    reaped = 0
    for dead in await store.claim_dead_instances(svc.redis, svc.keys, rooms.rt.instance_id, cutoff):
        reaped += await reap_instance(rooms, dead)
    return reaped


async def sweep_holds(rooms: LiveRooms) -> int:
    """Free seats whose holders did not come back in time."""
    freed = 0
    for room_id, user_id, index, stamp in await rooms.state.due_holds(_now_ms(), HOLDS_PER_PASS):
        result = await rooms.run(room_id, rooms.state.sweep_hold(room_id, user_id, index, stamp))
        freed += int(bool(result.data.get("freed")))
        await rooms.state.drop_hold(room_id, user_id, index, stamp)
    return freed


class Heartbeat:
    """This process's heartbeat job: scores it alive, and says so if it finds itself reaped."""

    def __init__(self, rooms: LiveRooms) -> None:
        self.rooms = rooms
        self.beats = 0

    async def step(self) -> None:
        rooms = self.rooms
        missing = await store.heartbeat(rooms.svc.redis, rooms.svc.keys, rooms.rt.instance_id, _now_ms())
        if missing and self.beats:
            # Another process found this one silent past INSTANCE_DEAD_AFTER_SECONDS (its event loop
            # stalled that long) and cleaned up its sockets' records while they were still open.
            log.error("this engine process was taken for dead and its sockets' records cleaned up by another",
                      extra={"instance": rooms.rt.instance_id})  # fmt: skip
        self.beats += 1


async def forget_this_process(rooms: LiveRooms) -> None:
    """At a clean stop: this process's sockets are closed, so its records go."""
    await store.forget_instance(rooms.svc.redis, rooms.svc.keys, rooms.rt.instance_id)


async def janitor_pass(rooms: LiveRooms) -> None:
    """What each pass does besides the heartbeat (which runs in a job of its own)."""
    await reap_dead(rooms)
    await sweep_holds(rooms)
