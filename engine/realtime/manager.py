"""python-socketio's Redis client manager, with the delivery fast path and a bounded pool.

Every emit reaches `_handle_emit` in each process that may hold recipients: the emitting one
(python-socketio's `AsyncPubSubManager.emit` handles it here, then publishes it) and the others
(from the pub/sub listener). Callback-less emits without binary attachments are delivered there by
engine/realtime/fastpath.py; the rest take python-socketio's own path unchanged.

It also keeps, per socket, the rooms the socket is in: python-socketio finds them by testing every
room of the namespace (each socket has three or more of its own), on every disconnect. With 15,000
sockets that is some 45,000 rooms and ~5 ms of the event loop per disconnect, and closing them all at
shutdown takes over a minute (loadtest/bench_hold.py, docs/performance.md "60,000 sockets held").
"""

from __future__ import annotations

from typing import Any

import socketio
from redis.asyncio import BlockingConnectionPool, Redis
from socketio import packet

from engine.realtime import jsonlimits
from engine.realtime.fastpath import Broadcast, deliver


class FastRedisManager(socketio.AsyncRedisManager):  # type: ignore[misc]
    redis: Redis | None
    pubsub: Any

    def __init__(self, url: str, channel: str, max_connections: int) -> None:
        # msgspec's JSON for the messages between processes too (and Raw fragments written as they are).
        super().__init__(url, channel=channel, json=jsonlimits)
        self._max_connections = max_connections
        self._pool: BlockingConnectionPool | None = None
        self.fast_deliveries = 0  # recipients served by a sink (written at once or queued behind)
        self.queued_deliveries = 0  # recipients served through python-engineio's queue
        # namespace -> sid -> the rooms it is in (None, the namespace's room of all sockets, included)
        self.rooms_of: dict[str, dict[str, set[Any]]] = {}

    # -- each socket's rooms, indexed (every change to `self.rooms` goes through these three) ------

    def basic_enter_room(self, sid: str, namespace: str, room: Any, eio_sid: str | None = None) -> None:
        super().basic_enter_room(sid, namespace, room, eio_sid=eio_sid)  # raises before any change
        self.rooms_of.setdefault(namespace, {}).setdefault(sid, set()).add(room)

    def basic_leave_room(self, sid: str, namespace: str, room: Any) -> None:
        super().basic_leave_room(sid, namespace, room)
        sids = self.rooms_of.get(namespace)
        rooms = sids.get(sid) if sids is not None else None
        if rooms is None:
            return
        rooms.discard(room)
        if not rooms:
            del sids[sid]  # type: ignore[union-attr]
            if not sids:
                del self.rooms_of[namespace]

    def basic_disconnect(self, sid: str, namespace: str, **kwargs: Any) -> None:
        """As python-socketio's, but leaving the socket's own rooms instead of testing every room."""
        for room in list(self.rooms_of.get(namespace, {}).get(sid, ())):
            self.basic_leave_room(sid, namespace, room)
        self.callbacks.pop(sid, None)
        for pending in (self.pending_connect, self.pending_disconnect):
            sids = pending.get(namespace)
            if sids is not None and sid in sids:
                sids.remove(sid)
                if not sids:
                    del pending[namespace]

    def get_rooms(self, sid: str, namespace: str) -> list[Any]:
        return [room for room in self.rooms_of.get(namespace, {}).get(sid, ()) if room is not None]

    def _redis_connect(self) -> None:
        # Stock builds a new client on each call (every publish retry) on redis-py's default pool,
        # which refuses with "Too many connections" past 100 instead of waiting. One client on a
        # blocking pool, kept for the manager's life: redis-py replaces a broken connection itself.
        if self.redis is None:
            self._pool = BlockingConnectionPool.from_url(
                self.redis_url, max_connections=self._max_connections, timeout=10, health_check_interval=30
            )
            self.redis = client = Redis(connection_pool=self._pool)
            self.pubsub = client.pubsub(ignore_subscribe_messages=True)
        self.connected = True

    async def close(self) -> None:
        """Close the client, its subscription and its pool (at stop, after the listener ended)."""
        if self.pubsub is not None:
            await self.pubsub.aclose()
        if self.redis is not None:
            await self.redis.aclose()
        if self._pool is not None:
            await self._pool.aclose()  # a pool handed to the client is not closed by it

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str | None = None,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        # `ignore_queue` emits (this process only) skip `_handle_emit` in python-socketio.
        if kwargs.get("ignore_queue") and callback is None:
            args = list(data) if isinstance(data, tuple) else [] if data is None else [data]
            if self.deliver_here(event, args, namespace or "/", to or room, skip_sid):
                return
        await super().emit(event, data, namespace=namespace, room=room, skip_sid=skip_sid, callback=callback, to=to,
                           **kwargs)  # fmt: skip

    async def _handle_emit(self, message: dict[str, Any]) -> None:
        """This process's share of an emit: its own (from `emit`) or one another process published."""
        if message.get("callback") is None and not message.get("binary"):
            args = message["data"]
            if args == [None]:  # as stock: `emit(event)` and `emit(event, None)` carry no argument
                args = []
            room, skip = message.get("room"), message.get("skip_sid")
            if self.deliver_here(message["event"], args, message.get("namespace") or "/", room, skip):
                return
        await super()._handle_emit(message)

    def deliver_here(self, event: str, args: list[Any], namespace: str, room: Any, skip_sid: Any) -> bool:
        """Encode once and deliver to this process's members of `room`; False: not for the fast path."""
        if namespace not in self.rooms:
            return True  # nobody here
        text = self.server.packet_class(packet.EVENT, namespace=namespace, data=[event, *args]).encode()
        if not isinstance(text, str):  # binary attachments inside the arguments: a list of packets
            return False
        skip = skip_sid if isinstance(skip_sid, list) else (skip_sid,)
        recipients = (eio_sid for sid, eio_sid in self.get_participants(namespace, room) if sid not in skip)
        fast, slow = deliver(self.server.eio, Broadcast.of(text), recipients)
        self.fast_deliveries += fast
        self.queued_deliveries += slow
        return True
