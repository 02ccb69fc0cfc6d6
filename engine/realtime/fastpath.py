"""The delivery fast path: a room emit is encoded once and the same bytes go to every recipient.

Stock python-socketio builds one task per recipient (`AsyncManager.emit`), each of which goes
through `AsyncSocket.send` (a ping-timeout check, an `await queue.put`), wakes that socket's writer
task, which encodes the Engine.IO packet again and has aiohttp frame it again. Here a callback-less,
text-only emit becomes one WebSocket frame (FIN+TEXT header, payload `4<Socket.IO packet>`), and for
each recipient whose output this module owns (`FrameSink`: a WebSocket socket without
permessage-deflate) the frame is written to its transport synchronously, in the emitting call. What
the design guarantees and why is in docs/performance.md, "Delivery fast path".

- **Order.** Once a socket is on its WebSocket, the sink *is* its Engine.IO queue
  (engine/realtime/lean_socket.py): python-engineio's own sends (acks, pings, the CLOSE packet) are
  written as they are put, so a broadcast written at once comes after everything sent before it.
- **Everything else keeps python-engineio's path**: long-polling and upgrading sockets get the
  Engine.IO packet on their queue, sockets with compression go through aiohttp, and emits with a
  callback or binary attachments go to python-socketio unchanged.
- **Backpressure.** The sink is the only writer of its transport, so the transport's write buffer
  is the socket's whole backlog: over SOCKET_OUTPUT_MAX_BYTES, or backlogged longer than
  SOCKET_OUTPUT_MAX_AGE_SECONDS, the connection is aborted (its buffer is released at once) and the
  socket's ordinary disconnect follows from its read loop, never inside the broadcast.
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from engineio import packet as eio_packet

TEXT, BINARY = 0x1, 0x2
_FIN = 0x80


def frame(payload: bytes, opcode: int = TEXT) -> bytes:
    """A whole server→client WebSocket frame (RFC 6455 §5.2): FIN + opcode, length, no mask."""
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", _FIN | opcode, size)
    elif size < 65536:
        header = struct.pack("!BBH", _FIN | opcode, 126, size)
    else:
        header = struct.pack("!BBQ", _FIN | opcode, 127, size)
    return header + payload


class Frame(bytes):
    """Bytes that already are a WebSocket frame: the sink writes them as they are."""


@dataclass(frozen=True, slots=True)
class OutputBudget:
    max_bytes: int
    max_age: float
    on_cut: Callable[[FrameSink, int, float], None]


class Corker:
    """Coalesces the frames that reach one socket within a short window into one `transport.write`.

    A write costs a system call, ~7 µs of CPU on loopback here: more than everything else a
    delivery costs together. A broadcast that comes within `window` seconds of the previous one
    (a busy server) does not write at once: its frames wait in each sink, and every waiting sink is
    written once when the window ends, its frames joined, in order. An idle server writes at once,
    so coalescing costs latency (at most `window`) only when there is load to save.
    """

    def __init__(self, window: float) -> None:
        self.window = window
        self._dirty: list[FrameSink] = []
        self._last = -1e9  # loop time of the last broadcast

    def begin(self) -> bool:
        """A broadcast starts: whether its writes wait for the window (the server is busy)."""
        now = asyncio.get_running_loop().time()
        busy = now - self._last < self.window
        self._last = now
        return busy

    def mark(self, sink: FrameSink) -> None:
        if not self._dirty:
            asyncio.get_running_loop().call_later(self.window, self.flush)
        self._dirty.append(sink)

    def flush(self) -> None:
        dirty, self._dirty = self._dirty, []
        for sink in dirty:
            sink.flush()


PING_FRAME = Frame(frame(b"2"))  # Engine.IO's PING, the same bytes for every socket


class FrameSink:
    """The one writer of one WebSocket socket's transport (no compression negotiated), and, once
    the socket is on the WebSocket, its Engine.IO queue: what python-engineio puts is written."""

    __slots__ = ("_budget", "_corker", "backlogged_since", "closed", "pending", "socket", "transport")

    def __init__(self, socket: Any, transport: asyncio.Transport, budget: OutputBudget, corker: Corker) -> None:
        self.socket = socket  # python-engineio's AsyncSocket
        self.transport = transport
        self._budget = budget
        self._corker = corker
        self.closed = False
        self.pending: list[bytes] = []  # frames waiting for the corker's window, in order
        self.backlogged_since = 0.0  # monotonic time the buffer was first seen non-empty; 0: empty

    @property
    def queued_bytes(self) -> int:
        """Output accepted and not yet sent: frames waiting here and the transport's buffer."""
        return sum(map(len, self.pending)) + self.transport.get_write_buffer_size()

    def deliver(self, data: Frame, eio_pkt: Any, defer: bool) -> None:
        """One recipient of a broadcast: write (now or at the window's end), or, before the socket
        is on the WebSocket, put it on the queue that its last poll or the upgrade will take."""
        socket = self.socket
        if socket.closing:
            return
        if socket.queue is self:
            self.write(data, defer)
        else:
            socket.queue.put_nowait(eio_pkt)

    # python-engineio's queue, as far as it uses one for a WebSocket socket: a packet put is
    # written (behind any frames waiting for the corker's window); nothing ever waits on it.
    def put_nowait(self, pkt: Any) -> None:
        encoded = pkt.encode()
        if isinstance(encoded, Frame):
            self.write(encoded)
        elif isinstance(encoded, bytes):
            self.write(frame(encoded, BINARY))
        else:
            self.write(frame(encoded.encode()))

    async def put(self, pkt: Any) -> None:
        self.put_nowait(pkt)

    def qsize(self) -> int:
        return 0

    def empty(self) -> bool:
        return True

    def task_done(self) -> None:
        pass

    async def join(self) -> None:
        pass  # everything put was written already

    def write(self, data: bytes, defer: bool = False) -> None:
        if self.pending:
            self.pending.append(data)  # behind what waits already
            if not defer:
                # A packet for this socket alone (an ack, a ping) takes the broadcasts waiting in front
                # of it along, in one write: the write is owed anyway, and the ack does not wait out the
                # window (a chat message's ack came up to SOCKET_WRITE_COALESCE_MS late behind its echo).
                self.flush()
        elif self.closed:
            return
        elif defer:
            self.pending = [data]
            self._corker.mark(self)
        else:
            self._send(data)

    def flush(self) -> None:
        """Write the waiting frames (the corker's window ended, or the socket closes)."""
        pending, self.pending = self.pending, []
        if pending and not self.closed:
            self._send(pending[0] if len(pending) == 1 else b"".join(pending))

    def _send(self, data: bytes) -> None:
        transport = self.transport
        if transport.is_closing():
            return
        transport.write(data)
        if transport.get_write_buffer_size():
            self._check_budget()
        else:
            self.backlogged_since = 0.0

    def _check_budget(self) -> None:
        now = time.monotonic()
        if not self.backlogged_since:
            self.backlogged_since = now
        size, age = self.transport.get_write_buffer_size(), now - self.backlogged_since
        if size > self._budget.max_bytes or age > self._budget.max_age:
            self.cut(size, age)

    def close(self) -> None:
        """Write what this turn left, then nothing more (the close frame follows)."""
        self.flush()
        self.closed = True

    def hang_up(self) -> None:
        """Close the connection once what was written is out (shutdown)."""
        self.close()
        self.transport.close()

    def cut(self, size: int, age: float) -> None:
        """Drop a socket that does not read: abort discards the buffer now; the read loop then ends
        and the socket's disconnect runs from there (not from inside this broadcast)."""
        self.closed = True
        self.pending = []
        self.transport.abort()
        self._budget.on_cut(self, size, age)


