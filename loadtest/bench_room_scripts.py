"""The room scripts a member lives through, alone, against a Redis of its own: `room:join`,
`seat:take`, `seat:leave`, `room:leave` and the leave bookkeeping pipeline (`record_leave`), one
call in flight, in a room of 20 members. Prints each step's wall time (a round trip plus the
script) and the server's own figures from INFO commandstats (EVALSHA and XADD time per call).

It resets the server's statistics first: point it at a private server (e.g. `valkey-server --port
6399 --save ""`), not one that others watch. Used for docs/performance.md, "Activity off the hot path"
(run it on two checkouts, with PYTHONPATH naming the one to measure)."""

from __future__ import annotations

import argparse
import asyncio
import os
import time

from redis.asyncio import Redis

from engine.keys import Keys
from engine.rooms.store import Membership, RoomState

PROFILE = '{"id":1,"name":"x"}'
STEPS = ("join", "seat_take", "seat_leave", "leave", "record_leave")


async def run(port: int, rounds: int) -> None:
    redis = Redis(host="127.0.0.1", port=port)
    prefix = f"bench{os.getpid()}:"
    state = RoomState(redis, Keys(prefix))
    await state.preload()
    room = 1
    for user in range(1000, 1020):  # the members sitting around
        await state.join(room, user, f"s{user}", PROFILE, 60_000, None, 20, owner_id=1, seat_count=15)
    await redis.config_resetstat()
    spent = dict.fromkeys(STEPS, 0.0)
    for n in range(rounds):
        user, sid = 5000 + n, f"x{n}"
        # Coroutines run only when awaited: each is timed alone, in this order.
        steps = [
            ("join", state.join(room, user, sid, PROFILE, 60_000, None, 20, owner_id=1, seat_count=15)),
            ("seat_take", state.seat_take(room, user, 3)),
            ("seat_leave", state.seat_leave(room, user, reason="", actor_id=user)),
            ("leave", state.leave(room, user, sid, "leave")),
        ]
        result = None
        for name, call in steps:
            start = time.perf_counter()
            result = await call
            spent[name] += time.perf_counter() - start
        assert result is not None
        start = time.perf_counter()
        await state.record_leave(Membership("bench", sid, room, user), result, 60_000)
        spent["record_leave"] += time.perf_counter() - start
    stats = await redis.info("commandstats")
    print({name: f"{total / rounds * 1e6:.0f} µs" for name, total in spent.items()})
    for command in ("evalsha", "xadd"):
        figures = stats.get(f"cmdstat_{command}", {})
        print(f"{command}: {figures.get('calls')} calls, {figures.get('usec_per_call')} µs per call (server)")
    async for key in redis.scan_iter(f"{prefix}*"):
        await redis.delete(key)
    await redis.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=6399, help="a private Redis/Valkey on 127.0.0.1")
    parser.add_argument("--rounds", type=int, default=3000)
    args = parser.parse_args()
    asyncio.run(run(args.port, args.rounds))


if __name__ == "__main__":
    main()
