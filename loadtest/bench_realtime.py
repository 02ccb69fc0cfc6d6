"""Realtime benchmark, side by side: this engine, a stock python-socketio server and a Node socket.io
server, one after the other, driven by the same raw-WebSocket load client (loadtest/sio_wire.py).

    make bench                                   # or: .venv/bin/python loadtest/bench_realtime.py
    .venv/bin/python loadtest/bench_realtime.py --quick
    .venv/bin/python loadtest/bench_realtime.py --only engine --profile /tmp/prof   # py-spy stacks

Each server runs on core 0 and this client on core 1 where `taskset` exists (with the engine's
embedded PostgreSQL and Valkey on core 0 too: the whole server side gets one core). The phases:

  c. idle sockets: N sockets connect and join rooms of 25; the server's RSS delta / N (first, on a
     fresh heap: Python keeps what it once allocated).
  b. event with ack: 50 sockets, each alone in a room, each with one call in flight, for T seconds;
     server CPU per acked event and acks/s. The engine: `chat:message` and `auth:whoami`; the stock
     and Node servers: `echo` and the same `chat:message` (a broadcast to a room of one).
  a. room fan-out: 1,000 listeners and 4 senders in one room. Saturation: the senders send
     `chat:message` whenever fewer than --window messages are still on their way to someone (a
     closed loop on deliveries, not acks, so queues cannot grow without bound); deliveries/s, server
     CPU per delivery, send -> receipt latency (every 10th listener decodes what it gets). Then an
     open loop at 80 % of the saturation rate for the latency a room sees below its limit.
  d. engine only, `gift:send`: 50 senders (one in flight each), 200 listeners, one seated recipient;
     gifts/s, server CPU per gift, ack latency, deliveries per gift.
  e. engine only, 500 sockets send `room:join` into one room at the same moment; joins/s, p50, p99.

Server CPU is utime+stime of the server process from /proc (the engine's PostgreSQL and Valkey are
shown apart); every wait is bounded. It prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bench_report
from bench_rooms import cpu_seconds, percentile, process_tree
from bench_targets import CLIENT_CORE, Account, EngineTarget, NodeTarget, StockTarget, Target, pinning_available
from sio_wire import SioSocket, SocketClosed, connect, event_data

HOST = "127.0.0.1"
CHAT = b'42["chat:message"'
GIFT_ID, GIFT_PRICE = 2, 10  # the demo "Kaola" (engine/seed.py)


@dataclass(frozen=True)
class Plan:
    idle_sockets: int = 2000
    idle_room_size: int = 25
    in_flight: int = 50
    ack_seconds: float = 5
    listeners: int = 1000
    senders: int = 4
    window: int = 4
    fanout_seconds: float = 10
    gift_senders: int = 50
    gift_listeners: int = 200
    gift_seconds: float = 10
    burst_joins: int = 500
    phases: str = "cbade"  # which phases run, by letter
    stores_core: int = 0  # where the engine's embedded PostgreSQL and Valkey run


QUICK = Plan(idle_sockets=500, ack_seconds=2, listeners=300, fanout_seconds=3, gift_listeners=100,
             gift_seconds=3, burst_joins=200)  # fmt: skip


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


# --------------------------------------------------------------------------------------------------
# measuring the server


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@dataclass
class Usage:
    wall: float
    server_cpu: float  # the server process (the engine's Python; the stock or Node server)
    store_cpu: float  # the engine's embedded PostgreSQL and Valkey (0 for the others)
    client_cpu: float
    stores_measured: bool = True  # False for the engine on the machine's shared servers

    def store_per(self, count: int) -> float | None:
        """µs of datastore CPU per operation; None where they are not ours to measure."""
        return self.store_cpu / max(1, count) * 1e6 if self.stores_measured else None


class Meter:
    """CPU used from here to `usage()`; with a label, also py-spy's stacks of the server (--profile)."""

    def __init__(self, target: Target, label: str | None = None) -> None:
        self.target = target
        self.label = label if target.profiler is not None else None
        if self.label and target.profiler:
            target.profiler.start(self.label)
        self._at = self._read()

    def _read(self) -> tuple[float, float, float, float]:
        stores = [pid for root in self.target.datastore_pids for pid in process_tree(root)]
        return time.monotonic(), cpu_seconds([self.target.pid]), cpu_seconds(stores), time.process_time()

    def usage(self) -> Usage:
        now = self._read()
        if self.label and self.target.profiler:
            self.target.profiles[self.label] = self.target.profiler.stop()
        used = Usage(*(b - a for a, b in zip(self._at, now, strict=True)))
        used.stores_measured = bool(self.target.datastore_pids) or not isinstance(self.target, EngineTarget)
        return used


