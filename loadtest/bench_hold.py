"""Hold test (issue 11 §6): tens of thousands of authenticated sockets in rooms, held for minutes
with every ping answered, while a gift storm runs in some of the rooms.

    .venv/bin/python loadtest/bench_hold.py                  # 60,000 sockets, 4 engines, 10 minutes
    .venv/bin/python loadtest/bench_hold.py --quick          # 2,000 sockets, 2 engines, 1 minute
    .venv/bin/python loadtest/bench_hold.py --sockets 20000 --processes 2 --minutes 3

One process may hold at most ~20,000 open files here (the hard limit), so the sockets are spread
over several `flylive serve` processes (--processes, on ports of their own) that share one
PostgreSQL and one Redis (DATABASE_URL / REDIS_URL when set, else embedded servers, as
bench_realtime.py does), and are opened by several client processes (--clients), each running
loadtest/sio_wire.py's raw-WebSocket client for its share (this file, with `--worker JOB`).

The layout: rooms of --room-size members; socket i connects to engine i % processes, so every
room spans every engine process and its events cross Redis; room r belongs to client process
r % clients. Members of ordinary rooms join a room of a user who never connects. The first
--storm-rooms rooms are their first member's own room: that member (the host) joins and takes
seat 0, the next --senders-per-room members have coins and, during the hold, send `gift:send` to
the host in an open loop, --gift-rate gifts a second in all.

Set-up: users inserted with the engine's store functions, access tokens signed with the
JWT_SECRET the benchmark gave the servers (bench_targets.EngineTarget), rate limits raised as
loadtest/README.md says. Then each client process connects and joins its sockets, the hold runs
for --minutes, and every --report-seconds (60) it prints: sockets open (the clients' count and the
servers' `flylive_socket_connections`), unexpected disconnects, connect failures, pings received
and answered by the clients with the longest gap between two pings a socket saw (against the
server's ping interval, SOCKET_PING_INTERVAL: 25 s by default), server RSS per process and per
socket, server CPU, gifts acked and failed, and the servers' log warnings. A final table follows;
then the engines are stopped with their sockets still open (how long each shutdown took).

It asserts nothing; every wait is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import json
import math
import os
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_realtime import GIFT_ID, machine, outcome, rss_kib, say
from bench_rooms import _die_with_parent, cpu_seconds, log_problems, percentile, process_tree
from bench_targets import Account, EngineTarget
from sio_wire import SioSocket, SocketClosed, connect

from engine.config import Config

HOST = "127.0.0.1"
PER_PROCESS = 15_000  # sockets per engine and per client process: under the 20,000 open files
MARK = "@@"  # a worker's stdout line carrying a JSON message (anything else is shown as it is)
ACK_LIMIT_S = 60.0
GIFT_COINS = 10_000_000


@dataclass(frozen=True)
class Plan:
    sockets: int = 60_000
    processes: int = 4  # engine processes (main: one per PER_PROCESS sockets, at least 2)
    clients: int = 4  # client processes (likewise)
    minutes: float = 10
    report_seconds: float = 60
    room_size: int = 50
    storm_rooms: int = 10
    senders_per_room: int = 5
    gift_rate: float = 50.0  # gifts per second over all storm rooms
    connect_concurrency: int = 64  # per client process

    @property
    def rooms(self) -> int:
        return math.ceil(self.sockets / self.room_size)


QUICK = Plan(sockets=2000, processes=2, clients=2, minutes=1, report_seconds=15, storm_rooms=2, gift_rate=10)


def ping_interval() -> float:
    """The engines' ping interval: SOCKET_PING_INTERVAL if set (they inherit it), else the default."""
    return float(os.environ.get("SOCKET_PING_INTERVAL") or Config().socket_ping_interval)


# --------------------------------------------------------------------------------------------------
# the client processes (`--worker JOB`)


