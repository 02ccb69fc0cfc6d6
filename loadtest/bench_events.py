"""Event benchmark: server CPU per `chat:message` and per `gift:send`, with their acks.

    .venv/bin/python loadtest/bench_events.py [--messages 5000] [--gifts 2000] [--in-flight 50]

Starts its own `flylive serve` (demo catalog and admin, embedded PostgreSQL and Valkey) unless
--url is given with --pid. Server CPU is the engine process's own utime+stime from
/proc/<pid>/stat (not its embedded PostgreSQL and Valkey children), read before and after each
phase, divided by the acks that came back `success: true`.

chat: one sender alone in its room keeps --in-flight `chat:message` calls in flight until
--messages were acked (the room holds only the sender, so each message is one delivery: its echo).

gift: one seated recipient (the room's owner), --listeners listeners and one sender keeping
--in-flight `gift:send` calls in flight until --gifts were acked; the deliveries every listener
received are counted, so the CPU of the fan-out can be told from the CPU of the gift.

Prints its figures; asserts nothing. Profile the hot frames while it runs with
`py-spy top --pid <the printed pid>`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_gifts import GIFT_ID, GIFT_PRICE, admin_token, grant
from bench_rooms import Client, OwnServer, Registrar, ack_outcome, close_all, code_version, connect_all, cpu_seconds
from bench_rooms import run_benchmark as run_on_uvloop


async def in_flight(count: int, width: int, call: Callable[[int], Awaitable[Any]]) -> tuple[Counter[str], float]:
    """Run `call(n)` for n < count with `width` calls in flight; (ack outcomes, wall seconds)."""
    outcomes: Counter[str] = Counter()
    numbers = iter(range(count))

    async def lane() -> None:
        for n in numbers:
            outcomes[ack_outcome(await call(n))] += 1

    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(width)))
    return outcomes, time.perf_counter() - started


def report(name: str, outcomes: Counter[str], wall: float, cpu: float, extra: str = "") -> str:
    ok = outcomes.get("ok", 0)
    per = cpu / ok * 1e6 if ok else float("nan")
    return (f"{name}: {ok} ok in {wall:.2f} s ({ok / wall:.0f}/s), server CPU {cpu:.2f} s = {per:.0f} µs per event"
            f"{extra}; acks {dict(outcomes)}")  # fmt: skip


async def chat_phase(url: str, account: Any, messages: int, width: int, pid: int) -> str:
    (sender,) = await connect_all(url, [account])
    try:
        room = account.room_id
        await sender.call("room:join", {"roomId": room})
        await in_flight(200, width, lambda n: sender.sio.call("chat:message", {"roomId": room, "content": "warm"}))
        before = cpu_seconds([pid])
        outcomes, wall = await in_flight(
            messages, width, lambda n: sender.sio.call("chat:message", {"roomId": room, "content": f"m{n}"}, timeout=60)
        )
        return report("chat:message", outcomes, wall, cpu_seconds([pid]) - before, " (1 delivery each: the echo)")
    finally:
        await close_all([sender])


async def gift_phase(url: str, http: aiohttp.ClientSession, accounts: list[Any], gifts: int, width: int,
                     pid: int) -> str:  # fmt: skip
    host, sender_account, *_listeners = accounts
    token = await admin_token(http, url)
    await grant(http, url, token, sender_account.user_id, (gifts + 200) * GIFT_PRICE)
    clients = await connect_all(url, accounts)
    deliveries = Counter[str]()
    for client in clients:
        for event in ("gift:received", "gift:combo"):
            client.sio.on(event, lambda data=None, event=event: deliveries.update([event]))
    try:
        recipient, sender, *_listeners = clients
        room = host.room_id
        for client in clients:
            await client.call("room:join", {"roomId": room})
        await recipient.call("seat:take", {"roomId": room, "seatIndex": 0})

        def send(n: int) -> Awaitable[Any]:
            payload = {"roomId": room, "giftId": GIFT_ID, "recipientId": host.user_id,
                       "idempotencyKey": uuid.uuid4().hex}  # fmt: skip
            return sender.sio.call("gift:send", payload, timeout=60)

        await in_flight(200, width, send)
        await asyncio.sleep(1)
        deliveries.clear()
        before = cpu_seconds([pid])
        outcomes, wall = await in_flight(gifts, width, send)
        cpu = cpu_seconds([pid]) - before
        await asyncio.sleep(1)  # the last broadcasts
        ok = max(outcomes.get("ok", 0), 1)
        per_gift = sum(deliveries.values()) / ok
        return report("gift:send", outcomes, wall, cpu, f" ({per_gift:.1f} deliveries each: {dict(deliveries)})")
    finally:
        await close_all(clients)


async def run(args: argparse.Namespace) -> int:
    server = None if args.url else OwnServer(seed=True)
    lines = []
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
            if server is not None:
                server.start()
                await server.wait_ready(http)
                assert server.proc is not None
                pid = server.proc.pid
            else:
                pid = args.pid
            url = args.url or (server.url if server else "")
            print(f"server {url}, engine pid {pid} (py-spy top --pid {pid})", flush=True)
            registrar = Registrar(http, url)
            accounts = await registrar.register_many(3 + args.listeners)
            lines.append(await chat_phase(url, accounts[0], args.messages, args.in_flight, pid))
            print(lines[-1], flush=True)
            lines.append(await gift_phase(url, http, accounts[1:], args.gifts, args.in_flight, pid))
            print(lines[-1], flush=True)
    finally:
        problems = server.problems() if server else []
        if server is not None:
            server.stop()
    print("=" * 100)
    print(f"FlyLive event benchmark {time.strftime('%Y-%m-%d %H:%M:%S')} code {code_version()}, "
          f"{args.in_flight} in flight")  # fmt: skip
    print("\n".join(lines))
    print("server log warnings/errors:", "none" if not problems else "\n" + "\n".join(problems[:12]))
    print(f"unexpected client disconnects: {dict(Client.unexpected) or 'none'}")
    print("=" * 100)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", help="a running server on 127.0.0.1 (with --pid); default: start one")
    parser.add_argument("--pid", type=int, help="the engine process of --url, whose CPU is measured")
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--gifts", type=int, default=2000)
    parser.add_argument("--listeners", type=int, default=3, help="listeners in the gift room (default 3)")
    parser.add_argument("--in-flight", type=int, default=50)
    args = parser.parse_args(argv)
    if args.url and (not args.url.startswith(("http://127.0.0.1", "http://localhost")) or not args.pid):
        parser.error("--url must be on this machine and comes with --pid")
    return run_on_uvloop(run, args)


if __name__ == "__main__":
    sys.exit(main())