async def settle(target: Target, limit_s: float = 60) -> None:
    """Wait until the server is idle (below 5 % of a core for a second): disconnect hooks, leave
    announcements and the like from the phase before must not be billed to the next."""
    deadline, quiet = time.monotonic() + limit_s, 0
    while time.monotonic() < deadline and quiet < 2:
        meter = Meter(target)
        await asyncio.sleep(0.5)
        used = meter.usage()
        quiet = quiet + 1 if used.server_cpu + used.store_cpu < 0.05 * used.wall else 0


# --------------------------------------------------------------------------------------------------
# sockets


class Sockets:
    """The sockets of one phase; closed together at its end."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.all: list[SioSocket] = []
        self.failures: Counter[str] = Counter()

    async def open(
        self, accounts: list[Account], sink: Callable[[int], Callable[[bytes], None] | None] = lambda i: None
    ) -> list[SioSocket]:
        gate = asyncio.Semaphore(64)

        async def one(i: int, account: Account) -> SioSocket | None:
            async with gate:
                try:
                    return await connect(HOST, self.target.port, account.auth, sink(i))
                except (TimeoutError, OSError, SocketClosed) as exc:
                    self.failures[f"connect: {type(exc).__name__}: {exc}"[:120]] += 1
                    return None

        opened = await asyncio.gather(*(one(i, a) for i, a in enumerate(accounts)))
        socks = [s for s in opened if s is not None]
        self.all.extend(socks)
        return socks

    async def call_all(self, calls: list[tuple[SioSocket, str, Any]], concurrency: int = 32) -> Counter[str]:
        gate = asyncio.Semaphore(concurrency)
        outcomes: Counter[str] = Counter()

        async def one(sock: SioSocket, event: str, data: Any) -> None:
            async with gate:
                outcomes[outcome(await ack_of(sock, event, data))] += 1

        await asyncio.gather(*(one(*c) for c in calls))
        return outcomes

    def unexpected(self) -> Counter[str]:
        return Counter(s.close_reason for s in self.all if s.closed and not s.closing)

    async def close(self) -> None:
        for sock in self.all:
            sock.close()
        await asyncio.sleep(0.2)
        await settle(self.target)


async def ack_of(sock: SioSocket, event: str, data: Any, limit_s: float = 60) -> Any:
    try:
        return await asyncio.wait_for(sock.call(event, data), limit_s)
    except (TimeoutError, SocketClosed) as exc:
        return f"{type(exc).__name__}: {exc}"


def outcome(ack: Any) -> str:
    if isinstance(ack, dict) and "success" in ack:
        return "ok" if ack["success"] else f"fail {ack.get('code') or ack.get('error')}"
    return "ok" if not isinstance(ack, str) else f"no ack ({ack[:60]})"


async def rooms_nobody_joins_yet(target: Target, count: int) -> list[int]:
    """Room ids for a phase: for the engine, rooms of users who never connect (so no owner rules)."""
    return [a.room_id for a in await target.accounts(count)]


def ms(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    return {"p50_ms": percentile(values, 50), "p99_ms": percentile(values, 99), "max_ms": max(values),
            "mean_ms": statistics.fmean(values), "n": len(values)}  # fmt: skip


# --------------------------------------------------------------------------------------------------
# c. idle sockets


async def rss_after_gc(target: Target, probe: SioSocket) -> int:
    if target.collects_garbage:
        await ack_of(probe, "bench:gc", {})
    return rss_kib(target.pid)


async def phase_idle(target: Target, plan: Plan) -> dict[str, Any]:
    size = plan.idle_room_size
    warm = Sockets(target)  # the first sockets allocate the server's one-off structures
    w_accounts, w_room = await target.accounts(10), await rooms_nobody_joins_yet(target, 1)
    await warm.call_all([(s, "room:join", {"roomId": w_room[0]}) for s in await warm.open(w_accounts)])
    await warm.close()
    accounts = await target.accounts(plan.idle_sockets)
    rooms = await rooms_nobody_joins_yet(target, -(-plan.idle_sockets // size))
    phase = Sockets(target)
    (probe,) = await phase.open(await target.accounts(1))
    before = await rss_after_gc(target, probe)
    socks = await phase.open(accounts)
    joins = await phase.call_all([(s, "room:join", {"roomId": rooms[i // size]}) for i, s in enumerate(socks)])
    await settle(target)
    await asyncio.sleep(2)
    after = await rss_after_gc(target, probe)
    figures = {"sockets": len(socks), "rss_before_kib": before, "rss_after_kib": after,
               "kib_per_socket": (after - before) / max(1, len(socks)), "joins": dict(joins),
               "connect_failures": dict(phase.failures), "unexpected": dict(phase.unexpected())}  # fmt: skip
    await phase.close()
    return figures


# --------------------------------------------------------------------------------------------------
# b. event with ack


async def phase_acks(target: Target, plan: Plan, event: str) -> dict[str, Any]:
    accounts = await target.accounts(plan.in_flight)
    rooms = await rooms_nobody_joins_yet(target, plan.in_flight)
    phase = Sockets(target)
    socks = await phase.open(accounts)
    joins = await phase.call_all([(s, "room:join", {"roomId": rooms[i]}) for i, s in enumerate(socks)])
    await settle(target)
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()

    def payload(i: int, n: int) -> Any:
        if event == "chat:message":
            return {"roomId": rooms[i], "content": f"bench {n}"}
        return {} if event == "auth:whoami" else {"n": n}

    async def loop(i: int, sock: SioSocket, until: float) -> None:
        n = 0
        while time.monotonic() < until and not sock.closed:
            started = time.perf_counter()
            outcomes[outcome(await ack_of(sock, event, payload(i, n)))] += 1
            latencies.append((time.perf_counter() - started) * 1000)
            n += 1

    meter = Meter(target, f"b. {event}")
    until = time.monotonic() + plan.ack_seconds
    await asyncio.gather(*(loop(i, s, until) for i, s in enumerate(socks)))
    used = meter.usage()
    ok = outcomes["ok"]
    figures = {"event": event, "in_flight": len(socks), "acks_per_s": ok / used.wall,
               "server_us_per_event": used.server_cpu / max(1, ok) * 1e6,
               "store_us_per_event": used.store_per(ok), "client_cpu_share": used.client_cpu / used.wall,
               "server_cpu_share": used.server_cpu / used.wall,
               "latency": ms(latencies), "outcomes": dict(outcomes), "joins": dict(joins),
               "unexpected": dict(phase.unexpected())}  # fmt: skip
    await phase.close()
    return figures


# --------------------------------------------------------------------------------------------------
# a. room fan-out


class Flow:
    """Deliveries owed versus received, for the closed loop and the figures."""

    def __init__(self, per_message: int, window: int) -> None:
        self.per_message = per_message
        self.window = window * per_message
        self.owed = 0  # deliveries expected for every message sent (minus those refused)
        self.delivered = 0
        self.last_delivery = 0.0
        self.latencies: list[float] = []
        self.room = asyncio.Event()  # set when the window has room for another message
        self.all_in = asyncio.Event()  # set when nothing more is owed

    def deliver(self) -> None:
        self.delivered += 1
        self.last_delivery = time.perf_counter()
        self.check()

    def check(self) -> None:
        if self.owed - self.delivered < self.window:
            self.room.set()
        if self.delivered >= self.owed:
            self.all_in.set()


async def _send_chat(socks: list[SioSocket], room: int, flow: Flow, refused: Counter[str], n: int) -> None:
    sock = socks[n % len(socks)]
    future = sock.call("chat:message", {"roomId": room, "content": f"t{time.perf_counter():.6f}"})
    flow.owed += flow.per_message

    def done(f: asyncio.Future[Any]) -> None:
        result = outcome(f.exception() or f.result()) if not f.cancelled() else "cancelled"
        if result != "ok":
            refused[result] += 1
            flow.owed -= flow.per_message
            flow.check()

    future.add_done_callback(done)


async def _drain(flow: Flow, limit_s: float = 20) -> None:
    if flow.delivered < flow.owed:
        flow.all_in.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(flow.all_in.wait(), limit_s)


async def saturate(socks: list[SioSocket], room: int, flow: Flow, seconds: float) -> tuple[int, Counter[str]]:
    refused: Counter[str] = Counter()
    sent, until = 0, time.perf_counter() + seconds
    while time.perf_counter() < until:
        if flow.owed - flow.delivered >= flow.window:
            flow.room.clear()
            try:
                await asyncio.wait_for(flow.room.wait(), 10)
            except TimeoutError:
                refused["stalled: no delivery for 10 s"] += 1
                break
            continue
        await _send_chat(socks, room, flow, refused, sent)
        sent += 1
    await _drain(flow)
    return sent, refused


async def open_loop(socks: list[SioSocket], room: int, flow: Flow, rate: float, seconds: float) -> Counter[str]:
    refused: Counter[str] = Counter()
    started = time.perf_counter()
    total = int(rate * seconds)
    for n in range(total):
        delay = started + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await _send_chat(socks, room, flow, refused, n)
    await _drain(flow)
    return refused


async def phase_fanout(target: Target, plan: Plan) -> dict[str, Any]:
    room = (await rooms_nobody_joins_yet(target, 1))[0]
    listeners, senders = await target.accounts(plan.listeners), await target.accounts(plan.senders)
    members = plan.listeners + plan.senders
    phase = Sockets(target)
    flows = [Flow(members, plan.window)]  # the listeners count into flows[-1]: one per sub-phase
    socks = await phase.open(listeners + senders, lambda i: _fast_sink(flows, i % 10 == 0))
    say(f"  {len(socks)} sockets connected; joining the room")
    joins = await phase.call_all([(s, "room:join", {"roomId": room}) for s in socks], concurrency=16)
    await settle(target)
    sending = socks[-plan.senders :]
    gc.collect()
    gc.freeze()
    flow = flows[-1] = Flow(len(socks), plan.window)
    meter = Meter(target, "a. fan-out at saturation")
    first_send = time.perf_counter()
    sent, refused = await saturate(sending, room, flow, plan.fanout_seconds)
    used = meter.usage()
    span = max(1e-9, flow.last_delivery - first_send)
    saturation = {"messages": sent, "deliveries": flow.delivered, "owed": flow.owed,
                  "deliveries_per_s": flow.delivered / span, "messages_per_s": sent / span,
                  "server_us_per_delivery": used.server_cpu / max(1, flow.delivered) * 1e6,
                  "store_us_per_delivery": used.store_per(flow.delivered),
                  "server_cpu_share": used.server_cpu / used.wall, "client_cpu_share": used.client_cpu / used.wall,
                  "latency": ms(flow.latencies), "refused": dict(refused)}  # fmt: skip
    rate = 0.8 * saturation["messages_per_s"]
    say(f"  saturation {saturation['deliveries_per_s']:,.0f} deliveries/s; open loop at {rate:.0f} msg/s")
    flow = flows[-1] = Flow(len(socks), plan.window)
    meter = Meter(target, "a. fan-out at 80 %")
    refused = await open_loop(sending, room, flow, rate, plan.fanout_seconds)
    used = meter.usage()
    at80 = {"messages_per_s": rate, "deliveries": flow.delivered, "owed": flow.owed,
            "server_cpu_share": used.server_cpu / used.wall, "latency": ms(flow.latencies),
            "refused": dict(refused)}  # fmt: skip
    gc.unfreeze()
    figures = {"listeners": len(socks) - plan.senders, "senders": plan.senders, "window": plan.window,
               "joins": dict(joins), "saturation": saturation, "at_80_percent": at80,
               "connect_failures": dict(phase.failures), "unexpected": dict(phase.unexpected())}  # fmt: skip
    await phase.close()
    return figures


def _fast_sink(flows: list[Flow], sampled: bool) -> Callable[[bytes], None]:
    """A listener's sink: counts into the flow of the moment (the sub-phases swap flows[-1])."""
    if not sampled:

        def count(packet: bytes) -> None:
            if packet.startswith(CHAT):
                flows[-1].deliver()

        return count

    def timed(packet: bytes) -> None:
        if packet.startswith(CHAT):
            flow = flows[-1]
            flow.deliver()
            flow.latencies.append((time.perf_counter() - float(event_data(packet)["content"][1:])) * 1000)

    return timed


