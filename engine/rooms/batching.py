"""Batching of a big room's high-rate events into one `room:batch` frame per tick (issue 11 §3).

A burst of 500 joins into a room sends every member one `room:userJoined` per join: 125,000
deliveries, each a frame and a write. A client that announces the feature in its handshake
(`auth: {features: ["room:batch"]}`) instead gets, once per tick (ROOM_BATCH_TICK_MS) per room,
one `room:batch` event `{roomId, events: [{event, data}, …]}` holding the high-rate events of that
tick (`BATCHED`) in the order they happened, each `data` exactly as it would have been sent alone
(sequenced events keep their `seq`; replay with `lastSeq` is unchanged: the room's stream does not
know about batching). Clients that do not announce it get every event on its own, at once, as
before.

How the audience is split: a member socket is in the room's channel and in one of two sub-channels,
`room:<id>:batch` (announced the feature) or `room:<id>:each` (did not). A batched event goes at
once to `:each`, and into the room's pending batch for `:batch`. Any other event of the room first
flushes the pending batch (`flush`), so a batch-capable client sees the room's events in the same
order as everyone else. Events that skip their actor (`others`) are batched with the actor's sid,
and a socket that joins while a batch is pending is marked with the batch's length then (what came
before is in its join snapshot): the batch frame skips those sockets, and each of them gets a frame
of its own, without its own events and without what preceded its join. (A join in another engine
process cannot be marked here: clients discard sequenced events whose `seq` is not above their join
ack's, as they already must for emits that cross processes during a join.)

Batching starts at ROOM_BATCH_MIN_MEMBERS members (the larger of this process's member sockets and
the room's member count the last join or leave script returned): a small room gets no delay.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

import msgspec

from engine.metrics import Metrics
from engine.rooms.model import room_channel

log = logging.getLogger("flylive.rooms")
_encoder = msgspec.json.Encoder()

FEATURE = "room:batch"  # announced in the handshake's auth.features
BATCH_EVENT = "room:batch"
# The room events that come in bursts in a big room; everything else is sent on its own.
BATCHED = frozenset(
    {"room:userJoined", "room:userLeft", "gift:received", "gift:combo", "seat:reaction", "speaker:active"}
)


def batch_channel(room_id: int) -> str:
    """The members of a room that announced `room:batch`."""
    return f"{room_channel(room_id)}:batch"


def each_channel(room_id: int) -> str:
    """The members of a room that did not: every event on its own, at once."""
    return f"{room_channel(room_id)}:each"


@dataclass(slots=True)
class _Pending:
    # (the `{event, data}` entry encoded once, the sid the event skips)
    events: list[tuple[msgspec.Raw, str | None]] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    # Sockets that joined while the batch was pending -> the index of the first event they may see:
    # what came before is in their join snapshot.
    since: dict[str, int] = field(default_factory=dict)


class RoomBatcher:
    """This process's pending batches, one per room, each flushed when its tick ends."""

    def __init__(self, sio: Any, locks: Any, metrics: Metrics, tick_ms: int, min_members: int) -> None:
        self._sio = sio
        self._locks = locks  # the rooms' locks: a timed flush takes its room's, as any emit does
        self._metrics = metrics
        self.tick = tick_ms / 1000
        self.min_members = min_members
        self._pending: dict[int, _Pending] = {}
        self._sizes: dict[int, int] = {}  # room id -> member count the last join/leave script gave
        self._flushes: set[asyncio.Task[None]] = set()

    def sized(self, room_id: int, members: int) -> None:
        """A join or leave script reported the room's member count (all processes)."""
        if members:
            self._sizes[room_id] = members
        else:
            self._sizes.pop(room_id, None)

    def _local_members(self, room_id: int) -> int:
        return len(self._sio.manager.rooms.get("/", {}).get(room_channel(room_id), ()))

    def batches(self, room_id: int, event: str) -> bool:
        """Whether `event` for this room goes into its batch now."""
        if not self.tick or event not in BATCHED:
            return False
        size = max(self._sizes.get(room_id, 0), self._local_members(room_id))
        return size >= self.min_members

    async def emit(self, room_id: int, event: str, data: Any, skip_sid: str | None) -> None:
        """A batched event: to the `:each` members now, into the pending batch for the others."""
        pending = self._pending.get(room_id)
        if pending is None:
            pending = self._pending[room_id] = _Pending()
            asyncio.get_running_loop().call_later(self.tick, self._flush_later, room_id)
        pending.events.append((msgspec.Raw(_encoder.encode({"event": event, "data": data})), skip_sid))
        pending.names.append(event)
        await self._sio.emit(event, data, room=each_channel(room_id), skip_sid=skip_sid)

    def _flush_later(self, room_id: int) -> None:
        task = asyncio.create_task(self._timed_flush(room_id), name=f"room-batch:{room_id}")
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)

    async def _timed_flush(self, room_id: int) -> None:
        try:
            async with self._locks.of(room_id):
                await self.flush(room_id)
        except Exception:
            log.exception("room batch flush failed", extra={"room_id": room_id})

    def entered(self, room_id: int, sid: str) -> None:
        """A batch-capable socket joins the room now: the pending batch's events so far are in its
        join snapshot, so it gets only what follows."""
        pending = self._pending.get(room_id)
        if pending is not None:
            pending.since[sid] = len(pending.events)

    async def flush(self, room_id: int) -> None:
        """Send the room's pending batch, if any (before any other event of the room, and on the tick)."""
        pending = self._pending.pop(room_id, None)
        if pending is None or not pending.events:
            return
        events, since = pending.events, pending.since
        # Those that must not see all of it: actors (their own `others` events) and late joiners.
        apart = list(dict.fromkeys([*(sid for _, sid in events if sid is not None), *since]))
        channel = batch_channel(room_id)
        await self._send(room_id, channel, [entry for entry, _ in events], skip=apart)
        members = self._sio.manager.rooms.get("/", {}).get(channel, {})
        for sid in apart:
            if sid in members:  # a socket of this process: no other process needs to hear of it
                own = [entry for entry, skipped in events[since.get(sid, 0) :] if skipped != sid]
                await self._send(room_id, sid, own, skip=None, here_only=True)
        for name in pending.names:
            self._metrics.room_batched_events.labels(name).inc()

    async def _send(
        self, room_id: int, to: str, entries: list[msgspec.Raw], skip: Any, here_only: bool = False
    ) -> None:
        if not entries:
            return
        body = {"roomId": str(room_id), "events": entries}  # the entries are written as encoded
        await self._sio.emit(BATCH_EVENT, body, room=to, skip_sid=skip or None, ignore_queue=here_only)
        self._metrics.room_batches.inc()

    def forget(self, room_id: int) -> None:
        """The room closed: nothing pending is sent (its members were told it closed)."""
        self._pending.pop(room_id, None)
        self._sizes.pop(room_id, None)

    async def stop(self) -> None:
        """Send every pending batch (shutdown), and wait for the timed flushes under way."""
        for room_id in list(self._pending):
            with contextlib.suppress(Exception):
                await self.flush(room_id)
        if self._flushes:
            await asyncio.gather(*self._flushes, return_exceptions=True)
