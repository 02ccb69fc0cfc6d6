"""Rooms benchmark: `room:join` latency and chat fan-out, against a FlyLive server on 127.0.0.1.

Without --url it starts its own server (`.venv/bin/flylive serve --no-seed` on a free port, with a
temporary FLYLIVE_DATA_DIR, rate limits raised, and DATABASE_URL/REDIS_URL passed through when
set), waits for /readyz, and stops it with SIGINT at the end. It prints figures; it asserts nothing.

    .venv/bin/python loadtest/bench_rooms.py                      # defaults: 200 joins, 200 listeners
    .venv/bin/python loadtest/bench_rooms.py --listeners 50 --joins 50 --seconds 5

Phase 1 (join): K users, sockets connected up front, join one room one after the other (the room
grows from 0 to K members, so later acks carry bigger snapshots and each join is announced to
everyone already inside); then all K join a second room at once (each such join also leaves the
first room, announced to those still in it). Latencies are over the joins acked `success: true`.
After the K sockets disconnect, a probe joins both rooms and counts the members still listed.

Phase 2 (fan-out): N listeners and M senders join one room; the senders send `chat:message` at a
fixed total rate (--rate; 0 means closed loop: each sender sends its next message once the previous
one is acked) for --seconds or until --max-messages are sent. Each message carries its send time
(this process's monotonic clock); every listener counts the `chat:message` broadcasts it receives
and the time from send to receipt. Receipt time includes this client's own event-loop delay: the
benchmark's clients share the machine with the server. The room is probed for leftover members at
the end, as in phase 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import os
import random
import re
import shutil
import signal
import statistics
import string
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import aiohttp
import socketio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the engine, when run as a script
from engine.embedded import free_port

REPO = Path(__file__).resolve().parents[1]
LOOPBACK_HOSTS = {"127.0.0.1", "localhost"}
# Raised on the server this script starts: one IP registers hundreds of users and senders chat fast.
SERVER_ENV = {
    "HTTP_RATE_LIMIT": "1000000/1",
    "LOGIN_RATE_LIMIT_IP": "1000000/1",
    "LOGIN_RATE_LIMIT_PHONE": "1000000/1",
    "SOCKET_EVENT_RATE_LIMIT": "1000000/1",
    "MEDIA_EVENT_RATE_LIMIT": "1000000/1",
    "CHAT_RATE_LIMIT": "1000000/1",
    # Registration hashes a password; cheap parameters keep the set-up short (no effect on rooms).
    "ARGON2_MEMORY_KIB": "8192",
    "ARGON2_TIME_COST": "1",
    "FLYLIVE_SEED_DEMO": "false",
    "FLYLIVE_HOST": "127.0.0.1",
}
PASSWORD = "bench-password-1"
TAG = "bench"


# --------------------------------------------------------------------------------------------------
# figures


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, round(q / 100 * len(ordered) + 0.5))
    return ordered[min(rank, len(ordered)) - 1]


def describe_ms(values: list[float]) -> str:
    if not values:
        return "no samples"
    return (
        f"p50 {percentile(values, 50):7.1f} ms  p99 {percentile(values, 99):7.1f} ms  "
        f"max {max(values):7.1f} ms  mean {statistics.fmean(values):7.1f} ms  (n={len(values)})"
    )


def cpu_seconds(pids: Iterable[int]) -> float:
    """utime+stime of these processes (Linux /proc), 0 for any that is gone."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def process_tree(root: int) -> list[int]:
    """`root` and all its descendants (Linux /proc)."""
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        for task in Path(f"/proc/{pid}/task").glob("*") if Path(f"/proc/{pid}/task").exists() else []:
            with contextlib.suppress(OSError):
                todo.extend(int(child) for child in (task / "children").read_text().split())
    return found