# --------------------------------------------------------------------------------------------------
# d. gifts (engine)


def announcing(accounts: list[Account], batched: bool) -> list[Account]:
    """The accounts, announcing `auth.features: ["room:batch"]` when `batched` (engine/rooms/batching.py)."""
    if not batched:
        return accounts
    return [dataclasses.replace(a, auth={**(a.auth or {}), "features": ["room:batch"]}) for a in accounts]


async def phase_gifts(
    target: EngineTarget, plan: Plan, http: aiohttp.ClientSession, batched: bool = False
) -> dict[str, Any]:
    """With `batched`, every listener and sender announces room:batch: a tick's gift events are one frame."""
    (host,) = await target.accounts(1)
    senders = announcing(await target.accounts(plan.gift_senders), batched)
    listeners = announcing(await target.accounts(plan.gift_listeners), batched)
    await target.grant_coins(http, senders, 1_000_000)
    received: Counter[str] = Counter()

    def count(packet: bytes) -> None:
        received[packet[4 : packet.find(b'"', 4)].decode()] += 1

    phase = Sockets(target)
    (recipient,) = await phase.open([host])
    await phase.call_all([(recipient, "room:join", {"roomId": host.room_id})])
    seat = await phase.call_all([(recipient, "seat:take", {"roomId": host.room_id, "seatIndex": 0})])
    audience = await phase.open(listeners, lambda i: count)
    gifters = await phase.open(senders)
    joins = await phase.call_all([(s, "room:join", {"roomId": host.room_id}) for s in audience + gifters], 16)
    await settle(target)
    received.clear()
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()

    async def loop(sock: SioSocket, until: float) -> None:
        n = 0
        while time.monotonic() < until and not sock.closed:
            payload = {"roomId": host.room_id, "giftId": GIFT_ID, "recipientId": host.user_id,
                       "idempotencyKey": f"bench-{id(sock):x}-{n}"}  # fmt: skip
            started = time.perf_counter()
            outcomes[outcome(await ack_of(sock, "gift:send", payload))] += 1
            latencies.append((time.perf_counter() - started) * 1000)
            n += 1

    meter = Meter(target, "d. gift:send")
    started = time.monotonic()
    await asyncio.gather(*(loop(s, started + plan.gift_seconds) for s in gifters))
    wall = time.monotonic() - started
    await asyncio.sleep(0.5)  # the last bursts reach the listeners (their CPU is the gifts' too)
    used = meter.usage()
    ok = outcomes["ok"]
    figures = {"senders": len(gifters), "listeners": len(audience), "gifts_per_s": ok / wall,
               "server_us_per_gift": used.server_cpu / max(1, ok) * 1e6,
               "store_us_per_gift": used.store_per(ok),
               "deliveries_per_gift_per_listener": sum(received.values()) / max(1, ok * len(audience)),
               "received_by_listeners": dict(received), "latency": ms(latencies), "outcomes": dict(outcomes),
               "seat": dict(seat), "joins": dict(joins), "unexpected": dict(phase.unexpected())}  # fmt: skip
    await phase.close()
    return figures


