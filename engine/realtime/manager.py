"""python-socketio's Redis client manager, with the delivery fast path, a bounded pool and lean
messages between processes.

Every emit reaches each process that may hold recipients: the emitting one delivers to its own
members at once, then publishes the emit; the others get it from their subscription. Callback-less
emits without binary attachments are encoded once and delivered by engine/realtime/fastpath.py
(the emitting process skips python-socketio's second walk of the arguments and its re-encoding);
emits with a callback or binary attachments take python-socketio's own path unchanged.

Between processes, stock python-socketio publishes each message through redis-py, and every process
— the publisher included, since Redis sends a message to every subscriber — parses it with
redis-py's pub/sub reader, decodes the whole JSON and only then drops its own by `host_id`. Here:

- a message is published through the manager's `MuxRedis` (engine/redis_mux.py: one write per loop
  turn for all of them) and starts with `{"origin":"<host id>",`; it is still the JSON object stock
  python-socketio writes, with one more key, so other publishers (a stock write-only emitter) and
  readers interoperate;
- the subscription is read by `Subscription` (hiredis, on a connection of its own), and a message
  that starts with this process's own origin is dropped before it is decoded.

It also keeps, per socket, the rooms the socket is in: python-socketio finds them by testing every
room of the namespace (each socket has three or more of its own), on every disconnect. With 15,000
sockets that is some 45,000 rooms and ~5 ms of the event loop per disconnect, and closing them all at
shutdown takes over a minute (loadtest/bench_hold.py, docs/performance.md "60,000 sockets held").
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import socketio
from redis.asyncio import BlockingConnectionPool
from socketio import packet

from engine.realtime import jsonlimits
from engine.realtime.fastpath import Broadcast, deliver
from engine.redis_mux import MuxRedis, Subscription, pack

log = logging.getLogger("flylive.realtime.manager")

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()
RETRY_MAX_SECONDS = 60


def encode_message(message: dict[str, Any]) -> bytes:
    """A message between processes as JSON (msgspec's; what it cannot encode goes to the stdlib)."""
    try:
        return _encoder.encode(message)
    except (TypeError, OverflowError):
        return json.dumps(message, separators=(",", ":")).encode()


def decode_message(raw: bytes) -> Any:
    try:
        return _decoder.decode(raw)
    except msgspec.DecodeError:
        return json.loads(raw)  # the stdlib's language (NaN, huge integers) from a stock publisher


class FastRedisManager(socketio.AsyncRedisManager):  # type: ignore[misc]
    redis: MuxRedis | None

    def __init__(self, url: str, channel: str, max_connections: int) -> None:
        # msgspec's JSON for the messages between processes too (and Raw fragments written as they are).
        super().__init__(url, channel=channel, json=jsonlimits)
        self._max_connections = max_connections
        self._pool: BlockingConnectionPool | None = None
        # Every message this process publishes starts with these bytes (see the module's docstring).
        self._origin = b'{"origin":"' + self.host_id.encode() + b'",'
        self.subscriber_name = f"flylive-socketio-{self.host_id}"  # its subscription's CLIENT SETNAME
        self.fast_deliveries = 0  # recipients served by a sink (written at once or queued behind)
        self.queued_deliveries = 0  # recipients served through python-engineio's queue
        self.published = 0  # messages published
        self.own_dropped = 0  # of those, the ones this process's subscription dropped undecoded
        self.subscribed = False  # this process's subscription is confirmed and not known to be lost
        self._first_subscription: asyncio.Event | None = None
        # namespace -> sid -> the rooms it is in (None, the namespace's room of all sockets, included),
        # as the keys of a dict: a socket is in five or six, where a set would take 728 bytes, a dict 184
        self.rooms_of: dict[str, dict[str, dict[Any, None]]] = {}

    # -- each socket's rooms, indexed (every change to `self.rooms` goes through these three) ------

    def basic_enter_room(self, sid: str, namespace: str, room: Any, eio_sid: str | None = None) -> None:
        super().basic_enter_room(sid, namespace, room, eio_sid=eio_sid)  # raises before any change
        self.rooms_of.setdefault(namespace, {}).setdefault(sid, {})[room] = None

    def basic_leave_room(self, sid: str, namespace: str, room: Any) -> None:
        super().basic_leave_room(sid, namespace, room)
        sids = self.rooms_of.get(namespace)
        rooms = sids.get(sid) if sids is not None else None
        if rooms is None:
            return
        rooms.pop(room, None)
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
            self.redis = MuxRedis(connection_pool=self._pool)  # publishes share one connection
        self.connected = True

    async def close(self) -> None:
        """Close the client and its pool (at stop, after the listener ended)."""
        if self.redis is not None:
            await self.redis.aclose()
        if self._pool is not None:
            await self._pool.aclose()  # a pool handed to the client is not closed by it

    # --- between processes ---------------------------------------------------------------------------

    async def _publish(self, data: dict[str, Any]) -> Any:
        """python-socketio's own publishes (disconnects, rooms, callbacks): as `publish_nowait`."""
        return await asyncio.shield(self.publish_nowait(data))

    def publish_nowait(self, data: dict[str, Any]) -> asyncio.Future[Any]:
        """Queue the message's PUBLISH now and return its reply (the number of receivers).

        On the shared connection commands go out in the order they were queued, so emits keep their
        order without waiting for Redis: a room's lock is not held over a publish's round trip. A
        failed publish is tried once more, then dropped with an error in the log, as stock.
        """
        payload = self._origin + encode_message(data)[1:]  # `{"origin":…,` then the message's own keys
        return self._send(payload, retried=False)

    def _send(self, payload: bytes, retried: bool) -> asyncio.Future[Any]:
        if not self.connected:
            self._redis_connect()
        assert self.redis is not None
        mux = self.redis.mux
        if mux is None:  # a client the shared connection cannot serve (TLS): redis-py's pool, unordered
            reply: asyncio.Future[Any] = asyncio.ensure_future(self.redis.publish(self.channel, payload))
        else:
            (reply,) = mux.submit([pack(("PUBLISH", self.channel, payload))], [True])
        reply.add_done_callback(functools.partial(self._published, payload, retried))
        return reply

    def _published(self, payload: bytes, retried: bool, reply: asyncio.Future[Any]) -> None:
        if reply.cancelled():
            return
        error = reply.exception() or (reply.result() if isinstance(reply.result(), Exception) else None)
        if error is None:
            self.published += 1
            return
        log.error(f"Cannot publish to redis... {'giving up' if retried else 'retrying'}",
                  extra={"redis_exception": str(error)})  # fmt: skip
        if not retried:
            self._send(payload, retried=True)

    async def _listen(self) -> AsyncIterator[dict[str, Any]]:
        """The messages other processes published (python-socketio's `_thread` dispatches them)."""
        retry = 1
        while True:
            try:
                self._redis_connect()
                assert self._pool is not None
                async with Subscription(self._pool, self.channel, name=self.subscriber_name) as messages:
                    retry = 1
                    self.subscribed = True
                    self._subscribed_once().set()
                    async for raw in messages:
                        if raw.startswith(self._origin):
                            self.own_dropped += 1
                            continue
                        message = decode_message(raw)
                        if isinstance(message, dict):
                            yield message
            except asyncio.CancelledError:
                self.subscribed = False
                raise
            except Exception as exc:
                self.subscribed = False
                log.error(f"Cannot receive from redis... retrying in {retry} secs",
                          extra={"redis_exception": str(exc)})  # fmt: skip
                await asyncio.sleep(retry)
                retry = min(retry * 2, RETRY_MAX_SECONDS)

    def _subscribed_once(self) -> asyncio.Event:
        if self._first_subscription is None:
            self._first_subscription = asyncio.Event()
        return self._first_subscription

    async def wait_subscribed(self) -> None:
        """Until the subscription is first confirmed: a process serves sockets only once it hears
        the others (see `alone`)."""
        await self._subscribed_once().wait()

    def alone(self, subscribers: Any) -> bool:
        """Whether `subscribers`, the channel's subscriber count (PUBSUB NUMSUB) a room script read
        after recording its events, leaves no other engine process to publish them to.

        Any process that holds a socket which should get an event was subscribed when the event was
        recorded (it subscribes before it serves): if the count is this process's own subscription
        or none, publishing would reach nobody. While this process's subscription is not confirmed
        the count may be another process's, so it is taken as one. (PUBSUB NUMSUB counts one
        server's subscribers: a Redis Cluster's nodes each count their own; do not use it there.)
        """
        return isinstance(subscribers, int) and subscribers <= (1 if self.subscribed else 0)

    # --- emitting ------------------------------------------------------------------------------------

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
        """As python-socketio's: to this process's members of the room, then to the other processes'."""
        wire = list(data) if isinstance(data, tuple) else [data]  # the arguments as stock publishes them
        if callback is not None or packet.Packet.data_is_binary(wire):
            await super().emit(event, data, namespace=namespace, room=room, skip_sid=skip_sid, callback=callback,
                               to=to, **kwargs)  # fmt: skip
            return
        room, namespace = to or room, namespace or "/"
        self.deliver_here(event, [] if wire == [None] else wire, namespace, room, skip_sid)
        if kwargs.get("ignore_queue"):
            return  # this process only
        message = {"method": "emit", "event": event, "data": wire, "binary": False, "namespace": namespace,
                   "room": room, "skip_sid": skip_sid, "callback": None, "host_id": self.host_id}  # fmt: skip
        self.publish_nowait(message)

    async def _handle_emit(self, message: dict[str, Any]) -> None:
        """An emit another process published: this process's share of its recipients."""
        if message.get("callback") is None and not message.get("binary"):
            args = message["data"]
            if args == [None]:  # as stock: `emit(event)` and `emit(event, None)` carry no argument
                args = []
            namespace = message.get("namespace") or "/"
            self.deliver_here(message["event"], args, namespace, message.get("room"), message.get("skip_sid"))
            return
        await super()._handle_emit(message)

    def deliver_here(self, event: str, args: list[Any], namespace: str, room: Any, skip_sid: Any) -> None:
        """Encode once (the arguments hold no binary) and deliver to this process's members of `room`."""
        if namespace not in self.rooms:
            return  # nobody here
        # What python-socketio's Packet(EVENT, [event, *args], namespace).encode() writes.
        body = jsonlimits.dumps([event, *args])
        text = "2" + body if namespace == "/" else f"2{namespace},{body}"
        skip = skip_sid if isinstance(skip_sid, list) else (skip_sid,)
        recipients = (eio_sid for sid, eio_sid in self.get_participants(namespace, room) if sid not in skip)
        fast, slow = deliver(self.server.eio, Broadcast.of(text), recipients)
        self.fast_deliveries += fast
        self.queued_deliveries += slow