@dataclass
class CpuMeter:
    server_pid: int | None
    started: float = field(default_factory=time.monotonic)
    client0: float = field(default_factory=time.process_time)
    server0: float = 0.0

    def __post_init__(self) -> None:
        self.server0 = self._server()

    def _server(self) -> float:
        return cpu_seconds(process_tree(self.server_pid)) if self.server_pid else 0.0

    def line(self) -> str:
        wall = time.monotonic() - self.started
        client = time.process_time() - self.client0
        text = f"wall {wall:.1f} s, client CPU {client:.1f} s"
        if self.server_pid:
            text += f", server CPU {self._server() - self.server0:.1f} s (flylive + PostgreSQL + Valkey)"
        return text


# --------------------------------------------------------------------------------------------------
# the server under test


def _die_with_parent() -> None:
    # A benchmark killed outright must not leave its server behind (Linux only; ignored elsewhere).
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGINT)  # PR_SET_PDEATHSIG


def log_problems(log_path: Path) -> list[str]:
    """A server's WARNING/ERROR log lines (JSON lines), grouped: count, logger, message, where, error."""
    groups: Counter[str] = Counter()
    with contextlib.suppress(OSError):
        for line in log_path.read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if not isinstance(entry, dict) or entry.get("level") not in ("WARNING", "ERROR", "CRITICAL"):
                continue
            exc = str(entry.get("exc") or entry.get("redis_exception") or "")
            frames = re.findall(r'File "' + re.escape(str(REPO)) + r'/((?:engine|httpapi)/[^"]+)", line (\d+)', exc)
            where = f" at {frames[-1][0]}:{frames[-1][1]}" if frames else ""
            error = exc.strip().splitlines()[-1] if exc.strip() else ""
            event = f" [{entry['event']}]" if entry.get("event") else ""
            groups[f"{entry.get('level')} {entry.get('logger')}: {entry.get('msg')}{event}{where}: {error}"] += 1
    return [f"{count:5d} x {text}" for text, count in groups.most_common()]


class OwnServer:
    """`flylive serve` in a subprocess with a throw-away data directory."""

    def __init__(self, seed: bool = False, env: dict[str, str] | None = None) -> None:
        self.seed = seed  # the demo accounts and catalog (bench_gifts needs the admin and the gifts)
        self.env = env or {}  # over SERVER_ENV (bench_flood keeps the production socket budget)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = Path(tempfile.mkdtemp(prefix="flylive-bench-"))
        # Embedded PostgreSQL runs as `nobody` under root: let it reach its data folder here.
        self.data_dir.chmod(0o755)
        self.log_path = self.data_dir / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        exe = REPO / ".venv" / "bin" / "flylive"
        if not exe.exists():
            exe = Path(sys.executable).parent / "flylive"
        env = {
            **os.environ,
            **SERVER_ENV,
            "FLYLIVE_DATA_DIR": str(self.data_dir),
            "FLYLIVE_PORT": str(self.port),
            "FLYLIVE_SEED_DEMO": "true" if self.seed else "false",
            "GIFT_RATE_LIMIT": "1000000/1",
            **self.env,
        }
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [str(exe), "serve", *([] if self.seed else ["--no-seed"]), "--port", str(self.port)],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # our Ctrl-C must not reach it before we stop it ourselves
                preexec_fn=_die_with_parent,
            )

    async def wait_ready(self, http: aiohttp.ClientSession, limit_s: float = 120) -> None:
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"flylive serve exited with {self.proc.returncode}; log:\n{self.log_tail()}")
            with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                async with http.get(f"{self.url}/readyz", timeout=aiohttp.ClientTimeout(total=2)) as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.2)
        raise RuntimeError(f"flylive serve not ready after {limit_s:.0f}s; log:\n{self.log_tail()}")

    def problems(self) -> list[str]:
        return log_problems(self.log_path)

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"

    def stop(self, keep_log: str | None = None) -> int | None:
        code = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGINT)
                try:
                    self.proc.wait(60)
                except subprocess.TimeoutExpired:
                    self.proc.terminate()
                    try:
                        self.proc.wait(15)
                    except subprocess.TimeoutExpired:
                        self.proc.kill()
                        self.proc.wait()
            code = self.proc.returncode
        if keep_log:
            with contextlib.suppress(OSError):
                shutil.copyfile(self.log_path, keep_log)
        shutil.rmtree(self.data_dir, ignore_errors=True)
        return code


