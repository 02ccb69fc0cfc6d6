"""Media relay benchmark: client media requests relayed to a media node, producer events fanned out to
a room, and the clients' notice when a node is lost, against a FlyLive server on 127.0.0.1.

Without --url it starts its own server like bench_rooms.py (`.venv/bin/flylive serve --no-seed` on a
free port, temporary FLYLIVE_DATA_DIR, rate limits raised, DATABASE_URL/REDIS_URL passed through when
set) with a generated MEDIA_NODE_SECRETS, and stops it at the end. With --url the server's
MEDIA_NODE_SECRETS must contain --secret, and its rate limits must be raised. It prints figures; it
asserts nothing.

    .venv/bin/python loadtest/bench_media.py                          # 50 users, 10 s relay, 200 events/s, 20 rooms
    .venv/bin/python loadtest/bench_media.py --users 20 --seconds 5

The media node is a double in this process (python-socketio on `/media`, as in
tests/test_media_nodes.py) that answers every `media:request` at once with `{ok: true, data}` and
heart-beats every 5 s. It shares this process's event loop (and the machine's 2 cores) with the
clients and the server.

Phase 1 (relay): node R registered; U users join one room; each creates its two transports (the
per-join allowance) and one consumer, then runs a closed loop for --seconds: `transport:restartIce`,
`consumer:resume`, `audio:consume`, in turn, each relayed by the engine to the node and acked back.
Reported: relayed requests/s, client-side ack latency, failures by error, and the node's count of
`media:request`s of those methods (equal to the successes when nothing was lost or timed out).

Phase 2 (fan-out): node R sends `producer:new` / `producer:closed` for the room, alternating, at
--events-per-second (so half as many producers) for --fanout-seconds; each producerId carries the
send time (`time.monotonic_ns()`, one process, one clock). The U users count `audio:newProducer` and
`audio:producerClosed` and time `audio:newProducer`. A probe join then lists the room's
`existingProducers` (0 expected: every producer was closed).

Phase 3 (node loss): node R goes; node A registers; R rooms (--rooms) of M members (--members) each
are joined, and so placed on A; node B registers; A disconnects. Reported: time from A's disconnect
until each member got `media:reconnect {reason: "node_lost"}`, and the time until its re-join (sent
on receipt; --no-rejoin leaves it out) was acked with node B's rtpCapabilities.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import random
import secrets
import statistics
import string
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import aiohttp
import socketio

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_rooms import (
    Account,
    Client,
    CpuMeter,
    OwnServer,
    Registrar,
    ack_outcome,
    close_all,
    closing_lines,
    code_version,
    connect_all,
    cpu_seconds,
    gather_limited,
    percentile,
    process_tree,
    run_benchmark,
)

NAMESPACE = "/media"
LOOP_METHODS = ("transport:restartIce", "consumer:resume", "audio:consume")
HEARTBEAT_S = 5.0
CAPS = {"codecs": [{"kind": "audio", "mimeType": "audio/opus", "clockRate": 48000, "channels": 2}]}


def describe(values: list[float]) -> str:
    if not values:
        return "no samples"
    return (
        f"p50 {percentile(values, 50):7.1f} ms  p95 {percentile(values, 95):7.1f} ms  "
        f"p99 {percentile(values, 99):7.1f} ms  max {max(values):7.1f} ms  "
        f"mean {statistics.fmean(values):7.1f} ms  (n={len(values)})"
    )


def since_ms(start_ns: int, end_ns: int) -> float:
    return (end_ns - start_ns) / 1e6


# --------------------------------------------------------------------------------------------------
# the server and the node double


class MediaServer(OwnServer):
    """bench_rooms' OwnServer, started with MEDIA_NODE_SECRETS set to this run's secret."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def start(self) -> None:
        with mock.patch.dict(os.environ, {"MEDIA_NODE_SECRETS": self.secret}):
            super().start()


