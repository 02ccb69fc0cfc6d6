"""How an event's acknowledgement goes back: encoded once and written by the socket's sink.

python-socketio answers an event with an ack by building a `Packet` (which walks the data for
binary, then encodes it), handing the text to python-engineio's `send`, which wraps it in an
Engine.IO packet, checks the ping timeout and puts it on the socket's queue; the socket's writer
task wakes (through an `asyncio.wait_for`, itself a task), encodes the Engine.IO packet and has the
frame written. Per acked event that was more than the rest of the transport's work together.

Here a text-only ack is written as one WebSocket frame by the socket's `FrameSink`
(engine/realtime/fastpath.py) in the event's own task, under the fast path's ordering rule: at once
when the socket's Engine.IO queue is empty, else queued behind what it holds (and behind any
broadcast frame the sink holds for its coalescing window). Acks with binary attachments, and
sockets without a sink (long-polling, compression), keep python-socketio's own path.
"""

from __future__ import annotations

from typing import Any

from socketio import packet

from engine.realtime import jsonlimits
from engine.realtime.fastpath import Broadcast
from engine.realtime.guard import GuardedServer


class EventServer(GuardedServer):
    """The Socket.IO server with acks sent as above (the guard and everything else as before)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sink_acks = 0  # acks handed to a socket's sink (written at once or queued behind)

    async def _handle_event_internal(
        self, server: Any, sid: str, eio_sid: str, data: list[Any], namespace: str, id: int | None
    ) -> None:
        result = await server._trigger_event(data[0], namespace, sid, *data[1:])
        if result is self.not_handled or id is None:
            return
        # As python-socketio: None is no argument, a tuple several.
        args = [] if result is None else list(result) if isinstance(result, tuple) else [result]
        await self.send_ack(eio_sid, namespace, id, args)

    async def send_ack(self, eio_sid: str, namespace: str | None, ack_id: int, args: list[Any]) -> None:
        sink = self.eio.sinks.get(eio_sid)
        if sink is None or packet.Packet.data_is_binary(args):
            await self._send_packet(eio_sid, self.packet_class(packet.ACK, namespace=namespace, id=ack_id, data=args))
            return
        # What Packet(ACK, args, namespace, id).encode() writes.
        prefix = "3" if namespace in (None, "/") else f"3{namespace},"
        text = f"{prefix}{ack_id}{jsonlimits.dumps(args)}"
        message = Broadcast.of(text)
        sink.deliver(message.frame, message.eio_pkt, False)
        self.sink_acks += 1
