"""Backpressure (issue 11 §2): clients that never read, in a busy room; the server's RSS over time.

    .venv/bin/python loadtest/bench_slow_reader.py                 # with the budget, then without, 60 s each
    .venv/bin/python loadtest/bench_slow_reader.py --only budget --seconds 30
    .venv/bin/python loadtest/bench_slow_reader.py --non-readers 50 --rate 200

Each run starts its own engine (bench_targets.EngineTarget: embedded or DATABASE_URL/REDIS_URL
datastores, rate limits raised, the server on core 0 and this client on core 1 where taskset
exists). One room holds --listeners reading members, --senders senders and --non-readers
members that connect with a small receive buffer (--rcvbuf), join, and then never read their
socket again (sio_wire's `stop_reading`: a stuck phone). The senders send `chat:message` with
--content-bytes of text at --rate messages a second for --seconds, and every --sample-seconds the
benchmark prints the engine's RSS, how many sockets the engine still has
(`flylive_socket_connections` at /metrics) and how many it cut for not reading
(`flylive_socket_guard_disconnects_total{reason="slow"}`), and each cut the engine logged (the
unsent bytes and for how long it had been backlogged).

Two runs by default: "budget" (the engine's defaults, SOCKET_OUTPUT_MAX_BYTES 2 MiB and
SOCKET_OUTPUT_MAX_AGE_SECONDS 30) and "unbounded" (both set as high as the engine allows, 1 GiB
and 3600 s: what a socket that does not read costs without the budget, until the ping timeout
drops it). The listeners count what they get (every 10th decodes it for the send -> receipt
latency), so the reading members' service is shown too. It asserts nothing; every wait is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_realtime import CHAT, HOST, Sockets, ack_of, machine, outcome, rss_kib, say, settle
from bench_rooms import percentile
from bench_targets import CLIENT_CORE, EngineTarget, pinning_available
from sio_wire import SioSocket, SocketClosed, connect, event_data

UNBOUNDED = {"SOCKET_OUTPUT_MAX_BYTES": str(1024 * 1024 * 1024), "SOCKET_OUTPUT_MAX_AGE_SECONDS": "3600"}
CUT_MESSAGE = "socket disconnected: not reading its output"


@dataclass(frozen=True)
class Plan:
    listeners: int = 200
    senders: int = 4
    non_readers: int = 20
    rate: float = 100.0  # chat messages per second, all senders together
    content_bytes: int = 400
    seconds: float = 60
    sample_seconds: float = 3
    rcvbuf: int = 4096


class BudgetedEngine(EngineTarget):
    """EngineTarget with a metrics token and the output budget's variables of this run."""

    def __init__(self, extra: dict[str, str]) -> None:
        super().__init__()
        self.extra = {**extra, "METRICS_TOKEN": secrets.token_urlsafe(32)}

    def server_env(self, port: int, seed: bool = True) -> dict[str, str]:
        return {**super().server_env(port, seed), **self.extra}

    async def metrics(self, http: aiohttp.ClientSession) -> dict[str, float]:
        headers = {"Authorization": f"Bearer {self.extra['METRICS_TOKEN']}"}
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with http.get(f"http://{HOST}:{self.port}/metrics", headers=headers,
                                timeout=aiohttp.ClientTimeout(total=5)) as resp:  # fmt: skip
                values = {}
                for line in (await resp.text()).splitlines():
                    name, _, value = line.rpartition(" ")
                    if line and not line.startswith("#"):
                        with contextlib.suppress(ValueError):
                            values[name] = float(value)
                return values
        return {}


@dataclass
class Listening:
    """What the reading members got."""

    delivered: int = 0
    latencies: list[float] = field(default_factory=list)

    def sink(self, sampled: bool) -> Callable[[bytes], None]:
        def count(packet: bytes) -> None:
            if packet.startswith(CHAT):
                self.delivered += 1
                if sampled:
                    sent = float(event_data(packet)["content"].split(" ", 1)[0][1:])
                    self.latencies.append((time.perf_counter() - sent) * 1000)

        return count