class NodeDouble:
    """A media node on `/media` that answers every request at once and counts what it got."""

    def __init__(self, node_id: str) -> None:
        self.node_id = node_id
        self.sio = socketio.AsyncClient(reconnection=False)
        self.requests: Counter[str] = Counter()  # media:request by method
        self.commands: Counter[str] = Counter()  # media:command by command
        self.heartbeat_failures: Counter[str] = Counter()
        self.acks: Counter[str] = Counter()  # answers to the producer events this node sent
        self.ack_ms: list[float] = []  # and how long each took
        self.serial = itertools.count(1)
        self._heartbeat: asyncio.Task[None] | None = None
        self.sio.on("media:request", self.on_request, namespace=NAMESPACE)
        self.sio.on("media:command", self.on_command, namespace=NAMESPACE)

    async def on_request(self, data: Any = None) -> dict[str, Any]:
        method = data.get("method") if isinstance(data, dict) else None
        params = (data.get("params") if isinstance(data, dict) else None) or {}
        self.requests[str(method)] += 1
        n = next(self.serial)
        if method == "transport:create":
            answer: dict[str, Any] = {
                "id": f"t-{n}",
                "iceParameters": {"usernameFragment": f"u{n}", "password": "p" * 24, "iceLite": True},
                "iceCandidates": [
                    {
                        "foundation": "udpcandidate",
                        "ip": "127.0.0.1",
                        "port": 40000,
                        "priority": 1,
                        "protocol": "udp",
                        "type": "host",
                    }
                ],
                "dtlsParameters": {"role": "auto", "fingerprints": [{"algorithm": "sha-256", "value": "00" * 32}]},
            }
        elif method == "transport:restartIce":
            answer = {"iceParameters": {"usernameFragment": f"u{n}", "password": "p" * 24, "iceLite": True}}
        elif method == "audio:consume":
            answer = {
                "id": f"c-{n}",
                "producerId": params.get("producerId"),
                "kind": "audio",
                "rtpParameters": {"codecs": CAPS["codecs"], "encodings": [{"ssrc": n}]},
            }
        else:
            answer = {}
        return {"ok": True, "data": answer}

    async def on_command(self, data: Any = None) -> None:
        self.commands[str(data.get("command") if isinstance(data, dict) else data)] += 1

    async def start(self, url: str, secret: str) -> None:
        await self.sio.connect(
            url, namespaces=[NAMESPACE], auth={"token": secret}, transports=["websocket"], wait_timeout=30
        )
        ack = await self.call(
            "node:register",
            {
                "nodeId": self.node_id,
                "region": "bench",
                "capacity": 1_000_000,
                "rtpCapabilities": {**CAPS, "node": self.node_id},
            },
        )
        if not (isinstance(ack, dict) and ack.get("success")):
            raise RuntimeError(f"node:register of {self.node_id} answered {ack}")
        self._heartbeat = asyncio.create_task(self._beat())

    async def call(self, event: str, data: Any) -> Any:
        return await self.sio.call(event, data, namespace=NAMESPACE, timeout=30)

    def emit(self, event: str, data: Any) -> asyncio.Task[None]:
        """Send a producer event without waiting (as a node reports them); its ack is counted later."""

        async def send() -> None:
            sent = time.monotonic_ns()
            try:
                ack = await self.call(event, data)
                self.ack_ms.append(since_ms(sent, time.monotonic_ns()))
                self.acks[f"{event} {'ok' if isinstance(ack, dict) and ack.get('success') else ack}"] += 1
            except Exception as exc:
                self.acks[f"{event} {type(exc).__name__}: {exc}"] += 1

        return asyncio.create_task(send())

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            try:
                ack = await self.call("node:heartbeat", {"load": 0})
                if not (isinstance(ack, dict) and ack.get("success")):
                    self.heartbeat_failures[str(ack)] += 1
            except Exception as exc:
                self.heartbeat_failures[f"{type(exc).__name__}: {exc}"] += 1

    async def close(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
        with contextlib.suppress(Exception):
            if self.sio.connected:
                await self.sio.disconnect()


def node_of(ack: Any) -> str:
    """Which node a room:join ack placed the room on (our doubles put their id in rtpCapabilities)."""
    if not isinstance(ack, dict):
        return f"no ack ({ack})"
    if not ack.get("success"):
        return ack_outcome(ack)
    caps = ack.get("rtpCapabilities")
    return str(caps.get("node", "another node")) if isinstance(caps, dict) else "no node"


async def join_all(clients: list[Client], room_of: dict[int, int]) -> tuple[list[Client], Counter[str]]:
    """Join each client to room_of[id(client)]; return those whose join succeeded and where rooms went."""
    acks = await gather_limited(
        [lambda c=c: c.call("room:join", {"roomId": room_of[id(c)]}) for c in clients], 10
    )  # not timed: bench_rooms does that
    placed = Counter(node_of(ack) for _ms, ack in acks)
    return [c for c, (_ms, ack) in zip(clients, acks, strict=True) if ack_outcome(ack) == "ok"], placed


# --------------------------------------------------------------------------------------------------
# phase 1: relayed requests


@dataclass
class RelayFigures:
    users: int = 0
    placed: Counter[str] = field(default_factory=Counter)
    setup: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    by_method: Counter[str] = field(default_factory=Counter)
    latency_ms: list[float] = field(default_factory=list)
    wall: float = 0.0
    node_received: int = 0
    cpu: str = ""
    server_cpu_s: float = 0.0


async def bench_relay(
    clients: list[Client], room_id: int, node: NodeDouble, seconds: float, server_pid: int | None
) -> RelayFigures:
    figures = RelayFigures(users=len(clients))
    ids: dict[int, tuple[str, str]] = {}  # client -> (transport id, consumer id)

    async def set_up(client: Client) -> None:
        transports = []
        for kind in ("producer", "consumer"):
            _ms, ack = await client.call("transport:create", {"roomId": room_id, "type": kind})
            figures.setup[f"transport:create {ack_outcome(ack)}"] += 1
            if ack_outcome(ack) == "ok":
                transports.append(str(ack["data"]["id"]))
        if not transports:
            return
        consume = {"roomId": room_id, "transportId": transports[-1], "producerId": "p-setup", "rtpCapabilities": CAPS}
        _ms, ack = await client.call("audio:consume", consume)
        figures.setup[f"audio:consume {ack_outcome(ack)}"] += 1
        if ack_outcome(ack) == "ok":
            ids[id(client)] = (transports[-1], str(ack["data"]["id"]))

    await gather_limited([lambda c=c: set_up(c) for c in clients], 10)
    ready = [c for c in clients if id(c) in ids]
    before = sum(node.requests[m] for m in LOOP_METHODS)
    meter = CpuMeter(server_pid)
    server_cpu0 = cpu_seconds(process_tree(server_pid)) if server_pid else 0.0
    started = time.perf_counter()
    deadline = started + seconds

    async def loop(client: Client, offset: int) -> None:
        transport_id, consumer_id = ids[id(client)]
        requests = {
            "transport:restartIce": {"roomId": room_id, "transportId": transport_id},
            "consumer:resume": {"roomId": room_id, "consumerId": consumer_id},
            "audio:consume": {
                "roomId": room_id,
                "transportId": transport_id,
                "producerId": "p-bench",
                "rtpCapabilities": CAPS,
            },
        }
        for n in itertools.count(offset):
            if time.perf_counter() >= deadline:
                return
            method = LOOP_METHODS[n % len(LOOP_METHODS)]
            ms, ack = await client.call(method, requests[method])
            outcome = ack_outcome(ack)
            figures.outcomes[outcome] += 1
            figures.by_method[f"{method} {outcome}"] += 1
            if outcome == "ok":
                figures.latency_ms.append(ms)

    await asyncio.gather(*(loop(c, i) for i, c in enumerate(ready)))
    figures.wall = time.perf_counter() - started
    figures.cpu = meter.line()
    figures.server_cpu_s = cpu_seconds(process_tree(server_pid)) - server_cpu0 if server_pid else 0.0
    await asyncio.sleep(0.2)  # requests the engine relayed but timed out on would be in by now
    figures.node_received = sum(node.requests[m] for m in LOOP_METHODS) - before
    return figures


# --------------------------------------------------------------------------------------------------
# phase 2: producer events fanned out


@dataclass
class FanoutFigures:
    listeners: int = 0
    pairs: int = 0
    events_sent: int = 0
    send_wall: float = 0.0
    new_received: int = 0
    closed_received: int = 0
    closed_before_new: int = 0  # receipts: a listener got audio:producerClosed before that audio:newProducer
    reordered: set[str] = field(default_factory=set)  # producers whose events some listener got in that order
    duplicates: int = 0
    latency_ms: list[float] = field(default_factory=list)
    first_send_ns: int = 0
    last_receipt_ns: int = 0
    node_acks: Counter[str] = field(default_factory=Counter)
    node_ack_ms: list[float] = field(default_factory=list)
    drained: bool = False
    leftover: str = ""
    cpu: str = ""


class ProducerListener:
    def __init__(self, client: Client, figures: FanoutFigures, prefix: str) -> None:
        self.figures = figures
        self.prefix = prefix
        self.seen: set[str] = set()
        self.closed: set[str] = set()
        client.sio.on("audio:newProducer", self.on_new)
        client.sio.on("audio:producerClosed", self.on_closed)

    async def on_new(self, data: Any = None) -> None:
        now = time.monotonic_ns()
        producer_id = str(data.get("producerId", "")) if isinstance(data, dict) else ""
        if not producer_id.startswith(self.prefix):
            return
        if producer_id in self.seen:
            self.figures.duplicates += 1
            return
        self.seen.add(producer_id)
        self.figures.new_received += 1
        self.figures.latency_ms.append(since_ms(int(producer_id.rsplit("-", 1)[1]), now))
        self.figures.last_receipt_ns = now

    async def on_closed(self, data: Any = None) -> None:
        producer_id = str(data.get("producerId", "")) if isinstance(data, dict) else ""
        if not producer_id.startswith(self.prefix) or producer_id in self.closed:
            return
        self.closed.add(producer_id)
        self.figures.closed_received += 1
        if producer_id not in self.seen:
            self.figures.closed_before_new += 1
            self.figures.reordered.add(producer_id)
        self.figures.last_receipt_ns = time.monotonic_ns()


async def bench_fanout(
    clients: list[Client],
    room_id: int,
    speaker_id: int,
    node: NodeDouble,
    rate: float,
    seconds: float,
    server_pid: int | None,
) -> FanoutFigures:
    figures = FanoutFigures(listeners=len(clients))
    prefix = "p-" + "".join(random.choices(string.ascii_lowercase, k=5)) + "-"
    for client in clients:
        ProducerListener(client, figures, prefix)
    meter = CpuMeter(server_pid)
    pending: list[asyncio.Task[None]] = []
    interval_ns = int(1e9 / rate)
    start = figures.first_send_ns = time.monotonic_ns()
    producer_id = ""
    for n in range(max(2, int(rate * seconds))):
        await asyncio.sleep(max(0.0, (start + n * interval_ns - time.monotonic_ns()) / 1e9))
        if n % 2 == 0:  # a producer starts; the next event closes it
            producer_id = f"{prefix}{time.monotonic_ns()}"
            event = "producer:new"
            figures.pairs += 1
        else:
            event = "producer:closed"
        pending.append(
            node.emit(event, {"roomId": str(room_id), "producerId": producer_id, "userId": speaker_id, "source": "mic"})
        )
        figures.events_sent += 1
    figures.send_wall = (time.monotonic_ns() - start) / 1e9
    await asyncio.wait(pending, timeout=60)
    figures.node_acks = node.acks.copy()
    figures.node_ack_ms = list(node.ack_ms)
    deadline = time.monotonic() + 30
    expected = figures.pairs * figures.listeners
    while time.monotonic() < deadline:  # the stragglers, bounded
        if figures.new_received >= expected and figures.closed_received >= expected:
            break
        await asyncio.sleep(0.1)
    figures.drained = figures.new_received >= expected and figures.closed_received >= expected
    figures.cpu = meter.line()
    # Every producer was closed: a fresh join should list none (a producer:closed handled before its
    # producer:new would leave one behind). This re-join also closes the listener's phase-1 transports.
    _ms, ack = await clients[0].call("room:join", {"roomId": room_id})
    if ack_outcome(ack) == "ok" and isinstance(ack, dict):
        ours = [p for p in ack.get("existingProducers") or [] if str(p.get("producerId", "")).startswith(prefix)]
        figures.leftover = str(len(ours))
    else:
        figures.leftover = f"probe join {ack_outcome(ack)}"
    return figures


# --------------------------------------------------------------------------------------------------
# phase 3: node loss


@dataclass
class LossFigures:
    rooms: int = 0
    members: int = 0
    placed: Counter[str] = field(default_factory=Counter)
    reconnect_ms: list[float] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)
    rejoin_ms: list[float] = field(default_factory=list)
    rejoined: Counter[str] = field(default_factory=Counter)
    lost_at_ns: int = 0