# --------------------------------------------------------------------------------------------------
# e. a burst of joins (engine)


async def phase_join_burst(target: Target, plan: Plan, batched: bool = False) -> dict[str, Any]:
    """With `batched`, every joiner announces room:batch: a tick's joins reach each member as one frame."""
    room = (await rooms_nobody_joins_yet(target, 1))[0]
    accounts = announcing(await target.accounts(plan.burst_joins), batched)
    announced = Counter[str]()

    def count(packet: bytes) -> None:
        announced[packet[4 : packet.find(b'"', 4)].decode()] += 1

    phase = Sockets(target)
    socks = await phase.open(accounts, lambda i: count)
    await settle(target)
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()

    async def join(sock: SioSocket, started: float) -> None:
        outcomes[outcome(await ack_of(sock, "room:join", {"roomId": room}, limit_s=120))] += 1
        latencies.append((time.perf_counter() - started) * 1000)

    meter = Meter(target, "e. join burst")
    started = time.perf_counter()
    await asyncio.gather(*(join(s, started) for s in socks))
    wall = time.perf_counter() - started
    used = meter.usage()
    ok = outcomes["ok"]
    figures = {"sockets": len(socks), "joins_per_s": ok / wall, "wall_s": wall, "latency": ms(latencies),
               "outcomes": dict(outcomes), "server_cpu_s": used.server_cpu, "store_cpu_s": used.store_cpu,
               "announcements_received": dict(announced),
               "frames_per_member": sum(announced.values()) / max(1, len(socks)),
               "unexpected": dict(phase.unexpected())}  # fmt: skip
    await phase.close()
    return figures


