"""A guard in front of every client packet: malformed packets and event floods are refused cheaply,
in process, and a socket that keeps sending them is closed.

- **Malformed packets** (bad JSON, an event that is not `[name, ...]`, a reserved event name, a
  binary packet whose attachments do not add up, a packet type clients may not send) are dropped
  without an ack, counted in `flylive_socket_malformed_packets_total{kind}`, logged at most once per
  LOG_INTERVAL for the whole process, and the connection is closed at its SOCKET_MALFORMED_LIMIT-th.
  Stock python-socketio logs a traceback for each (and a broken binary packet jams the socket).
- **Event budget** (realtime-contract §9 Backpressure): each socket has a token bucket of its own,
  SOCKET_EVENT_RATE_LIMIT (100 refilling 20/s), taken before the event's task is even created; a
  refusal costs no Redis call. A socket refused SOCKET_FLOOD_REFUSALS events before its bucket has
  refilled is disconnected (one log line each, `flylive_socket_guard_disconnects_total{reason}`).

The budget applies to the default namespace (clients); media nodes on `/media` are trusted services.
Below Socket.IO, engine/realtime/engineio_guard.py does the same for Engine.IO frames.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import socketio
from socketio import packet

from engine.config import Config, Rate
from engine.metrics import Metrics
from engine.realtime import jsonlimits
from engine.realtime.acks import TOO_MANY_REQUESTS, failure
from engine.realtime.engineio_guard import GuardedEngineIO, LogGate, engineio_log
from engine.realtime.fastpath import FrameSink, OutputBudget

log = logging.getLogger("flylive.realtime.guard")

MAX_ATTACHMENTS = 10  # no event of the contract carries binary; a few attachments are plenty
LOG_INTERVAL = 10.0  # seconds between two "malformed packet" log lines, process-wide

# What the connect handlers read of a socket's WSGI environ (engine/realtime/server.py:
# `_authenticate`); python-socketio keeps the environ for the socket's life, to hand it to the
# connect handler of each namespace the socket joins. The rest (every request header, the request's
# body stream) is ~1.5 KB per socket.
CONNECT_ENVIRON = ("HTTP_AUTHORIZATION", "HTTP_ORIGIN")

_EVENTS = (packet.EVENT, packet.BINARY_EVENT)
_ACKS = (packet.ACK, packet.BINARY_ACK)


class Malformed(Exception):
    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class LimitedPacket(packet.Packet):  # type: ignore[misc]
    """python-socketio's packet, decoding JSON with a nesting bound (engine/realtime/jsonlimits.py)."""

    json = jsonlimits


@dataclass(slots=True)
class SocketGuard:
    """One Engine.IO connection's budget and offences."""

    tokens: float
    stamp: float
    refused: int = 0  # events refused since the bucket was last full
    malformed: int = 0

    def take(self, rate: Rate, now: float) -> float:
        """Spend a token: 0.0 when the event may run, else the seconds until a token is back."""
        per_second = rate.capacity / rate.period
        self.tokens = min(rate.capacity, self.tokens + (now - self.stamp) * per_second)
        self.stamp = now
        if self.tokens >= rate.capacity:
            self.refused = 0  # the socket came back within its budget: any overrun is over
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        self.refused += 1
        return (1 - self.tokens) / per_second


