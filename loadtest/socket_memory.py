"""Where an idle socket's memory goes: tracemalloc in the engine's process, grouped by what holds it.

    .venv/bin/python loadtest/socket_memory.py                  # 500 sockets in rooms of 25
    .venv/bin/python loadtest/socket_memory.py --sockets 200 --top 40

Starts the engine as `bench_realtime.py` does (bench_targets.EngineTarget), with tracemalloc on
(PYTHONTRACEMALLOC, 30 frames) and a SIGUSR1 handler that dumps a snapshot (a `sitecustomize`
module in a temporary folder on the server's PYTHONPATH). A snapshot after a warm-up and one after
N sockets connected and joined rooms of 25 (then the server went idle, 2 s more); the difference
per socket, by group (the innermost frame outside asyncio) and by line. tracemalloc's own overhead
makes the process's RSS meaningless here: bench_realtime.py's phase c is the RSS figure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import tempfile
import tracemalloc
from collections import defaultdict
from pathlib import Path

import aiohttp
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_realtime import Sockets, rooms_nobody_joins_yet, settle
from bench_targets import EngineTarget

ROOM_SIZE = 25
SITECUSTOMIZE = """
import os, signal, tracemalloc
def _dump(signum, frame):
    path = os.environ["SOCKET_MEMORY_SNAPSHOT"]
    tracemalloc.take_snapshot().dump(path)
    os.rename(path, path + ".done")
if os.environ.get("SOCKET_MEMORY_SNAPSHOT"):
    signal.signal(signal.SIGUSR1, _dump)
"""
# Groups by the innermost frame outside asyncio ("file:line|" prefixes); the first that matches.
_TASK_LINES = (15, 16, 134, 137, 155, 200, 217, 224, 226)  # engineio/async_socket.py
_CONNECTION = ("web_protocol.py:446|", "web_protocol.py:202|", "web_protocol.py:234|", "web_protocol.py:383|")
_SUSPENDED = ("engineio/async_server.py", "engineio/async_socket.py", "engineio/async_drivers",
              "engineio/base_server.py", "engineio/packet.py", "urllib/")  # fmt: skip
GROUPS = [
    ("python-engineio: asyncio.Queue per socket", ("engineio/async_server.py:432|",)),
    (
        "python-engineio: writer task, reader wait tasks, ping task",
        (*(f"engineio/async_socket.py:{n}|" for n in _TASK_LINES), "engineio/async_server.py:410|"),
    ),
    (
        "aiohttp: the connection (protocol, HTTP request, its task, uvloop's transport)",
        (*(f"aiohttp/{line}" for line in _CONNECTION), "aiohttp/web_server.py", "aiohttp/web.py:502|"),
    ),
    ("aiohttp: the WebSocket response (reader, parser, writer)", ("aiohttp/web_ws.py", "aiohttp/_websocket")),
    ("request handling, suspended for the connection's life (frames, locals)", ("aiohttp/", "httpapi/", *_SUSPENDED)),
    ("python-engineio socket, sink, ping wheel", ("engine/realtime/", "engineio/")),
    ("python-socketio: rooms, sessions, environ", ("socketio/", "bidict/")),
    ("engine: hot cache, rooms", ("engine/",)),
]


def where(frame: tracemalloc.Frame) -> str:
    name = frame.filename
    roots = [
        f"{Path(__file__).resolve().parent.parent}/",
        *(f"{p}/" for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p),
    ]
    for cut in ("site-packages/", *roots, "lib/python3.11/"):
        name = name.split(cut)[-1]
    return f"{name}:{frame.lineno}"


def report(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, sockets: int, top: int) -> None:
    groups: dict[str, int] = defaultdict(int)
    lines: dict[str, int] = defaultdict(int)
    total = 0
    for diff in after.compare_to(before, "traceback"):
        chain = [where(f) for f in reversed(list(diff.traceback))]
        chain = [c for c in chain if not c.startswith(("asyncio/", "_weakrefset", "uvloop"))] or chain
        group = next((name for name, prefixes in GROUPS if (chain[0] + "|").startswith(prefixes)), "other")
        groups[group] += diff.size_diff
        lines[chain[0]] += diff.size_diff
        total += diff.size_diff
    print(f"traced per socket: {total / sockets / 1024:.1f} KiB ({sockets} sockets)\n")
    print("| held by | per socket |\n|---|---|")
    for name, size in sorted(groups.items(), key=lambda kv: -kv[1]):
        print(f"| {name} | {size / sockets / 1024:.1f} KiB |")
    print("\nby innermost line (outside asyncio):")
    for line, size in sorted(lines.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {size / sockets:7.0f} B  {line}")


async def snapshot(target: EngineTarget, path: str) -> tracemalloc.Snapshot:
    done = f"{path}.done"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(done)
    os.kill(target.pid, signal.SIGUSR1)
    for _ in range(600):
        if await asyncio.to_thread(os.path.exists, done):
            return tracemalloc.Snapshot.load(done)
        await asyncio.sleep(0.1)
    raise RuntimeError("the server wrote no snapshot")


async def run(args: argparse.Namespace, snap: str) -> None:
    target = EngineTarget()
    async with aiohttp.ClientSession() as http:
        await target.start(http)
        try:
            await settle(target)
            warm = Sockets(target)  # the server's one-off structures, before the first snapshot
            accounts, room = await target.accounts(10), await rooms_nobody_joins_yet(target, 1)
            await warm.call_all([(s, "room:join", {"roomId": room[0]}) for s in await warm.open(accounts)])
            await warm.close()
            accounts = await target.accounts(args.sockets)
            rooms = await rooms_nobody_joins_yet(target, -(-args.sockets // ROOM_SIZE))
            phase = Sockets(target)
            before = await snapshot(target, snap)
            socks = await phase.open(accounts)
            joins = [(s, "room:join", {"roomId": rooms[i // ROOM_SIZE]}) for i, s in enumerate(socks)]
            print(f"joins: {dict(await phase.call_all(joins))}")
            await settle(target)
            await asyncio.sleep(2)
            report(before, await snapshot(target, snap), len(socks), args.top)
            await phase.close()
        except Exception:
            print(target.log_tail(), file=sys.stderr)
            raise
        finally:
            await target.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=500)
    parser.add_argument("--top", type=int, default=30, help="how many lines to list")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="flylive-socket-memory-") as tmp:
        Path(tmp, "sitecustomize.py").write_text(SITECUSTOMIZE)
        os.environ["SOCKET_MEMORY_SNAPSHOT"] = snap = str(Path(tmp, "snapshot"))
        os.environ["PYTHONTRACEMALLOC"] = "30"  # the server inherits the environment
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [tmp, os.environ.get("PYTHONPATH")]))
        uvloop.run(run(args, snap))


if __name__ == "__main__":
    main()