def cuts_logged(log_path: Path, offset: int) -> tuple[list[dict[str, Any]], int]:
    """The engine's 'not reading its output' lines after byte `offset` of its log, and the new offset."""
    found = []
    with contextlib.suppress(OSError), open(log_path, "rb") as log:
        log.seek(offset)
        data = log.read()
        end = data.rfind(b"\n") + 1
        for line in data[:end].splitlines():
            if CUT_MESSAGE.encode() in line:
                with contextlib.suppress(ValueError):
                    found.append(json.loads(line))
        return found, offset + end
    return found, offset


async def send_steadily(socks: list[SioSocket], room: int, plan: Plan, outcomes: dict[str, int]) -> int:
    """An open loop at plan.rate; each message's content starts with its send time."""
    pad = "x" * plan.content_bytes
    total = int(plan.rate * plan.seconds)
    pending: set[asyncio.Task[None]] = set()

    async def one(sock: SioSocket) -> None:
        content = f"t{time.perf_counter():.6f} {pad}"[:500]
        result = outcome(await ack_of(sock, "chat:message", {"roomId": room, "content": content}, limit_s=30))
        outcomes[result] = outcomes.get(result, 0) + 1

    started = time.perf_counter()
    for n in range(total):
        delay = started + n / plan.rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(socks[n % len(socks)]))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        await asyncio.wait(pending, timeout=35)
    return total


async def run(label: str, extra: dict[str, str], plan: Plan) -> dict[str, Any]:
    target = BudgetedEngine(extra)
    figures: dict[str, Any] = {"label": label, "env": extra, "samples": [], "cuts": []}
    async with aiohttp.ClientSession() as http:
        say(f"{label}: starting the engine ({', '.join(f'{k}={v}' for k, v in extra.items()) or 'defaults'})")
        await target.start(http)
        try:
            await measure(target, plan, http, figures)
        finally:
            figures["log_problems"] = [p for p in target.problems() if CUT_MESSAGE not in p]
            await target.stop()
    return figures


async def measure(target: BudgetedEngine, plan: Plan, http: aiohttp.ClientSession, figures: dict[str, Any]) -> None:
    room = (await target.accounts(1))[0].room_id
    listening = Listening()
    phase = Sockets(target)
    listeners = await phase.open(await target.accounts(plan.listeners), lambda i: listening.sink(i % 10 == 0))
    senders = await phase.open(await target.accounts(plan.senders))
    silent: list[SioSocket] = []
    for account in await target.accounts(plan.non_readers):
        with contextlib.suppress(TimeoutError, OSError, SocketClosed):
            silent.append(await connect(HOST, target.port, account.auth, None, rcvbuf=plan.rcvbuf))
    joins = await phase.call_all([(s, "room:join", {"roomId": room}) for s in listeners + senders + silent], 16)
    for sock in silent:
        sock.stop_reading()
    await settle(target)
    base = rss_kib(target.pid)
    figures.update(joins=dict(joins), rss_base_kib=base, connect_failures=dict(phase.failures),
                   sockets=len(listeners) + len(senders) + len(silent))  # fmt: skip
    say(f"  {len(listeners)} listeners, {len(senders)} senders, {len(silent)} non-readers in the room "
        f"(joins {dict(joins)}); RSS {base / 1024:.1f} MiB; sending {plan.rate:g} msg/s of {plan.content_bytes} B "
        f"for {plan.seconds:g} s")  # fmt: skip
    outcomes: dict[str, int] = {}
    started = time.monotonic()
    sending = asyncio.create_task(send_steadily(senders, room, plan, outcomes))
    offset = target.log_path.stat().st_size if target.log_path.exists() else 0
    while not sending.done() or time.monotonic() - started < plan.seconds:
        await asyncio.wait({sending}, timeout=plan.sample_seconds)
        metrics = await target.metrics(http)
        cuts, offset = cuts_logged(target.log_path, offset)
        at = time.monotonic() - started
        for cut in cuts:
            figures["cuts"].append({"at_s": round(at, 1), "queued_bytes": cut.get("queued_bytes"),
                                    "backlogged_seconds": cut.get("backlogged_seconds")})  # fmt: skip
        sample = {"at_s": round(at, 1), "rss_kib": rss_kib(target.pid),
                  "connected": int(metrics.get("flylive_socket_connections", -1)),
                  "cut_slow": int(metrics.get('flylive_socket_guard_disconnects_total{reason="slow"}', 0))}  # fmt: skip
        figures["samples"].append(sample)
        say(f"  {at:5.1f} s: RSS {sample['rss_kib'] / 1024:7.1f} MiB ({(sample['rss_kib'] - base) / 1024:+6.1f}); "
            f"sockets {sample['connected']}; cut for not reading {sample['cut_slow']}"
            + (f"; cuts logged now: {[(c.get('queued_bytes'), c.get('backlogged_seconds')) for c in cuts]}"
               if cuts else ""))  # fmt: skip
        if time.monotonic() - started > plan.seconds + 60:
            break
    sent = sending.result() if sending.done() else -1
    await asyncio.sleep(1)
    owed = outcomes.get("ok", 0) * len(listeners)
    figures.update(sent=sent, acks=outcomes, delivered=listening.delivered, owed=owed,
                   latency_p50_ms=percentile(listening.latencies, 50),
                   latency_p99_ms=percentile(listening.latencies, 99), unexpected=dict(phase.unexpected()))  # fmt: skip
    say(f"  sent {sent}, acks {outcomes}; listeners got {listening.delivered:,} of {owed:,}; send -> receipt "
        f"p50 {figures['latency_p50_ms']:.1f} ms, p99 {figures['latency_p99_ms']:.1f} ms; unexpected disconnects "
        f"of reading members {dict(phase.unexpected()) or 0}")  # fmt: skip
    for sock in silent:
        sock.close()
    await phase.close()