class LossWatcher:
    def __init__(self, client: Client, room_id: int, figures: LossFigures, rejoin: bool) -> None:
        self.client = client
        self.room_id = room_id
        self.rejoins = rejoin
        self.figures = figures
        self.got = asyncio.Event()
        self.back = asyncio.Event()
        self.tasks: set[asyncio.Task[None]] = set()
        client.sio.on("media:reconnect", self.on_reconnect)

    async def on_reconnect(self, data: Any = None) -> None:
        now = time.monotonic_ns()
        if self.got.is_set() or not self.figures.lost_at_ns:
            return
        reason = data.get("reason") if isinstance(data, dict) else data
        room = data.get("roomId") if isinstance(data, dict) else None
        self.figures.reasons[f"{reason}{'' if room == str(self.room_id) else f' (room {room})'}"] += 1
        self.figures.reconnect_ms.append(since_ms(self.figures.lost_at_ns, now))
        self.got.set()
        if not self.rejoins:
            return
        task = asyncio.create_task(self.rejoin())  # what a client does: join again, set media up afresh
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def rejoin(self) -> None:
        _ms, ack = await self.client.call("room:join", {"roomId": self.room_id})
        self.figures.rejoin_ms.append(since_ms(self.figures.lost_at_ns, time.monotonic_ns()))
        self.figures.rejoined[node_of(ack)] += 1
        self.back.set()


