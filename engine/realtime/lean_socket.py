"""python-engineio's socket without its per-socket tasks (issue 11 §6: lean idle sockets).

Stock python-engineio keeps, for every open WebSocket, a writer task waiting on an `asyncio.Queue`
(four deques: ~3 KiB) through `asyncio.wait_for`, which makes one more task per wait; a reader that
wraps every wait in a task of its own and a `wait_for`; and, between a pong and the next ping, a
task sleeping `ping_interval`. About 10 KiB of an idle socket's ~30 were those. Here:

- **No writer task, no queue.** Over a WebSocket without compression the socket's `FrameSink`
  (engine/realtime/fastpath.py) already owns the transport: once the socket is on the WebSocket,
  what its queue still holds is written, and the sink takes the queue's place — a packet put on it
  is framed and written at once, in the order it was put.
- **The reader waits in the connection's own task**, with no task and no timeout per message: a
  client that goes silent is caught by its ping timeout (`PingWheel`), which closes the socket,
  and a socket closed by the server hangs up on a client that does not close the WebSocket within
  `ping_timeout` (stock python-engineio's reader gave up `ping_interval + ping_timeout` after the
  client's last message instead).
- **`PingWheel`: every socket's pings from timers of the server**, one per due time, not a task per
  socket. Sockets with compression keep python-engineio's writer (with `SentOnce`).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from typing import Any

from engineio import async_socket, exceptions, packet

from engine.realtime.fastpath import PING_FRAME, FrameSink

GRAIN = 0.25  # seconds: a ping or a pong check may be this late, so that due times share a bucket


class SentOnce:
    """A packet that python-engineio's WebSocket writer encodes once, after which it is let go of.

    The writer's loop variable stays bound to the last packet it sent while it waits for the next,
    so an idle socket would hold its last packet until the next ping (25 s): typically its
    `room:join` ack, which lists every participant — ~0.5 KB each, half a megabyte per socket just
    after a join into a room of a thousand. (Only sockets with compression still have that writer.)
    """

    __slots__ = ("_pkt", "packet_type")

    def __init__(self, pkt: Any) -> None:
        self._pkt = pkt
        self.packet_type = pkt.packet_type

    @property
    def data(self) -> Any:  # python-engineio logs it as it queues the packet
        return self._pkt.data if self._pkt is not None else None

    def encode(self, *args: Any, **kwargs: Any) -> Any:
        pkt, self._pkt = self._pkt, None
        return pkt.encode(*args, **kwargs)


class LeanSocket(async_socket.AsyncSocket):  # type: ignore[misc]
    """The Engine.IO socket of a WebSocket connection (its class is set when the WebSocket opens)."""

    # python-engineio's attributes (set in its BaseSocket), as far as this class uses them
    queue: Any
    connected: bool
    upgrading: bool
    upgraded: bool
    _hang_up: asyncio.TimerHandle | None = None  # set once the server closed the socket

    async def send(self, pkt: Any) -> None:
        # Only where python-engineio's writer holds packets: a long-polling response encodes its
        # packets more than once, and a sink encodes them as they are put.
        if self.upgraded and not self.upgrading and isinstance(self.queue, asyncio.Queue):
            pkt = SentOnce(pkt)
        await super().send(pkt)

    async def _websocket_handler(self, ws: Any) -> None:
        sink: FrameSink | None = ws.sink
        if sink is None:  # permessage-deflate: python-engineio's writer task, through aiohttp
            await super()._websocket_handler(ws)
            return
        if self.connected:  # an upgrade from long-polling
            if not await self._upgrade(ws):
                return
        else:
            self.connected = True
            self.upgraded = True
        self._write_through(sink)
        # The read loop, here rather than in a coroutine of its own: every frame of this handler's
        # call chain stays allocated for as long as the connection is open.
        response, limit = ws.response, self.server.max_http_buffer_size
        try:
            while True:
                try:
                    data = ws.accepted((await response.receive()).data)
                except Exception:  # the connection ended
                    break
                if data is None or len(data) > limit:
                    break
                try:
                    await self.receive(packet.Packet(encoded_packet=data))
                except exceptions.UnknownPacketError:
                    pass
                except exceptions.SocketIsClosedError:
                    break
                except Exception:
                    self.server.logger.exception("Unknown receive error")
        finally:
            # Also when aiohttp cancels the handler of a connection that was lost (its
            # `handler_cancellation`): the socket closes and its disconnect runs all the same.
            await ws.close()
            await self.close(wait=False, abort=True, reason=self.server.reason.TRANSPORT_CLOSE)
            if self._hang_up is not None:
                self._hang_up.cancel()  # the connection ended: nothing to hang up on

    def _write_through(self, sink: FrameSink) -> None:
        """From now on the sink is the queue; what the queue held is written first, in order (no
        `await` in between: nothing may be written before it). The queue itself is let go of."""
        queue, self.queue = self.queue, sink
        while not queue.empty():
            pkt = queue.get_nowait()
            queue.task_done()  # a close(wait=True) waiting on the old queue is let go
            if pkt is not None:
                sink.put_nowait(pkt)
                if pkt.packet_type == packet.OPEN:
                    # Its own (no broadcast), and bound in python-engineio's `_handle_connect` frame
                    # for the connection's life.
                    pkt.data = pkt.encode_cache = None

    async def _upgrade(self, ws: Any) -> bool:
        """python-engineio's upgrade handshake: the probe ping, then the UPGRADE packet."""
        self.upgrading = True  # broadcasts keep going to the queue, which the last poll may take
        try:
            probe = packet.Packet(encoded_packet=await ws.wait())
            if probe.packet_type != packet.PING or probe.data != "probe":
                return False
            await ws.send(packet.Packet(packet.PONG, data="probe").encode())
            await self.queue.put(packet.Packet(packet.NOOP))  # ends the pending poll
            if packet.Packet(encoded_packet=await ws.wait()).packet_type != packet.UPGRADE:
                return False
        except Exception:  # the connection ended, or a frame that does not decode
            return False
        finally:
            self.upgrading = False
        self.upgraded = True
        return True

    async def close(self, wait: bool = True, abort: bool = False, reason: Any = None) -> None:
        first = not self.closed and not self.closing
        await super().close(wait=wait, abort=abort, reason=reason)
        sink = self.queue
        if first and not abort and isinstance(sink, FrameSink):
            # Closed by the server: the client, told so, closes the WebSocket; one that does not is
            # hung up on, as stock python-engineio's reader timeout would, minus its per-wait timer.
            self._hang_up = asyncio.get_running_loop().call_later(self.server.ping_timeout, sink.hang_up)


