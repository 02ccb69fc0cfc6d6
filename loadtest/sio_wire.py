"""A lean Socket.IO client for benchmarks: Engine.IO v4 / Socket.IO v5 text packets over a WebSocket
spoken by hand on an asyncio.Protocol, so that one process holds thousands of sockets and the load
client is not what a benchmark measures.

What it speaks: the HTTP upgrade (`/socket.io/?EIO=4&transport=websocket`, no Origin, no
permessage-deflate), the Engine.IO open packet (answered with `40` + the auth object), pings
(`2`, answered `3`), events `42[...]` (handed raw to a callback, so a counting listener never decodes
JSON), acks `43<id>[...]`, `44` connect errors and `41` disconnects. Not spoken: binary
attachments, namespaces other than `/`, long-polling.

Frames to the server carry the all-zero masking key: RFC 6455 wants an unpredictable key (to defeat
cache poisoning by proxies, of which there are none on loopback), servers cannot tell, and XOR with
zeros leaves the payload as it is, which spares the client a pass over every byte.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import time
from collections.abc import Callable
from typing import Any

import msgspec

EventSink = Callable[[bytes], None]  # gets b'42["name",...]' (or b'42<id>[...]' for a server call)
_encode = msgspec.json.encode
_decode = msgspec.json.decode
_ZERO_MASK = b"\0\0\0\0"
OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


class SocketClosed(ConnectionError):
    pass


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


def ws_frame(payload: bytes, opcode: int = OP_TEXT) -> bytes:
    """One final, client-to-server (masked, with the zero key) frame."""
    size = len(payload)
    if size < 126:
        header = bytes((0x80 | opcode, 0x80 | size))
    elif size < 65536:
        header = bytes((0x80 | opcode, 0xFE)) + size.to_bytes(2, "big")
    else:
        header = bytes((0x80 | opcode, 0xFF)) + size.to_bytes(8, "big")
    return header + _ZERO_MASK + payload


class SioSocket(asyncio.Protocol):
    """One Socket.IO connection on the default namespace. Create it with `connect()`."""

    def __init__(self, host: str, port: int, auth: dict[str, Any] | None, on_event: EventSink | None) -> None:
        loop = asyncio.get_running_loop()
        self.on_event = on_event
        self.connected: asyncio.Future[None] = loop.create_future()
        self.connected.add_done_callback(_retrieve)  # a refusal nobody waits for any more is no error
        self.closed = False
        self.closing = False  # we asked for it: not an unexpected disconnect
        self.close_reason = ""
        self._auth = _encode(auth) if auth is not None else b""
        self._transport: asyncio.Transport | None = None
        self._pending = b""  # the start of a frame that has not fully arrived
        self._fragments: list[bytes] | None = None
        self._upgraded = False
        self._acks: dict[int, asyncio.Future[Any]] = {}
        self._next_id = 0
        # Engine.IO pings seen (each answered with a pong while the socket is open), for hold tests:
        # the monotonic time of the last one (or of the open packet) and the longest gap since
        # `ping_gap_max` was last reset.
        self.pings = 0
        self.pongs = 0
        self.last_ping = 0.0
        self.ping_gap_max = 0.0
        key = base64.b64encode(os.urandom(16)).decode()
        self._request = (
            f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()

    # -- asyncio.Protocol ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's is not an asyncio.Transport subclass
        self._transport.write(self._request)

    def data_received(self, data: bytes) -> None:
        if self._pending:
            data = self._pending + data
        if not self._upgraded:
            end = data.find(b"\r\n\r\n")
            if end < 0:
                self._pending = data
                return
            if not data.startswith(b"HTTP/1.1 101"):
                self._fail(data[: data.find(b"\r\n")].decode(errors="replace"))
                return
            self._upgraded = True
            data = data[end + 4 :]
        self._pending = self._frames(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(self.close_reason or (f"connection lost: {exc}" if exc else "connection closed"))

    # -- frames and packets ----------------------------------------------------------------------

    def _frames(self, data: bytes) -> bytes:
        """Handle every whole frame in `data`; return the incomplete rest."""
        pos, size = 0, len(data)
        while size - pos >= 2:
            first, length = data[pos], data[pos + 1] & 0x7F
            start = pos + 2
            if length == 126:
                if size - pos < 4:
                    break
                length, start = int.from_bytes(data[pos + 2 : pos + 4], "big"), pos + 4
            elif length == 127:
                if size - pos < 10:
                    break
                length, start = int.from_bytes(data[pos + 2 : pos + 10], "big"), pos + 10
            end = start + length
            if end > size:
                break
            self._frame(first, data[start:end])
            pos = end
        return data[pos:]

    def _frame(self, first: int, payload: bytes) -> None:
        opcode, final = first & 0x0F, first & 0x80
        if opcode in (OP_TEXT, OP_BINARY, OP_CONTINUATION):
            if not final or self._fragments is not None:  # a fragmented message (servers here never send one)
                self._fragments = [*(self._fragments or []), payload]
                if not final:
                    return
                payload, self._fragments = b"".join(self._fragments), None
            if opcode != OP_BINARY:
                self._packet(payload)
        elif opcode == OP_PING:
            self._write(ws_frame(payload, OP_PONG))
        elif opcode == OP_CLOSE:
            self.close_reason = self.close_reason or f"closed by the server ({payload[2:].decode(errors='replace')})"
            self.close()

    def _packet(self, packet: bytes) -> None:
        kind = packet[:1]
        if kind == b"4":  # an Engine.IO message carrying a Socket.IO packet
            sio = packet[1:2]
            if sio == b"2":
                if self.on_event is not None:
                    self.on_event(packet)
            elif sio == b"3":
                bracket = packet.find(b"[")
                future = self._acks.pop(int(packet[2:bracket]), None)
                if future is not None and not future.done():
                    args = _decode(packet[bracket:])
                    future.set_result(args[0] if len(args) == 1 else args)
            elif sio == b"0":
                if not self.connected.done():
                    self.connected.set_result(None)
            elif sio == b"4":
                self._fail(f"connect_error {packet[2:].decode(errors='replace')}")
            elif sio == b"1":
                self.close_reason = "disconnected by the server"
                self.close()
        elif kind == b"2":
            now = time.monotonic()
            self.ping_gap_max = max(self.ping_gap_max, now - self.last_ping)
            self.last_ping = now
            self.pings += 1
            if self._write(ws_frame(b"3")):
                self.pongs += 1
        elif kind == b"0":
            self.last_ping = time.monotonic()  # the server's ping interval runs from the open packet
            self._write(ws_frame(b"40" + self._auth))
        elif kind == b"1":
            self.close_reason = "engine.io close"
            self.close()

    def _write(self, frame: bytes) -> bool:
        if self._transport is not None and not self.closed:
            self._transport.write(frame)
            return True
        return False

    def _fail(self, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        self.close_reason = self.close_reason or reason
        error = SocketClosed(self.close_reason)
        if not self.connected.done():
            self.connected.set_exception(error)
        for future in self._acks.values():
            if not future.done():
                future.set_exception(error)
        self._acks.clear()
        if self._transport is not None:
            self._transport.close()

    # -- the API ---------------------------------------------------------------------------------

    def emit(self, event: str, data: Any) -> None:
        self._write(ws_frame(b"42" + _encode([event, data])))

    def call(self, event: str, data: Any) -> asyncio.Future[Any]:
        """Send an event with an ack id; the future gets the ack's argument (or a list of them)."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self.closed:
            future.set_exception(SocketClosed(self.close_reason))
            return future
        self._next_id += 1
        self._acks[self._next_id] = future
        self._write(ws_frame(b"42" + str(self._next_id).encode() + _encode([event, data])))
        return future

    def stop_reading(self) -> None:
        """Read nothing more from the socket (a stuck client): the server's output to it backs up."""
        if self._transport is not None:
            self._transport.pause_reading()

    def close(self) -> None:
        """A WebSocket close frame, then the TCP close: the server sees a transport close."""
        if not self.closed:
            self.closing = self.closing or not self.close_reason
            self._write(ws_frame(b"\x03\xe8", OP_CLOSE))
            self._fail(self.close_reason or "closed by the client")


