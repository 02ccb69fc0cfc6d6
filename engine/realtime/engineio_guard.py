"""python-engineio, hardened below Socket.IO: frames that are not Engine.IO packets end their
connection quietly, a closed socket is not read any further, and python-engineio's tracebacks
are rate-limited.

Stock python-engineio decodes a WebSocket frame outside its error handling: a frame such as `x`
or `4[[[…` escapes as an exception (an HTTP 500 logged with its traceback, the socket never
cleaned up), and an unknown packet type such as `9` logs a traceback per frame while the
connection stays open. Long-polling bodies that do not decode log one per request.

The same wrappers keep idle sockets lean (issue 11 §6; docs/performance.md, "Lean sockets"): a
WebSocket's socket becomes a `LeanSocket` (no writer, reader or ping task of its own:
engine/realtime/lean_socket.py), its pings come from the server's `PingWheel`, and once the
WebSocket is open its HTTP handshake's leftovers are let go of.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Callable
from typing import Any

import engineio
from aiohttp.web import BaseRequest, WebSocketResponse
from engineio import async_socket
from engineio.async_drivers import aiohttp as aiohttp_driver
from engineio.exceptions import SocketIsClosedError
from multidict import CIMultiDict, CIMultiDictProxy

from engine.realtime.fastpath import BINARY, Corker, FrameSink, OutputBudget, frame
from engine.realtime.lean_socket import LeanSocket, PingWheel

LOG_INTERVAL = 10.0  # seconds between two tracebacks from python-engineio, process-wide


class LogGate:
    """At most one line per `interval` seconds; the line that passes says how many were held back."""

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._next_at = 0.0
        self._held = 0

    def admit(self) -> int | None:
        now = time.monotonic()
        if now < self._next_at:
            self._held += 1
            return None
        held, self._held, self._next_at = self._held, 0, now + self._interval
        return held


class _RateLimitedTracebacks(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self._gate = LogGate(LOG_INTERVAL)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info is None:
            return True
        held = self._gate.admit()
        if held:
            record.msg = f"{record.msg} ({held} more like it held back)"
        return held is not None


# python-engineio logs through this logger (not its default one, which also gets a handler of its
# own writing every line a second time to stderr); errors only, as its default.
engineio_log = logging.getLogger("flylive.engineio")
engineio_log.setLevel(logging.ERROR)
engineio_log.addFilter(_RateLimitedTracebacks())


def is_engineio_frame(text: str) -> bool:
    """Whether a WebSocket text frame is a packet an Engine.IO v4 client sends over this server.

    A MESSAGE carries a Socket.IO packet, which starts with its type digit (python-engineio would
    otherwise JSON-decode it without a depth bound); the other packets carry nothing or "probe".
    """
    kind, rest = text[:1], text[1:]
    if kind == "4":
        return rest[:1] in "0123456" and rest[:1] != ""
    return kind in ("1", "2", "3", "5", "6") and rest in ("", "probe")


_NO_HEADERS: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict())


def release_handshake(request: BaseRequest) -> None:
    """Once the WebSocket is open, let go of what only its HTTP handshake needed: the request's
    headers (each header twice, parsed and raw: ~2 KB from a bench client, more from a browser) and
    aiohttp's HTTP parser (~0.8 KB), which the connection's suspended request handling would keep
    for as long as it is open. Nothing reads them after the handshake: no access log, and the
    middlewares read headers before the handler only. These are aiohttp's private attributes, so
    each step checks they are still there (tests/test_socket_memory.py checks it happened)."""
    message: Any = getattr(request, "_message", None)
    if hasattr(message, "_replace") and hasattr(request, "_headers"):
        request._message = message._replace(headers=_NO_HEADERS, raw_headers=())
        request._headers = _NO_HEADERS
        cache = getattr(request, "_cache", {})
        cache.pop("headers", None)  # `headers` and `raw_headers` are cached properties
        cache.pop("raw_headers", None)
    protocol = request.protocol
    if getattr(protocol, "_upgraded", False) and hasattr(protocol, "_parser"):
        protocol._parser = None  # read no more: the WebSocket's own reader takes every byte


class _CheckedWebSocket(aiohttp_driver.WebSocket):  # type: ignore[misc]
    """python-engineio's aiohttp WebSocket, with permessage-deflate only when configured, and,
    without it, a `FrameSink` as the one writer of its transport (engine/realtime/fastpath.py)."""

    sink: FrameSink | None = None

    async def __call__(self, environ: dict[str, Any]) -> WebSocketResponse:
        request = environ["aiohttp.request"]
        # aiohttp accepts a client's permessage-deflate offer unless told not to (every browser
        # offers it); SOCKET_COMPRESSION decides, as it does for long-polling bodies.
        self._sock = WebSocketResponse(
            max_msg_size=self.server.max_http_buffer_size, compress=bool(self.server.http_compression)
        )
        await self._sock.prepare(request)
        # Held by the suspended frames of python-engineio's request handling for the connection's
        # life, and needed no more (python-socketio keeps a copy of what it needs: guard.py).
        environ.clear()
        self.environ = environ
        release_handshake(request)
        socket = self.handler.__self__  # the Engine.IO socket whose handler python-engineio gave us
        socket.__class__ = LeanSocket  # no writer task, the sink as its queue (lean_socket.py)
        sinks: dict[str, FrameSink] = self.server.sinks
        if not self._sock.compress and request.transport is not None:
            server = self.server
            self.sink = sinks[socket.sid] = FrameSink(socket, request.transport, server.output_budget, server.corker)
        try:
            # Not `self.handler`: python-engineio bound it to the socket's class before ours.
            await socket._websocket_handler(self)
        finally:
            if self.sink is not None:
                self.sink.close()
                if sinks.get(socket.sid) is self.sink:
                    del sinks[socket.sid]
        return self._sock

    async def send(self, message: str | bytes) -> None:
        sink = self.sink  # with one, only the upgrade's probe PONG comes this way (lean_socket.py)
        if sink is None:
            await super().send(message)
        elif isinstance(message, bytes):
            sink.write(frame(message, BINARY))
        else:
            sink.write(frame(message.encode()))

    async def close(self) -> None:
        if self.sink is not None:
            self.sink.close()  # nothing after the close frame, not even a broadcast
        await super().close()

    @property
    def response(self) -> WebSocketResponse:
        return self._sock

    def accepted(self, data: Any) -> str | bytes | None:
        """A message's data if it may go on to python-engineio; None ends the connection: a close,
        an error, or a text frame that is no Engine.IO packet (counted)."""
        if isinstance(data, str):
            if is_engineio_frame(data):
                return data
            self.server.count_malformed()
            return None
        return data if isinstance(data, bytes) else None

    async def wait(self) -> Any:
        data = self.accepted((await self._sock.receive()).data)
        if data is None:
            raise OSError("connection closed, or not an Engine.IO packet")  # ends the read loop cleanly
        return data


class GuardedEngineIO(engineio.AsyncServer):  # type: ignore[misc]
    """python-engineio's server with the checks above, and one ping wheel for all its sockets."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The driver module's own dict, shared by every server: copied, not changed.
        self._async: dict[str, Any] = {**vars(self)["_async"], "websocket": _CheckedWebSocket}
        self.count_malformed: Callable[[], None] = lambda: None
        # WebSocket sessions closed by the Socket.IO guard; an entry lives as long as its read loop.
        self.cut: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary()
        # The fast path's writers, by Engine.IO sid: WebSocket sockets without compression.
        self.sinks: dict[str, FrameSink] = {}
        self.corker = Corker(0.0)  # the Socket.IO server sets its window from the config
        self.output_budget = OutputBudget(max_bytes=1 << 30, max_age=3600.0, on_cut=lambda sink, size, age: None)
        self.pings = PingWheel(self)

    def start_background_task(self, target: Any, *args: Any, **kwargs: Any) -> Any:
        # python-engineio's `schedule_ping` starts a task per socket that sleeps `ping_interval`
        # and sends a PING: the wheel does it for every socket with shared timers instead.
        if getattr(target, "__func__", None) is async_socket.AsyncSocket._send_ping:
            self.pings.schedule(target.__self__)
            return None
        return super().start_background_task(target, *args, **kwargs)

    async def shutdown(self) -> None:
        self.pings.stop()
        await super().shutdown()

    def hang_up_all(self) -> None:
        """At shutdown, after the sockets were closed: end every WebSocket connection still open
        (what was written still goes out first), so no handler waits for a client's close frame."""
        for sink in list(self.sinks.values()):
            sink.hang_up()

    async def _trigger_event(self, event: str, *args: Any, **kwargs: Any) -> Any:
        # Stock python-engineio goes on reading a WebSocket after its session closed, handing every
        # message to Socket.IO until the client hangs up; a flooder never does.
        if event == "message" and args[0] not in self.sockets:
            if args[0] in self.cut:
                raise SocketIsClosedError()  # ends the read loop, which closes the WebSocket
            return None  # the rest of a long-polling POST whose session is gone
        return await super()._trigger_event(event, *args, **kwargs)
