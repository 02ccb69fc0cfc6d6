"""Flood benchmark: what one socket flooding events costs the server and a bystander.

    .venv/bin/python loadtest/bench_flood.py [--seconds 10] [--reconnect]

Starts its own `flylive serve` with the production socket budget (SOCKET_EVENT_RATE_LIMIT and
SOCKET_FLOOD_REFUSALS at their defaults; the other limits raised as in bench_rooms), then:
a bystander (another user) calls `auth:whoami` in a closed loop, first for --quiet seconds alone,
then for --seconds while a flooder sends `auth:whoami` over a raw WebSocket as fast as its socket
takes them, never waiting for an ack. With --reconnect the flooder opens a new socket each time the
server closes one (an attacker would). Prints events sent, acks by outcome, sockets the server
closed, server CPU, and the bystander's latency alone and under the flood. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections import Counter
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_rooms import Client, CpuMeter, OwnServer, Registrar, close_all, connect_all, describe_ms

# Empty values leave the engine's defaults in place (the production socket budget).
PRODUCTION_BUDGET = {"SOCKET_EVENT_RATE_LIMIT": "", "SOCKET_FLOOD_REFUSALS": ""}


async def bystander(client: Client, until: float) -> list[float]:
    latencies = []
    while time.monotonic() < until:
        ms, _ack = await client.call("auth:whoami", {})
        latencies.append(ms)
        await asyncio.sleep(0.1)  # 10 events/s: well within its own budget
    return latencies


async def flood_one(http: aiohttp.ClientSession, url: str, token: str, until: float, tally: Counter[str]) -> None:
    """One socket: send until the deadline or until the server closes it; count what comes back."""
    async with http.ws_connect(f"{url}/socket.io/?EIO=4&transport=websocket") as ws:
        await ws.receive_str()  # Engine.IO OPEN
        await ws.send_str("40" + json.dumps({"token": token}))
        await ws.receive_str()  # Socket.IO CONNECT

        async def read() -> None:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                if msg.data == "2":
                    await ws.send_str("3")
                elif msg.data.startswith("43"):
                    tally["ack ok" if '"success":true' in msg.data else "ack refused"] += 1
            if time.monotonic() < until:
                tally["closed by the server"] += 1

        reader = asyncio.create_task(read())
        n = 0
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            while time.monotonic() < until and not reader.done():
                n += 1
                await ws.send_str(f'42{n}["auth:whoami"]')
                tally["sent"] += 1
                if n % 64 == 0:
                    await asyncio.sleep(0)  # let the reader count
        if not reader.done():
            await ws.close()
        await reader


async def run(args: argparse.Namespace) -> int:
    server = OwnServer(env=PRODUCTION_BUDGET)
    server.start()
    try:
        async with aiohttp.ClientSession() as http:
            await server.wait_ready(http)
            quiet, flooder = await Registrar(http, server.url).register_many(2)
            (watcher,) = await connect_all(server.url, [quiet])
            try:
                alone = await bystander(watcher, time.monotonic() + args.quiet)
                tally: Counter[str] = Counter()
                cpu = CpuMeter(server.proc.pid if server.proc else None)
                until = time.monotonic() + args.seconds

                async def flood() -> None:
                    while time.monotonic() < until:
                        await flood_one(http, server.url, flooder.token, until, tally)
                        if not args.reconnect:
                            break

                flooded, _ = await asyncio.gather(bystander(watcher, until), flood())
                print("=" * 100)
                print(f"flood for {args.seconds:.0f} s{' (reconnecting)' if args.reconnect else ''}: {dict(tally)}")
                print(f"server and clients: {cpu.line()}")
                print(f"bystander auth:whoami alone:        {describe_ms(alone)}")
                print(f"bystander auth:whoami in the flood: {describe_ms(flooded)}")
            finally:
                await close_all([watcher])
    finally:
        problems = server.problems()
        server.stop()
        print("server log warnings/errors:", "none" if not problems else "\n" + "\n".join(problems[:12]))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--quiet", type=float, default=3, help="seconds of the bystander alone first")
    parser.add_argument("--reconnect", action="store_true", help="open a new socket whenever one is closed")
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