async def bench_node_loss(
    url: str, secret: str, accounts: list[Account], rooms: int, members: int, run_id: str, rejoin: bool
) -> LossFigures:
    figures = LossFigures(rooms=rooms)
    node_a, node_b = NodeDouble(f"bench-{run_id}-a"), NodeDouble(f"bench-{run_id}-b")
    clients: list[Client] = []
    try:
        await node_a.start(url, secret)  # the only node now: every room below is placed on it
        used = accounts[: rooms * members]
        room_of_account = {id(a): used[(i // members) * members].room_id for i, a in enumerate(used)}
        all_clients = await connect_all(url, used)
        room_of = {id(c): room_of_account[id(c.account)] for c in all_clients}
        clients, figures.placed = await join_all(all_clients, room_of)
        figures.members = len(clients)
        watchers = [LossWatcher(c, room_of[id(c)], figures, rejoin) for c in clients]
        await node_b.start(url, secret)  # where the rooms go when their members join again
        await asyncio.sleep(0.5)
        figures.lost_at_ns = time.monotonic_ns()
        await node_a.close()
        waits = [w.got.wait() for w in watchers] + ([w.back.wait() for w in watchers] if rejoin else [])
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*waits), 20)
    finally:
        await close_all(clients)
        await node_a.close()
        await node_b.close()
    return figures


# --------------------------------------------------------------------------------------------------
# main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--url", help="server to measure (http://127.0.0.1:PORT); default: start one")
    parser.add_argument("--secret", help="one of that server's MEDIA_NODE_SECRETS (required with --url)")
    parser.add_argument("--users", type=int, default=50, help="U: users in the relay and fan-out room (default 50)")
    parser.add_argument("--seconds", type=float, default=10, help="closed-loop relay duration (default 10)")
    parser.add_argument(
        "--events-per-second",
        type=float,
        default=200,
        help="producer:new + producer:closed events the node sends per second (default 200)",
    )
    parser.add_argument("--fanout-seconds", type=float, default=5, help="how long the node sends them (default 5)")
    parser.add_argument("--rooms", type=int, default=20, help="R: rooms on the node that is lost (default 20)")
    parser.add_argument("--members", type=int, default=3, help="members in each of those rooms (default 3)")
    parser.add_argument(
        "--no-rejoin",
        action="store_true",
        help="members do not re-join on media:reconnect (phase 3 times the notices alone)",
    )
    parser.add_argument("--server-log", help="copy the started server's log (JSON lines) to this file at the end")
    args = parser.parse_args(argv)
    if args.url:
        if not args.url.startswith(("http://127.0.0.1", "http://localhost")):
            parser.error("--url must point at 127.0.0.1")
        if not args.secret:
            parser.error("--url needs --secret (one of the server's MEDIA_NODE_SECRETS)")
        args.url = args.url.rstrip("/").replace("//localhost", "//127.0.0.1")
    for name in ("users", "rooms", "members"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.seconds <= 0 or args.fanout_seconds <= 0 or args.events_per_second <= 0:
        parser.error("--seconds, --fanout-seconds and --events-per-second must be positive")
    return args


async def run(args: argparse.Namespace) -> int:
    secret = args.secret or "bench-media-" + secrets.token_hex(20)
    server = None if args.url else MediaServer(secret)
    url = args.url or (server.url if server else "")
    run_id = "".join(random.choices(string.ascii_lowercase, k=5))
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
            if server is not None:
                print(f"starting flylive serve on {server.url} (data in {server.data_dir})", flush=True)
                server.start()
                await server.wait_ready(http)
                print(f"  ready after {time.monotonic() - started:.1f} s", flush=True)
            else:
                print(f"using {url}; its rate limits must be raised (see loadtest/README.md)", flush=True)
            pid = server.proc.pid if server and server.proc else None
            needed = max(args.users, args.rooms * args.members)
            print(f"registering {needed} users ...", flush=True)
            t0 = time.monotonic()
            accounts = await Registrar(http, url).register_many(needed)
            print(f"  done in {time.monotonic() - t0:.1f} s", flush=True)

        relay_node = NodeDouble(f"bench-{run_id}-relay")
        room_id = accounts[0].room_id
        clients: list[Client] = []
        try:
            await relay_node.start(url, secret)
            connected = await connect_all(url, accounts[: args.users])
            clients, placed = await join_all(connected, {id(c): room_id for c in connected})
            speaker = clients[0] if clients else None
            seat = await speaker.call("seat:take", {"roomId": room_id, "seatIndex": 0}) if speaker else (0, None)
            print(
                f"phase 1: {len(clients)} users in room {room_id}, closed loop of relayed requests for "
                f"{args.seconds:g} s",
                flush=True,
            )
            relay = await bench_relay(clients, room_id, relay_node, args.seconds, pid)
            relay.placed = placed
            print(
                f"phase 2: node sends {args.events_per_second:g} producer events/s for {args.fanout_seconds:g} s "
                f"to {len(clients)} listeners",
                flush=True,
            )
            speaker_id = speaker.account.user_id if speaker else accounts[0].user_id
            fan = await bench_fanout(
                clients, room_id, speaker_id, relay_node, args.events_per_second, args.fanout_seconds, pid
            )
        finally:
            await close_all(clients)
            await relay_node.close()
        print(f"phase 3: {args.rooms} rooms x {args.members} members on node A, then A disconnects", flush=True)
        loss = await bench_node_loss(url, secret, accounts, args.rooms, args.members, run_id, not args.no_rejoin)
    finally:
        problems = server.problems() if server else []
        code = server.stop(args.server_log) if server else None
        if server is not None:
            print(f"server stopped (exit code {code})", flush=True)

    ok = relay.outcomes["ok"]
    fails = {k: v for k, v in relay.outcomes.items() if k != "ok"}
    expected = fan.pairs * fan.listeners
    span = since_ms(fan.first_send_ns, fan.last_receipt_ns) / 1000 if fan.last_receipt_ns else 0.0
    heard = len(loss.reconnect_ms)
    on_b = loss.rejoined[f"bench-{run_id}-b"]
    summary = [
        "=" * 100,
        f"FlyLive media benchmark  {time.strftime('%Y-%m-%d %H:%M:%S')}  cores={os.cpu_count()}  "
        f"load avg at start {load_before:.1f}  code {code_version()}  "
        f"server={'own (embedded or DATABASE_URL/REDIS_URL)' if server else url}",
        f"relay: {relay.users} users in one room (joins placed on {dict(relay.placed)}; seat:take "
        f"{ack_outcome(seat[1])}), set-up {dict(relay.setup)}",
        f"  closed loop {args.seconds:g} s over {', '.join(LOOP_METHODS)}: {ok} ok in {relay.wall:.2f} s = "
        f"{ok / max(relay.wall, 1e-9):.0f} relayed requests/s; failures {fails or 'none'}",
        "  ack latency (client-side, ok acks): " + describe(relay.latency_ms),
        f"  node received {relay.node_received} media:requests of those methods; {ok} ok acks "
        f"({'equal' if relay.node_received == ok else 'DIFFER by ' + str(relay.node_received - ok)})",
        f"  by method: {dict(relay.by_method)}",
        f"  {relay.cpu}"
        + (f"; {relay.server_cpu_s * 1000 / ok:.1f} ms of server CPU per relayed request" if server and ok else ""),
        f"producer fan-out: {fan.events_sent} node events in {fan.send_wall:.2f} s "
        f"({fan.events_sent / max(fan.send_wall, 1e-9):.0f}/s, {fan.pairs} producers) to {fan.listeners} listeners",
        f"  node's acks: {dict(fan.node_acks)}; " + describe(fan.node_ack_ms),
        f"  audio:newProducer {fan.new_received}/{expected} expected, audio:producerClosed "
        f"{fan.closed_received}/{expected} ({'all arrived' if fan.drained else 'MISSING some'}); "
        f"{(fan.new_received + fan.closed_received) / max(span, 1e-9):.0f} client events/s over {span:.2f} s",
        f"  duplicates {fan.duplicates}; audio:producerClosed before its audio:newProducer: {fan.closed_before_new} "
        f"receipts, {len(fan.reordered)} of {fan.pairs} producers; "
        f"producers still listed by a join afterwards (0 expected): {fan.leftover}",
        "  node emit -> audio:newProducer receipt: " + describe(fan.latency_ms),
        f"  {fan.cpu}",
        f"node loss: {loss.rooms} rooms, {loss.members} members joined (placed on {dict(loss.placed)})",
        f"  media:reconnect received by {heard}/{loss.members} ({dict(loss.reasons)}); "
        f"{'all did' if heard == loss.members else 'NOT ALL'}",
        "  node disconnect -> media:reconnect: " + describe(loss.reconnect_ms),
        *(
            [
                f"  re-joins acked {len(loss.rejoin_ms)}/{loss.members}, on node B {on_b} ({dict(loss.rejoined)})",
                "  node disconnect -> re-join acked: " + describe(loss.rejoin_ms),
            ]
            if not args.no_rejoin
            else ["  re-joins: not sent (--no-rejoin)"]
        ),
        f"relay node's heartbeats failed: {dict(relay_node.heartbeat_failures) or 'none'}",
        *closing_lines(server is not None, problems, started),
    ]
    print("\n".join(summary), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_benchmark(run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