class Worker:
    """One client process: its share of the sockets, their joins, and its storm rooms' gifts."""

    def __init__(self, job: dict[str, Any]) -> None:
        self.job = job
        self.interval = float(job["ping_interval"])
        self.socks: list[SioSocket] = []
        self.connect_failures: Counter[str] = Counter()
        self.joins: Counter[str] = Counter()
        self.seats: Counter[str] = Counter()
        self.events: Counter[str] = Counter()
        self.gifts: Counter[str] = Counter()
        self.gift_ms: list[float] = []  # since the last report
        self.in_flight: set[asyncio.Task[None]] = set()
        self.stopping = asyncio.Event()
        self.senders: dict[int, list[SioSocket]] = {}  # storm room -> its senders
        self.connected = 0

    def count(self, packet: bytes) -> None:
        self.events[packet[4 : packet.find(b'"', 4)].decode()] += 1

    async def open_one(self, gate: asyncio.Semaphore, member: list[Any]) -> None:
        token, port, room, role = member
        async with gate:
            try:
                sock = await connect(HOST, port, {"token": token}, self.count)
            except (TimeoutError, OSError, SocketClosed) as exc:
                self.connect_failures[f"{type(exc).__name__}: {exc}"[:100]] += 1
                return
            self.socks.append(sock)
            self.connected += 1
            self.joins[await self.ack(sock, "room:join", {"roomId": room})] += 1
            if role == "h":
                self.seats[await self.ack(sock, "seat:take", {"roomId": room, "seatIndex": 0})] += 1
            elif role == "s":
                self.senders.setdefault(room, []).append(sock)

    @staticmethod
    async def ack(sock: SioSocket, event: str, data: Any) -> str:
        try:
            return outcome(await asyncio.wait_for(sock.call(event, data), ACK_LIMIT_S))
        except (TimeoutError, SocketClosed) as exc:
            return f"no ack ({type(exc).__name__})"

    async def open_all(self) -> None:
        gate = asyncio.Semaphore(self.job["concurrency"])
        members = self.job["members"]
        hosts = [m for m in members if m[3] == "h"]  # seated before anyone sends them a gift
        await asyncio.gather(*(self.open_one(gate, m) for m in hosts))
        progress = asyncio.create_task(self.progress())
        try:
            await asyncio.gather(*(self.open_one(gate, m) for m in members if m[3] != "h"))
        finally:
            progress.cancel()
        gc.collect()
        gc.freeze()  # the sockets live for the whole run: keep them out of the collector's passes

    async def progress(self) -> None:
        while True:
            await asyncio.sleep(10)
            emit({"type": "progress", "connected": self.connected, "joined": sum(self.joins.values()),
                  "failed": sum(self.connect_failures.values())})  # fmt: skip

    # -- the gift storm --------------------------------------------------------------------------

    async def storm(self, room: int, recipient: int, rate: float) -> None:
        senders = self.senders.get(room, [])
        if not senders or rate <= 0:
            return
        loop = asyncio.get_running_loop()
        started, n = loop.time(), 0
        while not self.stopping.is_set():
            n += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), max(0.0, started + n / rate - loop.time()))
                return
            sock = senders[n % len(senders)]
            if len(self.in_flight) >= 500:
                self.gifts["skipped: 500 in flight"] += 1
                continue
            payload = {"roomId": room, "giftId": GIFT_ID, "recipientId": recipient,
                       "idempotencyKey": f"hold-{self.job['tag']}-{room}-{n}"}  # fmt: skip
            task = asyncio.create_task(self.send_gift(sock, payload))
            self.in_flight.add(task)
            task.add_done_callback(self.in_flight.discard)

    async def send_gift(self, sock: SioSocket, payload: dict[str, Any]) -> None:
        started = time.perf_counter()
        result = await self.ack(sock, "gift:send", payload)
        self.gifts[result] += 1
        if result == "ok":
            self.gift_ms.append(round((time.perf_counter() - started) * 1000, 2))

    # -- reports ---------------------------------------------------------------------------------

    def report(self, kind: str = "report") -> dict[str, Any]:
        now = time.monotonic()
        late_after = self.interval * 1.2 + 1
        gap_max, late, open_socks = 0.0, 0, 0
        for sock in self.socks:
            if sock.closed:
                continue
            open_socks += 1
            gap = max(sock.ping_gap_max, now - sock.last_ping)
            gap_max = max(gap_max, gap)
            late += gap > late_after
            sock.ping_gap_max = 0.0  # the next report covers the next stretch
        gift_ms, self.gift_ms = self.gift_ms, []
        unexpected = Counter(s.close_reason for s in self.socks if s.closed and not s.closing)
        return {"type": kind, "planned": len(self.job["members"]), "connected": self.connected, "open": open_socks,
                "connect_failures": dict(self.connect_failures), "joins": dict(self.joins), "seats": dict(self.seats),
                "unexpected": dict(unexpected), "pings": sum(s.pings for s in self.socks),
                "pongs": sum(s.pongs for s in self.socks), "gap_max": gap_max, "late": late,
                "events": dict(self.events), "gifts": dict(self.gifts), "gift_ms": gift_ms,
                "in_flight": len(self.in_flight), "cpu_s": time.process_time(),
                "rss_kib": rss_kib(os.getpid())}  # fmt: skip

    async def drain(self, limit_s: float = ACK_LIMIT_S + 5) -> None:
        if self.in_flight:
            await asyncio.wait(set(self.in_flight), timeout=limit_s)

    def close(self) -> None:
        for sock in self.socks:
            sock.close()