# --------------------------------------------------------------------------------------------------
# running it all


BATCHED_GIFTS = "d. gift:send, room:batch clients"
BATCHED_JOINS = "e. join burst, room:batch clients"


async def run_target(target: Target, plan: Plan, profile_dir: Path | None) -> dict[str, Any]:
    results: dict[str, Any] = {}
    async with aiohttp.ClientSession() as http:
        say(f"{target.label}: starting on port {target.port}")
        await target.start(http)
        results["server"] = {"pid": target.pid, "datastores": getattr(target, "datastores", lambda: "")()}
        if profile_dir:
            target.profiler = bench_report.Profiler(target.pid, profile_dir / target.key)
        try:
            await settle(target)
            phases: list[tuple[str, Callable[[], Any]]] = [("c. idle sockets", lambda: phase_idle(target, plan))]
            for event in (
                ("chat:message", "auth:whoami") if isinstance(target, EngineTarget) else ("echo", "chat:message")
            ):
                phases.append((f"b. ack {event}", lambda event=event: phase_acks(target, plan, event)))
            phases.append(("a. room fan-out", lambda: phase_fanout(target, plan)))
            if isinstance(target, EngineTarget):
                phases.append(("d. gift:send", lambda: phase_gifts(target, plan, http)))
                phases.append((BATCHED_GIFTS, lambda: phase_gifts(target, plan, http, batched=True)))
                phases.append(("e. join burst", lambda: phase_join_burst(target, plan)))
                phases.append((BATCHED_JOINS, lambda: phase_join_burst(target, plan, batched=True)))
            for name, run in [(name, run) for name, run in phases if name[0] in plan.phases]:
                say(f"{target.label}: phase {name}")
                results[name] = await run()
                say(f"  {bench_report.one_line(name, results[name])}")
        finally:
            say(f"{target.label}: stopping")
            problems = target.problems()
            await target.stop()
    results["server_log_problems"] = problems
    results["profiles"] = target.profiles
    return results