async def connect(
    host: str,
    port: int,
    auth: dict[str, Any] | None = None,
    on_event: EventSink | None = None,
    limit_s: float = 30,
    rcvbuf: int | None = None,
) -> SioSocket:
    """Open a socket and wait for the Socket.IO connect (`40`); raise SocketClosed when refused.

    `rcvbuf` sets the TCP receive buffer before connecting (a small one makes a client that stops
    reading, `stop_reading()`, back the server up after a few KiB instead of megabytes)."""
    loop = asyncio.get_running_loop()
    if rcvbuf is None:
        opening = loop.create_connection(lambda: SioSocket(host, port, auth, on_event), host, port)
    else:
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        raw.setblocking(False)
        try:
            await asyncio.wait_for(loop.sock_connect(raw, (host, port)), limit_s)
        except BaseException:
            raw.close()
            raise
        opening = loop.create_connection(lambda: SioSocket(host, port, auth, on_event), sock=raw)
    _, sock = await asyncio.wait_for(opening, limit_s)
    try:
        await asyncio.wait_for(asyncio.shield(sock.connected), limit_s)
    except BaseException:
        sock.close()
        raise
    return sock


def event_name(packet: bytes) -> str:
    """The event name of a b'42[...]' packet, without decoding its data."""
    start = packet.find(b'["') + 2
    return packet[start : packet.find(b'"', start)].decode()


def event_data(packet: bytes) -> Any:
    """The first argument of a b'42[...]' packet."""
    args = _decode(packet[packet.find(b"[") :])
    return args[1] if len(args) > 1 else None