def emit(message: dict[str, Any]) -> None:
    print(MARK + json.dumps(message), flush=True)


async def worker_main(job_path: Path) -> int:
    job = json.loads(job_path.read_bytes())  # noqa: ASYNC240  (before anything runs)
    worker = Worker(job)
    loop = asyncio.get_running_loop()
    commands = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(commands), sys.stdin)
    await worker.open_all()
    emit(worker.report("ready"))
    storms: list[asyncio.Task[None]] = []
    while True:
        line = (await commands.readline()).decode().strip()
        if line == "start":
            storms = [asyncio.create_task(worker.storm(s["room"], s["recipient"], s["rate"])) for s in job["storms"]]
        elif line == "report":
            emit(worker.report())
        elif line == "stop":
            worker.stopping.set()
            await asyncio.gather(*storms, return_exceptions=True)
            await worker.drain()
            emit(worker.report("final"))
        elif line in ("exit", ""):  # "" is the orchestrator gone
            worker.close()
            await asyncio.sleep(0.5)
            return 0


# --------------------------------------------------------------------------------------------------
# the orchestrator: engines, accounts, client processes


class Engines(EngineTarget):
    """`--processes` engine processes on one set of datastores (EngineTarget's, which it reuses
    for the databases, the accounts and the coins)."""

    label = "engines"

    def __init__(self, count: int) -> None:
        super().__init__()
        self.metrics_token = secrets.token_urlsafe(32)
        self.ports = [self.port] + [_free_port_not_in({self.port}) for _ in range(count - 1)]
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs = [self.tmp / f"engine-{k}.log" for k in range(count)]

    def _spawn_engine(self, k: int) -> subprocess.Popen[bytes]:
        data_dir = self.tmp / f"engine-{k}"
        data_dir.mkdir(exist_ok=True)
        env = {**self.server_env(self.ports[k], seed=k == 0), "METRICS_TOKEN": self.metrics_token,
               "FLYLIVE_DATA_DIR": str(data_dir)}  # fmt: skip
        exe = Path(sys.executable).parent / "flylive"
        with open(self.logs[k], "ab") as log:
            return subprocess.Popen([str(exe), "serve", "--port", str(self.ports[k])], env=env, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True,
                                    preexec_fn=_die_with_parent)  # fmt: skip

    async def _open_datastores(self) -> None:
        await super()._open_datastores()
        # EngineTarget pins embedded datastores to the server's core; here nothing is pinned.
        for root in self.datastore_pids:
            for pid in process_tree(root):
                with contextlib.suppress(OSError):
                    for tid in os.listdir(f"/proc/{pid}/task"):
                        os.sched_setaffinity(int(tid), range(os.cpu_count() or 1))

    async def start(self, http: aiohttp.ClientSession) -> None:
        await self._open_datastores()
        # The first one migrates and seeds (the demo catalog and admin); the others then start together.
        self.procs.append(self._spawn_engine(0))
        self.proc = self.procs[0]
        await self._wait_http(http, "/readyz")
        self.procs += [self._spawn_engine(k) for k in range(1, len(self.ports))]
        for k in range(1, len(self.ports)):
            # _wait_http watches self.proc on self.port (and shows self.log_path if it dies)
            self.proc, self.port, self.log_path = self.procs[k], self.ports[k], self.logs[k]
            await self._wait_http(http, "/readyz")
        self.proc, self.port, self.log_path = self.procs[0], self.ports[0], self.logs[0]
        from bench_gifts import admin_token

        self.admin_token = await admin_token(http, f"http://{HOST}:{self.port}")

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def problems(self) -> list[str]:
        return [f"engine {k}: {line}" for k, log in enumerate(self.logs) for line in log_problems(log)]

    def problem_count(self) -> int:
        return sum(int(line.split("x", 1)[0]) for log in self.logs for line in log_problems(log))

    async def metrics(self, http: aiohttp.ClientSession) -> list[dict[str, float]]:
        async def one(port: int) -> dict[str, float]:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                url, headers = f"http://{HOST}:{port}/metrics", {"Authorization": f"Bearer {self.metrics_token}"}
                async with http.get(url, headers=headers, timeout=aiohttp.ClientTimeout(total=10)) as resp:
                    return parse_metrics(await resp.text())
            return {}

        return list(await asyncio.gather(*(one(p) for p in self.ports)))

    def stop_engines(self, limit_s: float = 90) -> list[float]:
        """One SIGINT to every engine at once (a second one would cut its shutdown short); the
        seconds each took to exit. Any still running after `limit_s` is killed."""
        started = time.monotonic()
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        took = []
        for proc in self.procs:
            try:
                proc.wait(max(0.1, limit_s - (time.monotonic() - started)))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            took.append(time.monotonic() - started)
        return took

    async def stop(self) -> None:
        self.stop_engines()
        self.proc = None
        await super().stop()