class GuardedServer(socketio.AsyncServer):  # type: ignore[misc]
    """python-socketio's server with the guard above in front of its packet dispatch."""

    def __init__(self, config: Config, metrics: Metrics, **options: Any) -> None:
        super().__init__(serializer=LimitedPacket, engineio_logger=engineio_log, **options)
        self._config = config
        self._metrics = metrics
        self._guards: dict[str, SocketGuard] = {}
        self._malformed_log = LogGate(LOG_INTERVAL)
        # Told the user id of a socket cut for flooding (the transport bars them for a while).
        self.on_flood: Callable[[int], Awaitable[None]] | None = None
        self.eio.count_malformed = metrics.malformed_packets.labels("frame").inc
        self.eio.corker.window = config.socket_write_coalesce_ms / 1000
        self.eio.output_budget = OutputBudget(
            config.socket_output_max_bytes, config.socket_output_max_age_seconds, self._cut_slow
        )

    def _engineio_server_class(self) -> type[GuardedEngineIO]:
        return GuardedEngineIO

    def _cut_slow(self, sink: FrameSink, queued_bytes: int, backlogged_seconds: float) -> None:
        """A socket over its output budget was cut (fastpath.FrameSink.cut): say so, once."""
        self._metrics.guard_disconnects.labels("slow").inc()
        log.warning("socket disconnected: not reading its output", extra={"sid": sink.socket.sid,
                    "queued_bytes": queued_bytes, "backlogged_seconds": round(backlogged_seconds, 1)})  # fmt: skip

    def _guard(self, eio_sid: str) -> SocketGuard:
        guard = self._guards.get(eio_sid)
        if guard is None:
            rate = self._config.socket_event_rate_limit
            guard = self._guards[eio_sid] = SocketGuard(float(rate.capacity), time.monotonic())
        return guard

    async def _handle_eio_message(self, eio_sid: str, data: str | bytes) -> None:
        try:
            pkt = self._assemble(eio_sid, data)
        except Malformed as exc:
            # A half-built binary packet would take every later message as its attachment.
            self._binary_packet.pop(eio_sid, None)
            await self._refuse_malformed(eio_sid, exc.kind)
            return
        if pkt is None:
            return
        if pkt.packet_type == packet.CONNECT:
            await self._handle_connect(eio_sid, pkt.namespace, pkt.data)
        elif pkt.packet_type == packet.DISCONNECT:
            await self._handle_disconnect(eio_sid, pkt.namespace, self.reason.CLIENT_DISCONNECT)
        elif pkt.packet_type in _EVENTS:
            await self._handle_event(eio_sid, pkt.namespace, pkt.id, pkt.data)
        else:
            await self._handle_ack(eio_sid, pkt.namespace, pkt.id, pkt.data)

    def _assemble(self, eio_sid: str, data: str | bytes) -> Any:
        """The complete, well-formed packet `data` ends, or None while a binary packet awaits attachments."""
        pending = self._binary_packet.get(eio_sid)
        if pending is not None:
            try:
                if not pending.add_attachment(data):
                    return None
            except Exception as exc:  # a placeholder naming a missing attachment, ...
                raise Malformed("binary") from exc
            del self._binary_packet[eio_sid]
            pkt = pending
        else:
            if not isinstance(data, str):
                raise Malformed("binary")  # an attachment with no binary packet before it
            try:
                pkt = self.packet_class(encoded_packet=data)
            except Exception as exc:  # bad JSON, too deep, a bad id or attachment count, ...
                raise Malformed("decode") from exc
            if pkt.packet_type in (packet.BINARY_EVENT, packet.BINARY_ACK):
                connected = self.manager.sid_from_eio_sid(eio_sid, pkt.namespace or "/")
                if not connected or not 1 <= pkt.attachment_count <= MAX_ATTACHMENTS:
                    raise Malformed("binary")
                self._binary_packet[eio_sid] = pkt
                return None
        self._check_shape(pkt)
        return pkt

    def _check_shape(self, pkt: Any) -> None:
        kind, data = pkt.packet_type, pkt.data
        if kind in _EVENTS:
            # `[name, ...args]`; "connect"/"disconnect" would run the server's own handlers.
            if not (isinstance(data, list) and data and isinstance(data[0], str)) or data[0] in self.reserved_events:
                raise Malformed("event")
        elif kind in _ACKS:
            if not isinstance(data, list):
                raise Malformed("event")
        elif kind == packet.CONNECT:
            if data is not None and not isinstance(data, dict):
                raise Malformed("packet")
        elif kind != packet.DISCONNECT:
            raise Malformed("packet")  # CONNECT_ERROR is the server's to send; other types do not exist

    async def _handle_event(self, eio_sid: str, namespace: str | None, id: int | None, data: list[Any]) -> None:
        if (namespace or "/") == "/":
            guard = self._guard(eio_sid)
            wait = guard.take(self._config.socket_event_rate_limit, time.monotonic())
            if wait:
                await self._refuse_over_budget(eio_sid, guard, id, data[0], wait)
                return
        await super()._handle_event(eio_sid, namespace, id, data)

    async def _refuse_over_budget(
        self, eio_sid: str, guard: SocketGuard, ack_id: int | None, event: str, wait: float
    ) -> None:
        self._metrics.rate_limited.labels("socket").inc()
        self._metrics.budget_exceeded.inc()
        if event in self.handlers.get("/", {}):  # only registered names: a client must not mint labels
            self._metrics.socket_events.labels(event, "fail").inc()
        limit = self._config.socket_flood_refusals
        if limit and guard.refused >= limit:
            sid = self.manager.sid_from_eio_sid(eio_sid, "/")
            session = await self.get_session(sid) if sid else {}
            log.warning("socket disconnected for flooding", extra={"sid": eio_sid, "user_id": session.get("user_id"),
                                                                   "refused": guard.refused})  # fmt: skip
            await self._close(eio_sid, "flood")
            if self.on_flood is not None and session.get("user_id"):
                await self.on_flood(int(session["user_id"]))
            return
        if ack_id is not None:
            ack = failure(TOO_MANY_REQUESTS, "rate_limited", retry_after=math.ceil(wait))
            await self._send_packet(eio_sid, self.packet_class(packet.ACK, namespace="/", id=ack_id, data=[ack]))

    async def _refuse_malformed(self, eio_sid: str, kind: str) -> None:
        self._metrics.malformed_packets.labels(kind).inc()
        guard = self._guard(eio_sid)
        guard.malformed += 1
        closing = guard.malformed >= self._config.socket_malformed_limit
        held = self._malformed_log.admit()
        if held is not None:
            log.warning("malformed Socket.IO packet refused", extra={"sid": eio_sid, "kind": kind, "closing": closing,
                                                                     "held_back": held})  # fmt: skip
        if closing:
            await self._close(eio_sid, "malformed")

    async def _close(self, eio_sid: str, reason: str) -> None:
        self._metrics.guard_disconnects.labels(reason).inc()
        socket = self.eio.sockets.get(eio_sid)
        if socket is not None and socket.upgraded:
            self.eio.cut[eio_sid] = socket
        await self.eio.disconnect(eio_sid)

    async def _handle_eio_connect(self, eio_sid: str, environ: dict[str, Any]) -> None:
        await super()._handle_eio_connect(eio_sid, {k: environ[k] for k in CONNECT_ENVIRON if k in environ})

    async def _handle_eio_disconnect(self, eio_sid: str, reason: Any) -> None:
        try:
            await super()._handle_eio_disconnect(eio_sid, reason)
        finally:
            self._guards.pop(eio_sid, None)