def machine() -> dict[str, Any]:
    model = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                  if ln.startswith("model name")), "?")  # fmt: skip
    mem = next(ln.split(":", 1)[1].strip() for ln in Path("/proc/meminfo").read_text().splitlines()
               if ln.startswith("MemTotal"))  # fmt: skip
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                           text=True, check=False)  # fmt: skip
    return {"nproc": os.cpu_count(), "cpu": model, "memory": mem, "load_average": os.getloadavg(),
            "commit": commit.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else ""),
            "pinned": pinning_available(), "python": sys.version.split()[0]}  # fmt: skip


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller rooms and shorter phases (~2 minutes)")
    parser.add_argument("--only", action="append", choices=["engine", "stock", "node"], help="run only these")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument("--phases", default="cbade", help="the phases to run, by letter (default: cbade, all)")
    parser.add_argument("--listeners", type=int, help="the fan-out room's listeners (phase a; 1,000, quick 300)")
    parser.add_argument("--fanout-seconds", type=float, help="each fan-out stretch (phase a; default 10, quick 3)")
    parser.add_argument(
        "--stores-core",
        type=int,
        choices=[0, 1],
        default=0,
        help="the engine's embedded PostgreSQL and Valkey on the server's core (0, default) or the client's",
    )
    parser.add_argument("--profile", type=Path, help="py-spy each engine phase into this folder (perturbs figures)")
    args = parser.parse_args(argv)
    plan = dataclasses.replace(QUICK if args.quick else Plan(), phases=args.phases, stores_core=args.stores_core)
    if args.listeners:
        plan = dataclasses.replace(plan, listeners=args.listeners)
    if args.fanout_seconds:
        plan = dataclasses.replace(plan, fanout_seconds=args.fanout_seconds)
    if pinning_available():
        os.sched_setaffinity(0, {CLIENT_CORE})
    info = machine()
    pinning = "server on core 0, client on core 1" if info["pinned"] else "NOT pinned"
    say(f"machine: {info['nproc']} cores, {info['cpu']}, {info['memory']}; load average {info['load_average']}; "
        f"commit {info['commit']}; {pinning}")  # fmt: skip
    results: dict[str, Any] = {"machine": info, "plan": plan.__dict__, "targets": {}}
    for target in (EngineTarget(plan.stores_core), StockTarget(), NodeTarget()):
        if args.only and target.key not in args.only:
            continue
        reason = target.skip_reason()
        if reason:
            say(f"{target.label}: skipped ({reason})")
            results["targets"][target.key] = {"skipped": reason}
            continue
        results["targets"][target.key] = await run_target(target, plan, args.profile)
    results["machine"]["load_average_end"] = os.getloadavg()
    print()
    print(bench_report.table(results))
    for key, target in results["targets"].items():
        for label, profile in target.get("profiles", {}).items():
            print("\n" + bench_report.profile_text(f"{key}, {label}", profile))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
        say(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(uvloop.run(main()))
