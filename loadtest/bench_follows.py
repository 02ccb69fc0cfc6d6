"""Follow benchmark: follows and unfollows per second through the real server, their request
latency, and the `user.followed` / `user.unfollowed` pushes the followed users' sockets receive.

    .venv/bin/python loadtest/bench_follows.py [--fans 200] [--stars 10] [--concurrency 32] [--url URL]

Starts its own `flylive serve` (throw-away data folder, social rate limit lifted) unless --url is
given. Registers --fans fans and --stars stars; each star holds a socket that counts its pushes.
Then every fan follows every star (`POST /api/v1/users/{id}/follow`, --concurrency in flight at
once, in random order: many fans follow one star at the same moment, which is the hot case — each
follow takes the pair's lock and changes the star's counts in one transaction), and afterwards
unfollows every star the same way. For each phase it prints requests per second, request latency
p50/p99, how many pushes arrived and how long after the request was sent, and whether each star's
`followers_count` is exact (fans after the follows, 0 after the unfollows). Prints its figures;
asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_rooms import (
    Account,
    Client,
    CpuMeter,
    OwnServer,
    Registrar,
    close_all,
    connect_all,
    describe_ms,
    gather_limited,
)

PUSH_WAIT_S = 10.0


class Star:
    """A followed user's socket: when each push about each fan arrived."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.heard: dict[str, dict[int, float]] = defaultdict(dict)
        client.sio.on("user.followed", self._followed)
        client.sio.on("user.unfollowed", self._unfollowed)

    async def _followed(self, data: Any) -> None:
        self.heard["user.followed"][int(data["follower"]["id"])] = time.perf_counter()

    async def _unfollowed(self, data: Any) -> None:
        self.heard["user.unfollowed"][int(data["follower_id"])] = time.perf_counter()


async def run_phase(http: aiohttp.ClientSession, url: str, method: str, fans: list[Account], stars: list[Star],
                    concurrency: int) -> None:  # fmt: skip
    event = "user.followed" if method == "POST" else "user.unfollowed"
    pairs = [(fan, star) for fan in fans for star in stars]
    random.shuffle(pairs)
    sent: dict[tuple[int, int], float] = {}
    latencies: list[float] = []
    failures: dict[int, int] = defaultdict(int)

    def request(fan: Account, star: Star) -> Any:
        async def go() -> None:
            target = star.client.account.user_id
            started = time.perf_counter()
            sent[(target, fan.user_id)] = started
            headers = {"Authorization": f"Bearer {fan.token}"}
            async with http.request(method, f"{url}/api/v1/users/{target}/follow", headers=headers) as resp:
                await resp.read()
                if resp.status != 200:
                    failures[resp.status] += 1
            latencies.append((time.perf_counter() - started) * 1000)

        return go

    started = time.perf_counter()
    await gather_limited([request(fan, star) for fan, star in pairs], concurrency)
    wall = time.perf_counter() - started
    deadline = time.monotonic() + PUSH_WAIT_S
    while time.monotonic() < deadline and sum(len(s.heard[event]) for s in stars) < len(pairs):  # noqa: ASYNC110
        await asyncio.sleep(0.05)  # polling a count the socket handlers raise: nothing to wait on
    push_ms = [
        (at - sent[(star.client.account.user_id, fan_id)]) * 1000
        for star in stars
        for fan_id, at in star.heard[event].items()
    ]
    label = "follow" if method == "POST" else "unfollow"
    print(f"{label:8s}: {len(pairs)} requests in {wall:.2f} s = {len(pairs) / wall:,.0f}/s"
          + (f", failures by status {dict(failures)}" if failures else ""))  # fmt: skip
    print(f"          request {describe_ms(latencies)}")
    print(f"          {event} pushes {len(push_ms)}/{len(pairs)}; request sent -> push {describe_ms(push_ms)}")
    expected = len(fans) if method == "POST" else 0
    counts = []
    for star in stars:
        headers = {"Authorization": f"Bearer {fans[0].token}"}
        async with http.get(f"{url}/api/v1/users/{star.client.account.user_id}", headers=headers) as resp:
            counts.append((await resp.json())["data"]["followers_count"])
    exact = sum(1 for c in counts if c == expected)
    seen = sorted(set(counts))
    print(f"          followers_count exact for {exact}/{len(stars)} stars (expected {expected}, saw {seen})")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fans", type=int, default=200)
    parser.add_argument("--stars", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--url", help="a running server (its SOCIAL_RATE_LIMIT must allow the load)")
    args = parser.parse_args()

    server = None if args.url else OwnServer(env={"SOCIAL_RATE_LIMIT": "1000000/1"})
    url = args.url or server.url  # type: ignore[union-attr]
    stars: list[Star] = []
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=args.concurrency * 2)) as http:
            if server is not None:
                server.start()
                await server.wait_ready(http)
            registrar = Registrar(http, url)
            fans = await registrar.register_many(args.fans)
            star_accounts = await registrar.register_many(args.stars)
            stars = [Star(c) for c in await connect_all(url, star_accounts)]
            print(f"{len(fans)} fans, {len(stars)} stars connected; {args.concurrency} requests in flight")
            meter = CpuMeter(server.proc.pid if server and server.proc else None)
            await run_phase(http, url, "POST", fans, stars, args.concurrency)
            await run_phase(http, url, "DELETE", fans, stars, args.concurrency)
            print(meter.line())
    finally:
        await close_all([s.client for s in stars])
        if server is not None:
            server.stop()
            for line in server.problems():
                print(line)


if __name__ == "__main__":
    asyncio.run(main())