def _free_port_not_in(taken: set[int]) -> int:
    from engine.embedded import free_port

    while (port := free_port()) in taken:
        pass
    taken.add(port)
    return port


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text → {'name{labels}': value} (comments skipped)."""
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            with contextlib.suppress(ValueError):
                values[name] = float(value)
    return values


async def make_accounts(engines: Engines, count: int, chunk: int = 2000, parallel: int = 4) -> list[Account]:
    gate = asyncio.Semaphore(parallel)

    async def batch(size: int) -> list[Account]:
        async with gate:
            return await engines.accounts(size)

    sizes = [min(chunk, count - start) for start in range(0, count, chunk)]
    return [a for part in await asyncio.gather(*(batch(s) for s in sizes)) for a in part]


@dataclass
class Layout:
    """Who connects where: members per client process, storm rooms, the senders to give coins."""

    jobs: list[dict[str, Any]]
    senders: list[Account]
    rooms: int


def lay_out(plan: Plan, members: list[Account], owners: list[Account], ports: list[int], tag: str) -> Layout:
    common = {"ping_interval": ping_interval(), "concurrency": plan.connect_concurrency}
    jobs: list[dict[str, Any]] = [
        {**common, "members": [], "storms": [], "tag": f"{tag}w{c}"} for c in range(plan.clients)
    ]
    senders: list[Account] = []
    storm_rate = plan.gift_rate / max(1, plan.storm_rooms)
    spare = iter(owners)
    for r in range(plan.rooms):
        group = members[r * plan.room_size : (r + 1) * plan.room_size]
        job = jobs[r % plan.clients]
        storm = r < plan.storm_rooms
        room = group[0].room_id if storm else next(spare).room_id
        if storm:
            job["storms"].append({"room": room, "recipient": group[0].user_id, "rate": storm_rate})
            senders += group[1 : 1 + plan.senders_per_room]
        for j, account in enumerate(group):
            role = "m" if not storm else "h" if j == 0 else "s" if j <= plan.senders_per_room else "m"
            assert account.auth is not None
            port = ports[(r * plan.room_size + j) % len(ports)]  # a room's members on every engine
            job["members"].append([account.auth["token"], port, room, role])
    return Layout(jobs, senders, plan.rooms)


class Client:
    """A client process seen from the orchestrator: commands in, JSON messages out."""

    def __init__(self, index: int, proc: asyncio.subprocess.Process) -> None:
        self.index = index
        self.proc = proc
        self.messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.reader = asyncio.create_task(self._read())
        self.last: dict[str, Any] = {}

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip()
            if line.startswith(MARK):
                message = json.loads(line[len(MARK) :])
                if message["type"] != "progress":
                    self.last = message
                await self.messages.put(message)
            elif line:
                print(f"  [client {self.index}] {line}", flush=True)

    async def send(self, command: str) -> None:
        if self.proc.stdin is not None and self.proc.returncode is None:
            with contextlib.suppress(ConnectionError):
                self.proc.stdin.write(command.encode() + b"\n")
                await self.proc.stdin.drain()

    async def wait_for(self, kind: str, limit_s: float) -> dict[str, Any] | None:
        deadline = time.monotonic() + limit_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                message = await asyncio.wait_for(self.messages.get(), left)
            except TimeoutError:
                return None
            if message["type"] == kind:
                return message
        return None


SELF = str(Path(__file__).resolve())


async def spawn_clients(jobs: list[dict[str, Any]], folder: Path) -> list[Client]:
    """One client process per job; its stderr goes to client-N.err in `folder` (shown at the end)."""
    clients = []
    for c, job in enumerate(jobs):
        path = folder / f"client-{c}.json"
        path.write_bytes(json.dumps(job).encode())
        with open(folder / f"client-{c}.err", "ab") as err:  # noqa: ASYNC230
            proc = await asyncio.create_subprocess_exec(
                sys.executable, SELF, "--worker", str(path), stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, stderr=err, preexec_fn=_die_with_parent, limit=1 << 24,
            )  # fmt: skip
        clients.append(Client(c, proc))
    return clients


# --------------------------------------------------------------------------------------------------
# what the orchestrator prints


@dataclass
class Sample:
    """One reading of the server side."""

    at: float
    rss_kib: list[int]
    cpu_s: list[float]
    store_rss_kib: int
    store_cpu_s: float
    metrics: list[dict[str, float]]
    problems: int

    @classmethod
    async def take(cls, engines: Engines, http: aiohttp.ClientSession) -> Sample:
        stores = [pid for root in engines.datastore_pids for pid in process_tree(root)]
        metrics = await engines.metrics(http)
        return cls(time.monotonic(), [_rss(p) for p in engines.pids], [cpu_seconds([p]) for p in engines.pids],
                   sum(_rss(p) for p in stores), cpu_seconds(stores), metrics, engines.problem_count())  # fmt: skip


def _rss(pid: int) -> int:
    with contextlib.suppress(OSError):
        return rss_kib(pid)
    return 0


def server_sockets(sample: Sample) -> list[int]:
    return [int(m.get("flylive_socket_connections", -1)) for m in sample.metrics]


def guard_cuts(sample: Sample) -> dict[str, int]:
    cuts: Counter[str] = Counter()
    for m in sample.metrics:
        for key, value in m.items():
            if key.startswith("flylive_socket_guard_disconnects_total{"):
                cuts[key.split('"')[1]] += int(value)
    return dict(cuts)


def merged(reports: list[dict[str, Any]], key: str) -> Counter[str]:
    total: Counter[str] = Counter()
    for report in reports:
        total.update(report.get(key, {}))
    return total


def total(reports: list[dict[str, Any]], key: str) -> float:
    return sum(r.get(key, 0) for r in reports)


def mib(kib: float) -> str:
    return f"{kib / 1024:,.0f} MiB"


def summary_line(reports: list[dict[str, Any]], base: Sample, before: Sample, now: Sample, interval: float) -> str:
    gifts = merged(reports, "gifts")
    gift_ms = [v for r in reports for v in r.get("gift_ms", [])]
    failed = sum(v for k, v in gifts.items() if k != "ok")
    sockets = server_sockets(now)
    per_socket = [  # "?" where the engine's /metrics did not answer within its timeout
        f"{(rss - b) / n:.1f}" if n > 0 else "?" for rss, b, n in zip(now.rss_kib, base.rss_kib, sockets, strict=True)
    ]  # fmt: skip
    wall = max(1e-9, now.at - before.at)
    cpu = [(b - a) / wall * 100 for a, b in zip(before.cpu_s, now.cpu_s, strict=True)]
    latency = f", ack p50 {percentile(gift_ms, 50):.0f} / p99 {percentile(gift_ms, 99):.0f} ms" if gift_ms else ""
    unexpected, failures = merged(reports, "unexpected"), merged(reports, "connect_failures")
    return (
        f"open {total(reports, 'open'):,.0f} of {total(reports, 'planned'):,.0f} (servers say "
        f"{sum(n for n in sockets if n >= 0):,}: "
        f"{' + '.join(f'{n:,}' for n in sockets)}); unexpected disconnects {dict(unexpected) or 0}, "
        f"connect failures {sum(failures.values())}\n"
        f"    pings received {total(reports, 'pings'):,.0f}, answered {total(reports, 'pongs'):,.0f}; longest gap "
        f"{max((r.get('gap_max', 0) for r in reports), default=0):.1f} s (interval {interval:.0f} s), sockets with a "
        f"gap over {interval * 1.2 + 1:.0f} s: {total(reports, 'late'):.0f}\n"
        f"    server RSS {' + '.join(mib(k) for k in now.rss_kib)} = {mib(sum(now.rss_kib))} "
        f"({' / '.join(per_socket)} KiB per socket over the start); "
        f"CPU {' / '.join(f'{c:.0f}' for c in cpu)} % of a core; datastores {mib(now.store_rss_kib)}, "
        f"{(now.store_cpu_s - before.store_cpu_s) / wall * 100:.0f} % of a core\n"
        f"    gifts ok {gifts['ok']:,} (+{len(gift_ms):,} in this stretch{latency}), failed {failed:,}, in flight "
        f"{total(reports, 'in_flight'):.0f}; guard cuts {guard_cuts(now) or 'none'}; server log warnings/errors "
        f"{now.problems}"
    )


def final_table(plan: Plan, finals: list[dict[str, Any]], all_ms: list[float], gap: float, base: Sample,
                start: Sample, end: Sample, interval: float) -> str:  # fmt: skip
    wall = max(1e-9, end.at - start.at)
    gifts = merged(finals, "gifts")
    sockets = server_sockets(end)
    rows = ["| engine | sockets (server) | RSS idle | RSS at the end | KiB per socket | CPU in the hold | "
            "% of a core |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for k, (idle, rss, n, a, b) in enumerate(
        zip(base.rss_kib, end.rss_kib, sockets, start.cpu_s, end.cpu_s, strict=True)
    ):
        rows.append(f"| {k} | {n:,} | {mib(idle)} | {mib(rss)} | {(rss - idle) / max(1, n):.1f} | {b - a:.1f} s | "
                    f"{(b - a) / wall * 100:.1f} |")  # fmt: skip
    idle_all, rss_all, n_all = sum(base.rss_kib), sum(end.rss_kib), sum(sockets)
    cpu_all = sum(end.cpu_s) - sum(start.cpu_s)
    rows.append(f"| all | {n_all:,} | {mib(idle_all)} | {mib(rss_all)} | {(rss_all - idle_all) / max(1, n_all):.1f} | "
                f"{cpu_all:.1f} s | {cpu_all / wall * 100:.1f} |")  # fmt: skip
    joins, seats = merged(finals, "joins"), merged(finals, "seats")
    events = merged(finals, "events")
    lat = (f"ack p50 {percentile(all_ms, 50):.1f} ms, p99 {percentile(all_ms, 99):.1f} ms, max {max(all_ms):.1f} ms"
           if all_ms else "no acks")  # fmt: skip
    lines = [
        "",
        f"== {plan.sockets:,} sockets, {plan.processes} engine processes, {plan.clients} client processes, "
        f"rooms of {plan.room_size}, held {wall / 60:.1f} min ==",
        f"sockets: planned {total(finals, 'planned'):,.0f}, connected {total(finals, 'connected'):,.0f}, open at the "
        f"end {total(finals, 'open'):,.0f} (servers: {n_all:,}); connect failures "
        f"{dict(merged(finals, 'connect_failures')) or 0}",
        f"joins {dict(joins)}, seats {dict(seats)}",
        f"unexpected disconnects: {dict(merged(finals, 'unexpected')) or 0}; guard cuts {guard_cuts(end) or 'none'}",
        f"pings: {total(finals, 'pings'):,.0f} received, {total(finals, 'pongs'):,.0f} answered; "
        f"longest gap between two pings (or since the last one) a socket saw in the hold {gap:.1f} s (interval "
        f"{interval:.0f} s)",
        f"gift storm: {plan.storm_rooms} rooms, {plan.gift_rate:g} gifts/s offered: {dict(gifts)}; {lat}",
        f"events the clients received: {', '.join(f'{k} {v:,}' for k, v in events.most_common(8))}",
        f"datastores: RSS {mib(end.store_rss_kib)}, CPU {end.store_cpu_s - start.store_cpu_s:.1f} s in the hold",
        f"client processes: CPU {total(finals, 'cpu_s'):.0f} s in all, RSS "
        f"{' + '.join(mib(r.get('rss_kib', 0)) for r in finals)}",
        "",
        *rows,
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# the run


async def connect_phase(clients: list[Client], engines: Engines, http: aiohttp.ClientSession, limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    waiting = {c.index for c in clients}
    progress: dict[int, dict[str, Any]] = {}
    while waiting and time.monotonic() < deadline:
        for client in clients:
            while not client.messages.empty():
                message = client.messages.get_nowait()
                if message["type"] == "ready":
                    waiting.discard(client.index)
                progress[client.index] = message
        sample = await Sample.take(engines, http)
        done = sum(m.get("connected", 0) for m in progress.values())
        joined = sum(sum(m["joins"].values()) if isinstance(m.get("joins"), dict) else m.get("joined", 0)
                     for m in progress.values())  # fmt: skip
        say(f"  connecting: {done:,} connected, {joined:,} joined; servers say {sum(server_sockets(sample)):,}; "
            f"server RSS {mib(sum(sample.rss_kib))}; clients ready {len(clients) - len(waiting)}/"
            f"{len(clients)}")  # fmt: skip
        if waiting:
            await asyncio.sleep(10)
    if waiting:
        say(f"  clients {sorted(waiting)} not ready after {limit_s:.0f} s: holding what is connected")


async def settle(engines: Engines, limit_s: float = 120) -> None:
    """Until the engines are nearly idle (below 10 % of a core each over 2 s): the joins' announcements are out."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        before = [cpu_seconds([p]) for p in engines.pids]
        await asyncio.sleep(2)
        if all(cpu_seconds([p]) - b < 0.2 for p, b in zip(engines.pids, before, strict=True)):
            return