# --------------------------------------------------------------------------------------------------
# users and sockets


@dataclass
class Account:
    token: str
    user_id: int
    room_id: int


class Registrar:
    def __init__(self, http: aiohttp.ClientSession, url: str) -> None:
        self.http = http
        self.url = url
        self.base = random.randrange(10_000_000)
        self.count = 0

    def phone(self) -> str:
        self.count += 1
        return f"+1555{(self.base + self.count * 7919) % 10_000_000:07d}"

    async def register(self) -> Account:
        for _attempt in range(5):
            name = "bench " + "".join(random.choices(string.ascii_lowercase, k=6))
            body = {"name": name, "phone": self.phone(), "country": "US", "gender": "male", "dob": "1990-01-01"}
            async with self.http.post(f"{self.url}/api/register", json={**body, "password": PASSWORD}) as resp:
                data = await resp.json(content_type=None)
                if resp.status == 422 and "phone" in (data.get("errors") or {}):
                    continue  # number taken (an earlier run on the same database): draw another
                if resp.status != 200:
                    raise RuntimeError(f"POST /api/register answered {resp.status}: {data}")
            token = data["token"]
            headers = {"Authorization": f"Bearer {token}"}
            async with self.http.get(f"{self.url}/api/user", headers=headers) as resp:
                user = await resp.json(content_type=None)
                if resp.status != 200:
                    raise RuntimeError(f"GET /api/user answered {resp.status}: {user}")
            return Account(token, int(user["id"]), int(user["room"]["id"]))
        raise RuntimeError("could not find a free phone number in 5 tries")

    async def register_many(self, count: int, concurrency: int = 8) -> list[Account]:
        return await gather_limited([self.register for _ in range(count)], concurrency)


