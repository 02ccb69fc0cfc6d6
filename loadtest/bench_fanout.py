"""Room fan-out at saturation: deliveries per second and server CPU per delivery.

    .venv/bin/python loadtest/bench_fanout.py [--listeners 1000] [--senders 10] [--window 4] [--seconds 10]
    .venv/bin/python loadtest/bench_fanout.py --engine-dir /tmp/old-checkout   # the same, another engine

Starts its own `flylive serve` (bench_rooms.OwnServer: embedded PostgreSQL and Valkey, rate limits
raised), registers --accounts users, and opens --listeners raw WebSocket connections (asyncio
protocols speaking Engine.IO v4 / Socket.IO v5 text frames; the listeners share the accounts
round-robin) that all join the first account's room. --senders more sockets join it and send
`chat:message` in a closed loop, --window messages in flight each. After a second of warm-up it
counts, for --seconds, the `chat:message` frames the listeners receive (a byte count of the event's
prefix in what arrives, so the client stays cheap) and the server process's CPU (utime+stime from
/proc/<pid>/stat, the flylive process alone). With `taskset` present the server is pinned to CPU 0
and this client to CPU 1. Prints one line of figures; asserts nothing.

`--engine-dir` runs the server from another checkout of the engine (e.g. `git worktree add` of an
older commit) with this checkout's virtualenv, for before/after comparisons.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, cast

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_rooms import SERVER_ENV, OwnServer, Registrar, _die_with_parent, cpu_seconds

MARKER = b'42["chat:message"'
ZERO_MASK = b"\x00\x00\x00\x00"  # client frames must be masked; a zero key leaves the payload as is
BENCH_ENV = {
    # No ping during a run: the listeners do not answer them once they only count.
    "SOCKET_PING_INTERVAL": "300",
    "SOCKET_PING_TIMEOUT": "300",
    "CHAT_HISTORY": "0",
}


def client_frame(text: str) -> bytes:
    payload = text.encode()
    size = len(payload)
    if size < 126:
        header = bytes((0x81, 0x80 | size))
    elif size < 65536:
        header = bytes((0x81, 0x80 | 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((0x81, 0x80 | 127)) + size.to_bytes(8, "big")
    return header + ZERO_MASK + payload


def split_frames(buffer: bytearray) -> list[str]:
    """Take the complete server frames off the front of `buffer` (text payloads; others as "")."""
    out = []
    while len(buffer) >= 2:
        size, offset = buffer[1] & 0x7F, 2
        if size == 126:
            if len(buffer) < 4:
                break
            size, offset = int.from_bytes(buffer[2:4], "big"), 4
        elif size == 127:
            if len(buffer) < 10:
                break
            size, offset = int.from_bytes(buffer[2:10], "big"), 10
        if len(buffer) < offset + size:
            break
        opcode = buffer[0] & 0x0F
        out.append(buffer[offset : offset + size].decode() if opcode == 1 else "")
        del buffer[: offset + size]
    return out


class Peer(asyncio.Protocol):
    """One raw socket: handshake, Socket.IO connect, `room:join`; then a listener only counts the
    chat frames that arrive and a sender keeps `window` chat messages in flight."""

    def __init__(self, token: str, room_id: int, port: int, window: int = 0) -> None:
        self.token, self.room_id, self.port, self.window = token, room_id, port, window
        self.transport: asyncio.Transport | None = None
        self.joined: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.buffer = bytearray()
        self.upgraded = False
        self.counting = False
        self.tail = b""
        self.count = 0
        self.acks = 0
        self.next_id = 10
        self.sending = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not an asyncio.Transport subclass
        transport = self.transport
        transport.write(
            f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.joined.done():
            self.joined.set_exception(ConnectionError("closed before joining"))

    def send(self, text: str) -> None:
        assert self.transport is not None
        self.transport.write(client_frame(text))

    def data_received(self, data: bytes) -> None:
        if self.counting:  # the hot loop of the client: one C-level count per read
            chunk = self.tail + data
            self.count += chunk.count(MARKER)
            self.tail = chunk[-(len(MARKER) - 1) :]
            return
        self.buffer += data
        if not self.upgraded:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if not self.buffer.startswith(b"HTTP/1.1 101"):
                raise ConnectionError(self.buffer[:end].decode(errors="replace"))
            del self.buffer[: end + 4]
            self.upgraded = True
        for text in split_frames(self.buffer):
            self.on_text(text)

    def on_text(self, text: str) -> None:
        if text.startswith("0{"):
            self.send("40" + json.dumps({"token": self.token}))
        elif text.startswith("40{"):
            self.send("421" + json.dumps(["room:join", {"roomId": self.room_id}]))
        elif text.startswith("431["):
            ack = json.loads(text[3:])[0]
            if not (isinstance(ack, dict) and ack.get("success")):
                self.joined.set_exception(RuntimeError(f"room:join refused: {ack}"))
                return
            self.joined.set_result(None)
            if not self.window:
                self.counting = True  # a listener: count from here on (what is still buffered counts)
                rest, self.buffer = bytes(self.buffer), bytearray()
                self.count += rest.count(MARKER)
                self.tail = rest[-(len(MARKER) - 1) :]
        elif text == "2":
            self.send("3")
        elif text.startswith("43") and self.sending:
            self.acks += 1
            self.send_chat()

    def start_sending(self) -> None:
        self.sending = True
        for _ in range(self.window):
            self.send_chat()

    def send_chat(self) -> None:
        self.next_id += 1
        body = {"roomId": self.room_id, "content": f"bench fan-out {self.next_id} {time.monotonic():.6f}"}
        self.send(f"42{self.next_id}" + json.dumps(["chat:message", body]))


class ServerFrom(OwnServer):
    """OwnServer, optionally running the engine of another checkout with this virtualenv."""

    def __init__(self, engine_dir: Path | None) -> None:
        super().__init__(env=BENCH_ENV)
        self.engine_dir = engine_dir

    def start(self) -> None:
        if self.engine_dir is None:
            super().start()
            return
        env = {**os.environ, **SERVER_ENV, **self.env, "PYTHONPATH": str(self.engine_dir),
               "FLYLIVE_DATA_DIR": str(self.data_dir), "FLYLIVE_PORT": str(self.port)}  # fmt: skip
        code = "import sys; from engine.cli import main; sys.exit(main())"
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", code, "serve", "--no-seed", "--port", str(self.port)],
                cwd=self.engine_dir, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=_die_with_parent,
            )  # fmt: skip


def pin(server_pid: int) -> str:
    if shutil.which("taskset") is None or (os.cpu_count() or 1) < 2:
        return "not pinned"
    subprocess.run(["taskset", "-a", "-p", "-c", "0", str(server_pid)], check=True, capture_output=True)
    os.sched_setaffinity(0, {1})
    return "server on CPU 0, client on CPU 1"


def profile(pid: int, seconds: float, path: str) -> subprocess.Popen[bytes]:
    """py-spy (pip install py-spy) on the server for the measured window, collapsed stacks to `path`."""
    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    command = [exe, "record", "-p", str(pid), "-d", str(int(seconds)), "-f", "raw", "-o", path, "--nonblocking"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def open_peers(port: int, tokens: list[str], room_id: int, window: int = 0) -> list[Peer]:
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(50)

    async def one(token: str) -> Peer:
        async with gate:
            _t, peer = await loop.create_connection(lambda: Peer(token, room_id, port, window), "127.0.0.1", port)
            await asyncio.wait_for(peer.joined, 60)
            return peer

    return list(await asyncio.gather(*(one(token) for token in tokens)))


async def run(args: argparse.Namespace, engine_dir: Path | None) -> None:
    server = ServerFrom(engine_dir)
    server.start()
    assert server.proc is not None
    peers: list[Peer] = []
    try:
        async with aiohttp.ClientSession() as http:
            await server.wait_ready(http)
            accounts = await Registrar(http, server.url).register_many(args.accounts)
        pinned = pin(server.proc.pid)
        room_id = accounts[0].room_id
        tokens = [accounts[i % len(accounts)].token for i in range(args.listeners)]
        listeners = await open_peers(server.port, tokens, room_id)
        senders = await open_peers(server.port, [a.token for a in accounts[: args.senders]], room_id, args.window)
        peers = listeners + senders
        for sender in senders:
            sender.start_sending()
        await asyncio.sleep(1.0)  # warm-up
        count0, cpu0, t0 = sum(p.count for p in listeners), cpu_seconds([server.proc.pid]), time.monotonic()
        client0 = time.process_time()
        acks0 = sum(s.acks for s in senders)
        spy = profile(server.proc.pid, args.seconds, args.profile) if args.profile else None
        await asyncio.sleep(args.seconds)
        deliveries = sum(p.count for p in listeners) - count0
        cpu = cpu_seconds([server.proc.pid]) - cpu0
        wall = time.monotonic() - t0
        messages = sum(s.acks for s in senders) - acks0
        client = time.process_time() - client0
        if spy is not None:
            spy.wait(30)
        print(
            f"fan-out: {args.listeners} listeners, {args.senders} senders x {args.window} in flight, {wall:.1f} s "
            f"({pinned}): {messages / wall:,.0f} messages/s, {deliveries / wall:,.0f} deliveries/s, "
            f"server CPU {cpu:.2f} s = {cpu / wall * 100:.0f} % of a core, "
            f"{cpu / max(deliveries, 1) * 1e6:.1f} µs per delivery; client CPU {client / wall * 100:.0f} % of a core",
            flush=True,
        )
    finally:
        for peer in peers:
            if peer.transport is not None:
                peer.transport.close()
        server.stop()
        problems = server.problems()
        if problems:
            print("server warnings/errors:\n" + "\n".join(problems[:10]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listeners", type=int, default=1000)
    parser.add_argument("--senders", type=int, default=10)
    parser.add_argument("--window", type=int, default=4, help="chat messages in flight per sender")
    parser.add_argument("--accounts", type=int, default=50, help="users registered (listeners share them)")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--profile", help="write py-spy's collapsed stacks of the server to this file")
    parser.add_argument("--engine-dir", help="run the server from this checkout of the engine")
    args = parser.parse_args(argv)
    args.accounts = max(args.accounts, args.senders, 1)
    try:
        import uvloop  # the client must not be the bottleneck

        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    with contextlib.suppress(KeyboardInterrupt):
        runner(run(args, Path(args.engine_dir).resolve() if args.engine_dir else None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