class PingWheel:
    """Every socket's Engine.IO pings and pong checks, from timers shared by the whole server.

    The protocol (as python-engineio's `schedule_ping`): `ping_interval` after the socket opened or
    answered the last ping, the server sends a PING and notes when (`last_ping`); the PONG clears it
    and starts the next interval. A socket whose PONG has not come `ping_timeout` after its PING is
    closed (python-engineio's `check_ping_timeout`, also run by its service task and on each send).
    Every socket waits the same interval, so appending keeps each queue in order of due time; due
    times are rounded up to GRAIN, and the sockets due at one time share a bucket (a list slot per
    socket); one timer waits for the earliest bucket of the two queues.
    """

    def __init__(self, server: Any) -> None:
        self._server = server
        self._pings: deque[tuple[float, list[Any]]] = deque()  # (loop time due, sockets), due ascending
        self._pongs: deque[tuple[float, list[Any]]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0

    def __len__(self) -> int:
        return sum(len(sockets) for queue in (self._pings, self._pongs) for _, sockets in queue)

    def schedule(self, socket: Any) -> None:
        """Ping `socket` one interval from now (python-engineio's `_send_ping`, without its task)."""
        loop = asyncio.get_running_loop()
        self._arm(loop, _add(self._pings, loop.time() + self._server.ping_interval, socket))

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._pings.clear()
        self._pongs.clear()

    def _arm(self, loop: asyncio.AbstractEventLoop, due: float) -> None:
        if self._timer is not None and self._timer_at <= due:
            return  # the timer set already comes first: it will see this one
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = due
        self._timer = loop.call_at(due, self._tick)

    def _tick(self) -> None:
        self._timer = None
        loop = asyncio.get_running_loop()
        now, wall = loop.time(), time.time()
        pings, pongs, timeout = self._pings, self._pongs, self._server.ping_timeout
        while pings and pings[0][0] <= now + GRAIN / 2:
            for socket in pings.popleft()[1]:
                if not socket.closing and not socket.closed:
                    socket.last_ping = wall
                    ping(socket)
                    _add(pongs, now + timeout + GRAIN, socket)
        while pongs and pongs[0][0] <= now + GRAIN / 2:
            for socket in pongs.popleft()[1]:
                last = socket.last_ping
                if last and wall - last > timeout and not socket.closing and not socket.closed:
                    self._server.start_background_task(socket.check_ping_timeout)  # closes it
        heads = [queue[0][0] for queue in (pings, pongs) if queue]
        if heads:
            self._arm(loop, min(heads))


def _add(queue: deque[tuple[float, list[Any]]], due: float, socket: Any) -> float:
    """Put `socket` in the bucket of `due` (rounded up to GRAIN) at the end of `queue`; its time."""
    slot = math.ceil(due / GRAIN) * GRAIN
    if queue and queue[-1][0] == slot:
        queue[-1][1].append(socket)
    else:
        queue.append((slot, [socket]))
    return slot


_PING = packet.Packet(packet.PING)


def ping(socket: Any) -> None:
    queue = socket.queue
    if isinstance(queue, FrameSink):
        queue.write(PING_FRAME)
    else:  # long-polling (or compression): python-engineio's queue, for its poll or writer
        queue.put_nowait(_PING)