async def hold(plan: Plan, engines: Engines, http: aiohttp.ClientSession, tmp: Path) -> None:
    interval = ping_interval()
    say(f"accounts: {plan.sockets:,} users who connect and {plan.rooms - plan.storm_rooms:,} room owners who do not")
    started = time.monotonic()
    members = await make_accounts(engines, plan.sockets)
    owners = await make_accounts(engines, max(0, plan.rooms - plan.storm_rooms))
    layout = lay_out(plan, members, owners, engines.ports, engines.run_tag)
    say(f"  {len(members) + len(owners):,} accounts in {time.monotonic() - started:.0f} s; coins for "
        f"{len(layout.senders)} gift senders")  # fmt: skip
    await engines.grant_coins(http, layout.senders, GIFT_COINS)
    await settle(engines, 30)
    base = await Sample.take(engines, http)
    say(f"engines idle: RSS {' + '.join(mib(k) for k in base.rss_kib)}; ping interval {interval:.0f} s; "
        f"{plan.clients} client processes connect {plan.sockets:,} sockets to ports {engines.ports}")  # fmt: skip
    clients = await spawn_clients(layout.jobs, tmp)
    try:
        started = time.monotonic()
        await connect_phase(clients, engines, http, limit_s=max(600, plan.sockets / 20))
        ready = [c.last for c in clients if c.last]
        say(f"  connected in {time.monotonic() - started:.0f} s; waiting for the engines to settle")
        await settle(engines)
        failures = dict(merged(ready, "connect_failures")) or 0
        say(f"  {total(ready, 'open'):,.0f} open; joins {dict(merged(ready, 'joins'))}; "
            f"seats {dict(merged(ready, 'seats'))}; connect failures {failures}")  # fmt: skip
        await run_hold(plan, clients, engines, http, base, interval)
    finally:
        for client in clients:
            await client.send("exit")
        await asyncio.gather(*(asyncio.wait_for(c.proc.wait(), 30) for c in clients), return_exceptions=True)
        for client in clients:
            if client.proc.returncode is None:
                client.proc.kill()
            err = (tmp / f"client-{client.index}.err").read_text(errors="replace").strip()
            if err:
                say(f"client {client.index} stderr (last lines):\n" + "\n".join(err.splitlines()[-15:]))