async def gather_limited(jobs: list[Callable[[], Awaitable[Any]]], concurrency: int) -> list[Any]:
    gate = asyncio.Semaphore(concurrency)

    async def one(job: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await job()

    return list(await asyncio.gather(*(one(job) for job in jobs)))


class Client:
    """One Socket.IO connection of one user."""

    unexpected: ClassVar[Counter[str]] = Counter()  # disconnects we did not ask for, by reason (all clients)
    connect_failures: ClassVar[Counter[str]] = Counter()  # refused or failed handshakes, by error

    def __init__(self, account: Account) -> None:
        self.account = account
        self.sio = socketio.AsyncClient(reconnection=False)
        self.closing = False
        self.sio.on("disconnect", self.on_disconnect)
        self.sio.on("auth:force_disconnect", self.on_forced)

    async def on_disconnect(self, reason: Any = None) -> None:
        if not self.closing:
            Client.unexpected[f"disconnect ({reason})"] += 1

    async def on_forced(self, data: Any = None) -> None:
        Client.unexpected[f"auth:force_disconnect {data}"] += 1

    async def connect(self, url: str) -> Client:
        await self.sio.connect(url, auth={"token": self.account.token}, transports=["websocket"], wait_timeout=30)
        return self

    async def call(self, event: str, data: Any, limit_s: float = 30) -> tuple[float, Any]:
        """(ack latency in ms, ack); the ack is an exception text when none came within limit_s."""
        started = time.perf_counter()
        try:
            ack = await self.sio.call(event, data, timeout=limit_s)
        except Exception as exc:
            ack = f"{type(exc).__name__}: {exc}"
        return (time.perf_counter() - started) * 1000, ack

    async def close(self) -> None:
        self.closing = True
        with contextlib.suppress(Exception):
            if self.sio.connected:
                await self.sio.disconnect()


def ack_outcome(ack: Any) -> str:
    if isinstance(ack, dict):
        return "ok" if ack.get("success") else f"fail {ack.get('code') or ack.get('error')}"
    return f"no ack ({ack})"


async def connect_all(url: str, accounts: list[Account]) -> list[Client]:
    """Connect one socket per account; those that fail are counted in Client.connect_failures and left out."""
    clients = [Client(a) for a in accounts]
    connected = await gather_limited([_connector(c, url) for c in clients], 25)
    return [c for c, ok in zip(clients, connected, strict=True) if ok]


def _connector(client: Client, url: str) -> Callable[[], Awaitable[bool]]:
    async def connect() -> bool:
        try:
            await client.connect(url)
        except Exception as exc:
            Client.connect_failures[f"{type(exc).__name__}: {exc}"] += 1
            await client.close()
            return False
        return True

    return connect


async def close_all(clients: list[Client]) -> None:
    await asyncio.gather(*(c.close() for c in clients))


# --------------------------------------------------------------------------------------------------
# phase 1: joins


@dataclass
class JoinFigures:
    sequential: list[float]
    burst: list[float]
    burst_wall: float
    seq_outcomes: Counter[str]
    burst_outcomes: Counter[str]
    ghosts: str


async def members_left(url: str, prober: Account, room_ids: list[int], wait_s: float = 5) -> str:
    """After everyone else left: how many members each room still lists (0 expected), as text.

    Disconnects are handled by the server after the client is gone, so ask again for up to wait_s.
    """
    deadline = time.monotonic() + wait_s
    client = Client(prober)
    for attempt in range(10):
        try:
            await client.connect(url)
            break
        except Exception as exc:
            Client.connect_failures[f"{type(exc).__name__}: {exc} (probe)"] += 1
            await client.close()
            if attempt == 9:
                return f"probe could not connect: {exc}"
            client = Client(prober)
            await asyncio.sleep(0.5)
    counts: dict[int, Any] = {}
    try:
        for room_id in room_ids:
            while True:
                _ms, ack = await client.call("room:join", {"roomId": room_id})
                ok = ack_outcome(ack) == "ok" and isinstance(ack, dict)
                counts[room_id] = len(ack.get("participants") or []) if ok else f"probe join {ack_outcome(ack)}"
                if counts[room_id] == 0 or time.monotonic() >= deadline:
                    break
                await asyncio.sleep(0.5)
            await client.call("room:leave", {"roomId": room_id})
    finally:
        await client.close()
    return ", ".join(f"room {room}: {count}" for room, count in counts.items())


async def bench_joins(
    url: str, accounts: list[Account], room_a: int, room_b: int, prober: Account, server_pid: int | None
) -> JoinFigures:
    clients = await connect_all(url, accounts)
    seq_outcomes: Counter[str] = Counter()
    burst_outcomes: Counter[str] = Counter()
    try:
        meter = CpuMeter(server_pid)
        sequential = []
        for client in clients:
            ms, ack = await client.call("room:join", {"roomId": room_a})
            seq_outcomes[ack_outcome(ack)] += 1
            if ack_outcome(ack) == "ok":  # a failure can come back fast: time the joins that happened
                sequential.append(ms)
        print(f"  sequential joins: {meter.line()}", flush=True)
        # Everyone moves to room B at once (a join also leaves room A, announced to those still there).
        meter = CpuMeter(server_pid)
        started = time.perf_counter()
        results = await asyncio.gather(*(c.call("room:join", {"roomId": room_b}) for c in clients))
        burst_wall = time.perf_counter() - started
        print(f"  burst joins:      {meter.line()}", flush=True)
        for _ms, ack in results:
            burst_outcomes[ack_outcome(ack)] += 1
    finally:
        await close_all(clients)
    ghosts = await members_left(url, prober, [room_a, room_b])
    burst = [ms for ms, ack in results if ack_outcome(ack) == "ok"]
    return JoinFigures(sequential, burst, burst_wall, seq_outcomes, burst_outcomes, ghosts)


# --------------------------------------------------------------------------------------------------
# phase 2: fan-out


@dataclass
class FanoutFigures:
    sent: int = 0
    ack_ms: list[float] = field(default_factory=list)
    acks: Counter[str] = field(default_factory=Counter)
    delivered: int = 0
    latency_ms: list[float] = field(default_factory=list)
    first_send: float = 0.0
    last_send: float = 0.0
    last_delivery: float = 0.0
    duplicates: int = 0
    foreign: int = 0
    per_listener: list[int] = field(default_factory=list)
    drained: bool = False
    join_outcomes: Counter[str] = field(default_factory=Counter)
    ghosts: str = ""
    listening: int = 0  # listeners connected and in the room
    expected: int = -1  # known once the senders are done
    all_in: asyncio.Event = field(default_factory=asyncio.Event)
    cpu: str = ""


class Listener:
    def __init__(self, client: Client, figures: FanoutFigures, run_id: str) -> None:
        self.client = client
        self.figures = figures
        self.prefix = f"{TAG}:{run_id}:"
        self.seen: set[str] = set()
        self.count = 0
        client.sio.on("chat:message", self.on_chat)

    async def on_chat(self, data: Any = None) -> None:
        now = time.perf_counter()
        content = data.get("content", "") if isinstance(data, dict) else ""
        if not content.startswith(self.prefix):
            self.figures.foreign += 1  # history replay or someone else's message: not ours to time
            return
        _tag, _run, msg_id, sent_at = content.split(":")
        if msg_id in self.seen:
            self.figures.duplicates += 1
            return
        self.seen.add(msg_id)
        self.count += 1
        self.figures.delivered += 1
        self.figures.latency_ms.append((now - float(sent_at)) * 1000)
        self.figures.last_delivery = now
        if self.figures.delivered == self.figures.expected:
            self.figures.all_in.set()


async def bench_fanout(
    url: str,
    listeners_acc: list[Account],
    senders_acc: list[Account],
    room_id: int,
    prober: Account,
    seconds: float,
    rate: float,
    max_messages: int,
    server_pid: int | None,
) -> FanoutFigures:
    figures = FanoutFigures()
    run_id = "".join(random.choices(string.ascii_lowercase, k=6))
    listener_clients = await connect_all(url, listeners_acc)
    sender_clients = await connect_all(url, senders_acc)
    listeners = [Listener(c, figures, run_id) for c in listener_clients]
    try:
        joins = await gather_limited(
            [_joiner(c, room_id) for c in listener_clients + sender_clients], 25
        )  # not timed: phase 1 did that
        figures.join_outcomes.update(ack_outcome(ack) for _ms, ack in joins)
        joined = {
            id(c)
            for c, (_ms, ack) in zip(listener_clients + sender_clients, joins, strict=True)
            if ack_outcome(ack) == "ok"
        }
        listeners = [listener for listener in listeners if id(listener.client) in joined]
        senders = [c for c in sender_clients if id(c) in joined]
        figures.listening = len(listeners)
        await asyncio.sleep(1.0)  # let the join announcements settle before timing chat

        counter = iter(range(max_messages))
        deadline = time.perf_counter() + seconds
        meter = CpuMeter(server_pid)
        figures.first_send = time.perf_counter()

        async def send_one(sender: Client) -> bool:
            msg_id = next(counter, None)
            if msg_id is None or time.perf_counter() >= deadline:
                return False
            sent_at = time.perf_counter()
            content = f"{TAG}:{run_id}:{msg_id}:{sent_at:.9f}"
            figures.sent += 1
            figures.last_send = sent_at
            ms, ack = await sender.call("chat:message", {"roomId": room_id, "content": content})
            figures.ack_ms.append(ms)
            figures.acks[ack_outcome(ack)] += 1
            return True

        if not senders:
            print("  no sender could join the room: nothing to send", flush=True)
        elif rate <= 0:  # closed loop: each sender as fast as its acks come back

            async def loop(sender: Client) -> None:
                while await send_one(sender):
                    pass

            await asyncio.gather(*(loop(s) for s in senders))
        else:  # open loop: a fixed total rate, spread round-robin over the senders
            interval = 1 / rate
            pending: set[asyncio.Task[bool]] = set()
            for n in range(max_messages):
                at = figures.first_send + n * interval
                if at >= deadline:
                    break
                await asyncio.sleep(max(0.0, at - time.perf_counter()))
                task = asyncio.create_task(send_one(senders[n % len(senders)]))
                pending.add(task)
                task.add_done_callback(pending.discard)
            if pending:
                await asyncio.wait(pending, timeout=60)

        figures.expected = figures.acks["ok"] * len(listeners)
        if figures.delivered >= figures.expected:
            figures.all_in.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(figures.all_in.wait(), 30)  # the stragglers, bounded
        figures.drained = figures.delivered >= figures.expected
        figures.cpu = meter.line()
        figures.per_listener = [listener.count for listener in listeners]
    finally:
        await close_all(listener_clients + sender_clients)
    figures.ghosts = await members_left(url, prober, [room_id])
    return figures


def _joiner(client: Client, room_id: int) -> Callable[[], Awaitable[tuple[float, Any]]]:
    return lambda: client.call("room:join", {"roomId": room_id})


# --------------------------------------------------------------------------------------------------
# main


def code_version() -> str:
    """The checkout's commit (and whether it has local changes), to tie figures to code."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "engine", "httpapi"], cwd=REPO,
                               capture_output=True, text=True)  # fmt: skip
    except OSError:
        return "unknown"
    return (
        head.stdout.strip() + (" + local changes" if dirty.stdout.strip() else "")
        if head.returncode == 0
        else "unknown"
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--url", help="server to measure (http://127.0.0.1:PORT); default: start one")
    parser.add_argument("--joins", type=int, default=200, help="K: joins to time, one user each (default 200)")
    parser.add_argument("--listeners", type=int, default=200, help="N: listeners in the fan-out room (default 200)")
    parser.add_argument("--senders", type=int, default=4, help="M: chat senders (default 4)")
    parser.add_argument("--seconds", type=float, default=10, help="T: how long the senders send (default 10)")
    parser.add_argument(
        "--rate", type=float, default=20, help="chat messages per second over all senders (default 20; 0: closed loop)"
    )
    parser.add_argument("--max-messages", type=int, default=5000, help="stop sending after this many (default 5000)")
    parser.add_argument("--server-log", help="copy the started server's log (JSON lines) to this file at the end")
    args = parser.parse_args(argv)
    if args.url:
        host = urlsplit(args.url).hostname
        if host not in LOOPBACK_HOSTS:
            parser.error(f"--url must point at 127.0.0.1 (got host {host!r})")
        args.url = args.url.rstrip("/").replace("//localhost", "//127.0.0.1")
    for name in ("joins", "listeners", "senders", "max_messages"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.seconds <= 0:
        parser.error("--seconds must be positive")
    return args


async def run(args: argparse.Namespace) -> int:
    server = None if args.url else OwnServer()
    url = args.url or (server.url if server else "")
    summary: list[str] = []
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

            registrar = Registrar(http, url)
            users_needed = max(args.joins, args.listeners + args.senders)
            print(f"registering {users_needed} users + 3 hosts ...", flush=True)
            t0 = time.monotonic()
            hosts = await registrar.register_many(3)
            users = await registrar.register_many(users_needed)
            print(f"  done in {time.monotonic() - t0:.1f} s", flush=True)

            print(f"phase 1: {args.joins} sequential room:join into room {hosts[0].room_id}, then a burst", flush=True)
            joins = await bench_joins(url, users[: args.joins], hosts[0].room_id, hosts[1].room_id, hosts[0], pid)

            mode = "closed loop" if args.rate <= 0 else f"{args.rate:g} msg/s"
            print(
                f"phase 2: {args.senders} senders -> {args.listeners} listeners in room {hosts[2].room_id}, "
                f"{args.seconds:g} s at {mode} (max {args.max_messages} messages)",
                flush=True,
            )
            fan = await bench_fanout(
                url,
                users[: args.listeners],
                users[args.listeners : args.listeners + args.senders],
                hosts[2].room_id,
                hosts[2],
                args.seconds,
                args.rate,
                args.max_messages,
                pid,
            )
    finally:
        problems = server.problems() if server else []
        code = server.stop(args.server_log) if server else None
        if server is not None:
            print(f"server stopped (exit code {code})", flush=True)

    span = (fan.last_delivery or fan.last_send) - fan.first_send
    expected = fan.acks["ok"] * fan.listening
    send_span = max(fan.last_send - fan.first_send, 1e-9)
    per = fan.per_listener
    summary += [
        "=" * 100,
        f"FlyLive rooms benchmark  {time.strftime('%Y-%m-%d %H:%M:%S')}  cores={os.cpu_count()}  "
        f"load avg at start {load_before:.1f}  code {code_version()}  "
        f"server={'own (embedded or DATABASE_URL/REDIS_URL)' if server else url}",
        f"room:join sequential, room grows 0->{args.joins} (ok acks): " + describe_ms(joins.sequential),
        f"room:join {args.joins} at once into a 2nd room ({joins.burst_wall:.2f} s wall, "
        f"{len(joins.burst) / max(joins.burst_wall, 1e-9):.0f} ok joins/s; ok acks): " + describe_ms(joins.burst),
        f"room:join acks: sequential {dict(joins.seq_outcomes)}, all at once {dict(joins.burst_outcomes)}",
        f"members still listed up to 5 s after all {args.joins} disconnected (0 expected): {joins.ghosts}",
        f"chat fan-out: {args.senders} senders, {args.listeners} listeners ({fan.listening} connected and joined), "
        f"{mode}, {args.seconds:g} s",
        f"  room:join acks (untimed) {dict(fan.join_outcomes)}",
        f"  members still listed up to 5 s after all disconnected (0 expected): {fan.ghosts}",
        f"  messages sent {fan.sent} ({fan.sent / send_span:.1f}/s), acks {dict(fan.acks)}",
        "  chat:message ack: " + describe_ms(fan.ack_ms),
        f"  deliveries {fan.delivered}/{expected} expected "
        f"({'all arrived' if fan.drained else 'MISSING ' + str(expected - fan.delivered)}), "
        f"{fan.delivered / max(span, 1e-9):.0f} deliveries/s over {span:.2f} s (first send -> last delivery)",
        f"  per listener: min {min(per) if per else 0} max {max(per) if per else 0}; "
        f"duplicates {fan.duplicates}, other chat messages {fan.foreign}",
        "  fan-out latency (send -> listener receipt): " + describe_ms(fan.latency_ms),
        f"  {fan.cpu}",
        *closing_lines(server is not None, problems, started),
    ]
    print("\n".join(summary), flush=True)
    return 0


def closing_lines(own_server: bool, problems: list[str], started: float) -> list[str]:
    """The last lines of every benchmark's summary: what went wrong on the wire and in the server."""
    return [
        f"unexpected client disconnects: {dict(Client.unexpected) or 'none'}",
        f"failed socket connects: {dict(Client.connect_failures) or 'none'}",
        "server log warnings/errors: " + ("n/a (--url)" if not own_server else "none" if not problems else "(grouped)"),
        *(f"  {p}" for p in problems[:12]),
        f"total run time {time.monotonic() - started:.1f} s",
        "=" * 100,
    ]


def run_benchmark(run: Callable[[argparse.Namespace], Coroutine[Any, Any, int]], args: argparse.Namespace) -> int:
    """Run a benchmark on uvloop when it is installed; exit codes 130 on Ctrl-C, 1 when set-up failed."""
    try:
        with contextlib.suppress(ImportError):
            import uvloop

            return uvloop.run(run(args))
        return asyncio.run(run(args))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted (the server this run started, if any, was stopped)", file=sys.stderr)
        return 130
    except RuntimeError as exc:  # the server did not start, or set-up (registration, a node) failed
        print(f"benchmark aborted: {exc}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    return run_benchmark(run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