def table(results: list[dict[str, Any]]) -> str:
    """The RSS series side by side (MiB over the start)."""
    head = "| t (s) | " + " | ".join(f"{r['label']}: RSS over start, sockets, cut" for r in results) + " |"
    lines = [head, "|---|" + "---|" * len(results)]
    rows = max(len(r["samples"]) for r in results)
    for i in range(rows):
        cells = []
        at = ""
        for r in results:
            if i < len(r["samples"]):
                s = r["samples"][i]
                at = at or f"{s['at_s']:.0f}"
                cells.append(f"{(s['rss_kib'] - r['rss_base_kib']) / 1024:+.1f} MiB, {s['connected']}, {s['cut_slow']}")
            else:
                cells.append("")
        lines.append(f"| {at} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["budget", "unbounded"])
    for name, default in vars(Plan()).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(default), default=default)
    args = parser.parse_args(argv)
    plan = Plan(**{k: getattr(args, k) for k in vars(Plan())})
    if pinning_available():
        os.sched_setaffinity(0, {CLIENT_CORE})
    info = machine()
    say(f"machine: {info['nproc']} cores, {info['cpu']}; load average {info['load_average']}; commit {info['commit']}")
    say(f"plan: {plan}")
    runs = [("budget", {}), ("unbounded", UNBOUNDED)]
    results = [await run(label, extra, plan) for label, extra in runs if args.only in (None, label)]
    print()
    print(table(results))
    for r in results:
        print(
            f"\n{r['label']}: RSS at the start {r['rss_base_kib'] / 1024:.1f} MiB, highest "
            f"{max(s['rss_kib'] for s in r['samples']) / 1024:.1f} MiB, at the end "
            f"{r['samples'][-1]['rss_kib'] / 1024:.1f} MiB; cuts logged (s after the first send, unsent bytes, "
            f"backlogged s): {[(c['at_s'], c['queued_bytes'], c['backlogged_seconds']) for c in r['cuts']] or 'none'}"
        )
        print(
            f"  listeners got {r['delivered']:,} of {r['owed']:,}; p50 {r['latency_p50_ms']:.1f} ms, p99 "
            f"{r['latency_p99_ms']:.1f} ms; server log warnings/errors besides the cuts: {r['log_problems'] or 'none'}"
        )
    say(f"load average at the end {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(uvloop.run(main()))