async def collect(clients: list[Client], kind: str, command: str, limit_s: float) -> list[dict[str, Any]]:
    for client in clients:
        await client.send(command)
    replies = await asyncio.gather(*(c.wait_for(kind, limit_s) for c in clients))
    missing = [c.index for c, r in zip(clients, replies, strict=True) if r is None]
    if missing:
        say(f"  no {kind} from clients {missing} within {limit_s:.0f} s (their last report counts)")
    return [r if r is not None else c.last for c, r in zip(clients, replies, strict=True)]


async def run_hold(plan: Plan, clients: list[Client], engines: Engines, http: aiohttp.ClientSession, base: Sample,
                   interval: float) -> None:  # fmt: skip
    seconds = plan.minutes * 60
    say(f"hold: {seconds / 60:g} minutes, gift storm in {plan.storm_rooms} rooms at {plan.gift_rate:g} gifts/s")
    for client in clients:
        await client.send("start")
    start = before = await Sample.take(engines, http)
    all_ms: list[float] = []
    gaps: list[float] = []  # the longest gap of each stretch
    stretch = 0
    while (elapsed := time.monotonic() - start.at) < seconds - 1:
        stretch += 1
        await asyncio.sleep(max(0.0, min(stretch * plan.report_seconds, seconds) - elapsed))
        reports = await collect(clients, "report", "report", 30)
        now = await Sample.take(engines, http)
        all_ms += [v for r in reports for v in r.get("gift_ms", [])]
        gaps.append(max((r.get("gap_max", 0) for r in reports), default=0))
        say(f"{(now.at - start.at) / 60:.1f} min: " + summary_line(reports, base, before, now, interval))
        before = now
    finals = await collect(clients, "final", "stop", ACK_LIMIT_S + 30)
    end = await Sample.take(engines, http)
    all_ms += [v for r in finals for v in r.get("gift_ms", [])]
    gaps.append(max((r.get("gap_max", 0) for r in finals), default=0))
    print(final_table(plan, finals, all_ms, max(gaps), base, start, end, interval), flush=True)
    problems = engines.problems()
    print("server log warnings/errors during the run: " + ("none" if not problems else "(grouped)"))
    for line in problems:
        print(f"  {line}")
    say("stopping the engines with their sockets open")
    took = await asyncio.to_thread(engines.stop_engines)
    codes = [p.returncode for p in engines.procs]
    say(f"  engines stopped in {' / '.join(f'{t:.1f}' for t in took)} s (exit codes {codes})")
    late = [line for line in engines.problems() if line not in problems]
    print("server log warnings/errors at shutdown: " + ("none" if not late else "(grouped, new since the run)"))
    for line in late:
        print(f"  {line}")


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="2,000 sockets, 2 engines, 1 minute")
    parser.add_argument("--sockets", type=int)
    parser.add_argument("--processes", type=int, help=f"engine processes (default: one per {PER_PROCESS:,} sockets)")
    parser.add_argument("--clients", type=int, help=f"client processes (default: one per {PER_PROCESS:,} sockets)")
    parser.add_argument("--minutes", type=float)
    parser.add_argument("--report-seconds", type=float)
    parser.add_argument("--room-size", type=int)
    parser.add_argument("--storm-rooms", type=int)
    parser.add_argument("--senders-per-room", type=int)
    parser.add_argument("--gift-rate", type=float, help="gifts per second over all storm rooms")
    parser.add_argument("--keep-logs", type=Path, help="copy the engines' logs into this folder at the end")
    args = parser.parse_args(argv)
    if args.worker:
        return await worker_main(args.worker)
    plan = QUICK if args.quick else Plan()
    changes = {k: v for k, v in vars(args).items() if v is not None and k in {f.name for f in dataclasses.fields(Plan)}}
    plan = dataclasses.replace(plan, **changes)
    each = max(2, math.ceil(plan.sockets / PER_PROCESS))  # at least two: rooms span processes
    plan = dataclasses.replace(plan, processes=args.processes or each, clients=args.clients or each)
    plan = dataclasses.replace(plan, storm_rooms=min(plan.storm_rooms, plan.rooms),
                               senders_per_room=min(plan.senders_per_room, plan.room_size - 1))  # fmt: skip
    info = machine()
    say(f"machine: {info['nproc']} cores, {info['cpu']}, {info['memory']}; load average {info['load_average']}; "
        f"commit {info['commit']}; open files limit {resource.getrlimit(resource.RLIMIT_NOFILE)}")  # fmt: skip
    say(f"plan: {plan}")
    engines = Engines(plan.processes)
    try:
        async with aiohttp.ClientSession() as http:
            say(f"starting {plan.processes} engines on ports {engines.ports} ({engines_datastores(engines)})")
            await engines.start(http)
            say(f"  engines ready (pids {engines.pids}); nothing pinned")
            await hold(plan, engines, http, engines.tmp)
    finally:
        say("stopping the datastores")
        if args.keep_logs:
            args.keep_logs.mkdir(parents=True, exist_ok=True)
            for log in [*engines.logs, *engines.tmp.glob("client-*.err")]:
                with contextlib.suppress(OSError):
                    shutil.copy(log, args.keep_logs / log.name)
        await engines.stop()
    return 0


def engines_datastores(engines: Engines) -> str:
    pg = "DATABASE_URL" if os.environ.get("DATABASE_URL") else "embedded PostgreSQL"
    redis = "REDIS_URL" if os.environ.get("REDIS_URL") else "embedded Valkey"
    return f"sharing {pg} and {redis}"


if __name__ == "__main__":
    sys.exit(uvloop.run(main()))
