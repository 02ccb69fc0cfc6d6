"""Direct-message benchmark: send throughput through `POST /api/v1/threads/{id}/messages`, and the
latency of the POST and of the `dm.message.received` push to the recipient's socket.

    .venv/bin/python loadtest/bench_dm.py [--pairs 10] [--messages 500] [--in-flight 10]

Starts its own `flylive serve` (bench_rooms.OwnServer: embedded PostgreSQL and Valkey, rate limits
lifted, DM_RATE_LIMIT too) unless --url is given. Registers --pairs pairs of users, opens one thread
per pair (everyone's `messages` setting is the default, so none is a request) and connects each
recipient's socket. Then --in-flight senders post --messages messages in all, spread over the
threads, each with a fresh client_id; a message counts when its push reached the recipient.

Prints messages per second (wall time from the first POST to the last push), and p50/p99 in ms of
the POST (until its answer) and of POST start → push received. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_rooms import Account, Client, OwnServer, Registrar, close_all, code_version, connect_all
from bench_rooms import run_benchmark as run_on_uvloop

DM_ENV = {"DM_RATE_LIMIT": "1000000/1", "DM_THREAD_RATE_LIMIT": "1000000/1"}


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


async def open_threads(http: aiohttp.ClientSession, url: str, pairs: list[tuple[Account, Account]]) -> list[int]:
    ids = []
    for sender, recipient in pairs:
        headers = {"Authorization": f"Bearer {sender.token}"}
        async with http.post(f"{url}/api/v1/threads", json={"peer_id": recipient.user_id}, headers=headers) as resp:
            body = await resp.json(content_type=None)
            if resp.status != 200:
                raise RuntimeError(f"POST /api/v1/threads answered {resp.status}: {body}")
            ids.append(int(body["data"]["id"]))
    return ids


async def send_phase(http: aiohttp.ClientSession, url: str, pairs: list[tuple[Account, Account]], threads: list[int],
                     recipients: list[Client], count: int, width: int) -> str:  # fmt: skip
    started: dict[str, float] = {}
    push_ms: list[float] = []
    post_ms: list[float] = []
    outcomes: Counter[str] = Counter()
    done = asyncio.Event()

    def on_push(data: Any) -> None:
        begun = started.pop(data["message"]["client_id"], None)
        if begun is not None:
            push_ms.append((time.perf_counter() - begun) * 1000)
            if len(push_ms) == count:
                done.set()

    for client in recipients:
        client.sio.on("dm.message.received", on_push)
    numbers = iter(range(count))

    async def lane() -> None:
        for n in numbers:
            index = n % len(pairs)
            client_id = uuid.uuid4().hex
            headers = {"Authorization": f"Bearer {pairs[index][0].token}"}
            begun = started[client_id] = time.perf_counter()
            async with http.post(f"{url}/api/v1/threads/{threads[index]}/messages", headers=headers,
                                 json={"client_id": client_id, "text": f"bench message {n}"}) as resp:  # fmt: skip
                await resp.read()
                outcomes["ok" if resp.status == 200 else f"http {resp.status}"] += 1
                if resp.status != 200:
                    started.pop(client_id, None)
            post_ms.append((time.perf_counter() - begun) * 1000)

    t0 = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(width)))
    if outcomes["ok"] == count:
        with contextlib.suppress(TimeoutError):  # the figures then show what arrived
            await asyncio.wait_for(done.wait(), 30)
    wall = time.perf_counter() - t0
    return (f"dm send: {len(push_ms)}/{count} pushed in {wall:.2f}s = {len(push_ms) / wall:.0f} messages/s; "
            f"POST p50 {percentile(post_ms, 50):.1f} ms p99 {percentile(post_ms, 99):.1f} ms; "
            f"POST+push p50 {percentile(push_ms, 50):.1f} ms p99 {percentile(push_ms, 99):.1f} ms; "
            f"answers {dict(outcomes)}")  # fmt: skip


async def run(args: argparse.Namespace) -> int:
    server = None if args.url else OwnServer(env=DM_ENV)
    line = ""
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
            if server is not None:
                server.start()
                await server.wait_ready(http)
            url = args.url or (server.url if server else "")
            print(f"server {url}", flush=True)
            accounts = await Registrar(http, url).register_many(2 * args.pairs)
            pairs = list(zip(accounts[::2], accounts[1::2], strict=True))
            threads = await open_threads(http, url, pairs)
            recipients = await connect_all(url, [recipient for _, recipient in pairs])
            try:
                line = await send_phase(http, url, pairs, threads, recipients, args.messages, args.in_flight)
            finally:
                await close_all(recipients)
    finally:
        problems = server.problems() if server else []
        if server is not None:
            server.stop()
    print("=" * 100)
    print(f"FlyLive DM benchmark {time.strftime('%Y-%m-%d %H:%M:%S')} code {code_version()}, {args.pairs} pairs, "
          f"{args.in_flight} in flight")  # fmt: skip
    print(line)
    print("server log warnings/errors:", "none" if not problems else "\n" + "\n".join(problems[:12]))
    print(f"unexpected client disconnects: {dict(Client.unexpected) or 'none'}")
    print("=" * 100)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", help="a running server on this machine (its DM_RATE_LIMIT must allow the run)")
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--in-flight", type=int, default=10)
    args = parser.parse_args(argv)
    return run_on_uvloop(run, args)


if __name__ == "__main__":
    sys.exit(main())
