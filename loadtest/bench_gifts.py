"""Gift benchmark: gifts per second and gift:send ack latency through real sockets, and the debit
Lua script alone.

    .venv/bin/python loadtest/bench_gifts.py [--senders 20] [--gifts 100] [--debits 20000] [--agency]
        [--profile /tmp/gifts.stacks]   # py-spy's stacks of the server while gifting

Starts its own `flylive serve` (with the demo catalog and admin) unless --url is given, registers
senders and one seated recipient, grants coins through the admin API, then every sender sends
--gifts gifts as fast as acks allow (each an idempotent request with its own key). Afterwards it
waits for the ledger to drain and checks the recipient's balance against the acks. With --agency the
recipient owns an approved agency, so every gift also pays an agency commission and writes the
agency income rows (sql/0020) in the flush; the recipient earns diamonds instead of coins. The second part
runs `Wallets.apply` (idempotency check, funds check, balance change, outbox append) against a
throw-away Valkey with many calls in flight. Prints its figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_rooms import (
    Client,
    CpuMeter,
    OwnServer,
    Registrar,
    ack_outcome,
    close_all,
    connect_all,
    describe_ms,
    gather_limited,
)  # fmt: skip

from engine.economy import model as money
from engine.economy.store import Wallets
from engine.embedded import start_valkey
from engine.keys import Keys

ADMIN_PHONE, ADMIN_PASSWORD = "+923005274302", "password"  # the demo super_admin (engine/seed.py)
GIFT_ID, GIFT_PRICE = 2, 10  # the demo "Kaola"
RECIPIENT_SHARE = 3  # 30 % of 10 coins; the room owner's 5 % (0.5) rounds down to 0
MEMBER_DIAMONDS = 5  # an agency member's 50 % of 10 coins, in diamonds


async def admin_token(http: aiohttp.ClientSession, url: str) -> str:
    async with http.post(f"{url}/api/login", json={"phone": ADMIN_PHONE, "password": ADMIN_PASSWORD}) as resp:
        data = await resp.json()
        if resp.status != 200:
            raise RuntimeError(f"admin login failed ({resp.status}): {data}")
        return str(data["token"])


async def grant(http: aiohttp.ClientSession, url: str, token: str, user_id: int, coins: int) -> None:
    body = {"currency": "coins", "amount": coins, "direction": "grant", "reason": "benchmark",
            "idempotency_key": f"bench-{uuid.uuid4().hex[:20]}"}  # fmt: skip
    async with http.post(f"{url}/api/v1/admin/wallets/{user_id}/adjust", json=body,
                         headers={"Authorization": f"Bearer {token}"}) as resp:  # fmt: skip
        if resp.status != 200:
            raise RuntimeError(f"grant failed ({resp.status}): {await resp.text()}")


async def make_agency_owner(http: aiohttp.ClientSession, url: str, admin: str, user_id: int, token: str) -> None:
    """The user applies for an agency and the admin approves it: the user is then its owner member."""
    body = {"name": f"Bench {uuid.uuid4().hex[:8]}", "country": "pk", "phone": "+923001234567",
            "address": "1 Mall Road", "logo_url": "https://cdn.example/l.png",
            "id_front_url": "https://cdn.example/f.jpg", "id_back_url": "https://cdn.example/b.jpg",
            "referee_user_id": user_id}  # fmt: skip
    async with http.post(f"{url}/api/v1/agencies", json=body, headers={"Authorization": f"Bearer {token}"}) as resp:
        if resp.status != 201:
            raise RuntimeError(f"agency application failed ({resp.status}): {await resp.text()}")
        agency_id = (await resp.json())["data"]["id"]
    async with http.post(f"{url}/api/v1/admin/agencies/{agency_id}/approve",
                         headers={"Authorization": f"Bearer {admin}"}) as resp:  # fmt: skip
        if resp.status != 200:
            raise RuntimeError(f"agency approval failed ({resp.status}): {await resp.text()}")


async def socket_part(url: str, senders: int, gifts: int, server_pid: int | None, agency: bool,
                      profile: str | None = None) -> None:  # fmt: skip
    async with aiohttp.ClientSession() as http:
        registrar = Registrar(http, url)
        host, *accounts = await registrar.register_many(senders + 1)
        token = await admin_token(http, url)
        if agency:
            await make_agency_owner(http, url, token, host.user_id, host.token)
        await gather_limited([lambda a=a: grant(http, url, token, a.user_id, gifts * GIFT_PRICE) for a in accounts], 8)
        clients = await connect_all(url, [host, *accounts])
        try:
            recipient, *gifters = clients
            room = host.room_id
            await recipient.call("room:join", {"roomId": room})
            await recipient.call("seat:take", {"roomId": room, "seatIndex": 0})
            await asyncio.gather(*(c.call("room:join", {"roomId": room}) for c in gifters))
            latencies: list[float] = []
            outcomes: dict[str, int] = {}

            async def send_all(client: Client) -> None:
                for _ in range(gifts):
                    payload = {"roomId": room, "giftId": GIFT_ID, "recipientId": host.user_id,
                               "idempotencyKey": uuid.uuid4().hex}  # fmt: skip
                    ms, ack = await client.call("gift:send", payload)
                    latencies.append(ms)
                    outcome = ack_outcome(ack)
                    outcomes[outcome] = outcomes.get(outcome, 0) + 1

            cpu = CpuMeter(server_pid)
            spy = spy_on(server_pid, profile) if profile and server_pid else None
            started = time.perf_counter()
            await asyncio.gather(*(send_all(c) for c in gifters))
            wall = time.perf_counter() - started
            if spy is not None:
                spy.send_signal(signal.SIGINT)  # py-spy writes its stacks on SIGINT
                spy.wait(30)
            ok = outcomes.get("ok", 0)
            print(f"gift:send through sockets: {senders} senders x {gifts} gifts -> {ok / wall:.0f} gifts/s "
                  f"({ok} ok in {wall:.2f} s); acks {outcomes}; {cpu.line()}")  # fmt: skip
            print(f"gift:send ack latency: {describe_ms(latencies)}")
            await asyncio.sleep(2)  # the flusher applies the recipient's credits from the outboxes
            async with http.get(f"{url}/api/v1/wallet", headers={"Authorization": f"Bearer {host.token}"}) as resp:
                wallet = (await resp.json())["data"]
            currency, share = ("diamonds", MEMBER_DIAMONDS) if agency else ("coins", RECIPIENT_SHARE)
            expected = ok * share
            verdict = "as expected" if wallet[currency] == expected else f"EXPECTED {expected}"
            print(f"recipient balance after the flush: {wallet[currency]} {currency} ({verdict}: {ok} gifts x {share})")
        finally:
            await close_all(clients)


def spy_on(pid: int, path: str) -> subprocess.Popen[bytes]:
    """py-spy on the server while the gifts are sent (perturbs the figures: for where the time goes)."""
    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    command = [exe, "record", "-p", str(pid), "-f", "raw", "-o", path, "--nonblocking"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def lua_part(debits: int, in_flight: int) -> None:
    from redis.asyncio import Redis

    with tempfile.TemporaryDirectory(prefix="flylive-bench-valkey-") as tmp:
        server = start_valkey(Path(tmp), ephemeral=True)
        redis = Redis.from_url(server.url, max_connections=in_flight + 8)
        try:
            wallets = Wallets(redis, Keys("bench:"), 3600)
            await wallets.preload()
            users = list(range(1, 65))
            for user in users:
                await wallets.load(user, debits, 0, 0)
            gate = asyncio.Semaphore(in_flight)

            async def debit(n: int) -> None:
                user = users[n % len(users)]
                legs = [money.Leg("user", user, "coins", -1), money.Leg("platform", 0, "coins", 1)]
                async with gate:
                    result = await wallets.apply(money.make_txn("bench", legs), f"d{n}")
                assert result.ok

            started = time.perf_counter()
            await asyncio.gather(*(debit(n) for n in range(debits)))
            wall = time.perf_counter() - started
            print(f"Lua debits alone (apply.lua, {in_flight} in flight, 64 wallets in 16 shards): "
                  f"{debits / wall:.0f} debits/s ({debits} in {wall:.2f} s)")  # fmt: skip
        finally:
            await redis.aclose()
            server.stop()


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running server on 127.0.0.1 (default: start one)")
    parser.add_argument("--senders", type=int, default=20)
    parser.add_argument("--gifts", type=int, default=100, help="gifts per sender")
    parser.add_argument("--debits", type=int, default=20000)
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--agency", action="store_true", help="the recipient is an agency member (owner)")
    parser.add_argument("--profile", help="py-spy's collapsed stacks of the server while gifting, to this file")
    args = parser.parse_args(argv)
    if args.url and not args.url.startswith(("http://127.0.0.1", "http://localhost")):
        parser.error("--url must be on this machine")
    server = None if args.url else OwnServer(seed=True)
    try:
        url = args.url
        if server is not None:
            server.start()
            async with aiohttp.ClientSession() as http:
                await server.wait_ready(http)
            url = server.url
        print("=" * 100)
        pid = server.proc.pid if server is not None and server.proc is not None else None
        await socket_part(url, args.senders, args.gifts, pid, args.agency, args.profile)
        await lua_part(args.debits, args.in_flight)
        print("=" * 100)
    finally:
        if server is not None:
            problems = server.problems()
            server.stop()
            print("server log warnings/errors:", "none" if not problems else "\n" + "\n".join(problems))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