@dataclass(slots=True)
class Broadcast:
    """One emit's packet in the two forms its recipients may need, built once."""

    frame: Frame  # for a sink to write
    eio_pkt: Any  # for python-engineio's own path (long-polling, compression, mid-upgrade)

    @classmethod
    def of(cls, socketio_text: str) -> Broadcast:
        return cls(Frame(frame(("4" + socketio_text).encode())), eio_packet.Packet(eio_packet.MESSAGE, socketio_text))


def deliver(eio: Any, message: Broadcast, recipients: Iterable[str]) -> tuple[int, int]:
    """Hand `message` to each Engine.IO socket in `recipients`; (by a sink, by the queue)."""
    defer = eio.corker.begin()
    sinks: dict[str, FrameSink] = eio.sinks
    sockets: dict[str, Any] = eio.sockets
    data, eio_pkt = message.frame, message.eio_pkt
    fast = slow = 0
    for eio_sid in recipients:
        sink = sinks.get(eio_sid)
        if sink is not None:
            sink.deliver(data, eio_pkt, defer)
            fast += 1
            continue
        # python-engineio's queue, as `AsyncSocket.send` would, but without its ping-timeout check,
        # which would run the socket's disconnect right here (its service task closes those).
        socket = sockets.get(eio_sid)
        if socket is not None and not socket.closing:
            socket.queue.put_nowait(eio_pkt)
            slow += 1
    return fast, slow
