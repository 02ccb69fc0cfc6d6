"""What loadtest/bench_realtime.py prints: a line per phase, the side-by-side table with its ratios,
and the py-spy profile of a phase summarised as its top frames."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ACK_ROW = {"engine": "b. ack chat:message", "stock": "b. ack echo", "node": "b. ack echo"}
NAMES = {"engine": "this engine", "stock": "stock python-socketio", "node": "Node socket.io 4.8"}


def _lat(figures: dict[str, Any], in_seconds: bool = False) -> str:
    if not figures.get("n"):
        return "no samples"
    if in_seconds:
        return f"p50 {figures['p50_ms'] / 1000:.2f} s, p99 {figures['p99_ms'] / 1000:.2f} s"
    return f"p50 {figures['p50_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms"


def _stores(us: float | None) -> str:
    """The engine's datastores' CPU per operation: measured only for the embedded ones."""
    if us is None:
        return "datastores not measured"
    return f"+{us:.0f} µs datastores" if us < 1000 else f"+{us / 1000:.2f} ms datastores"


def _idle(f: dict[str, Any]) -> str:
    return (f"{f['sockets']} sockets: RSS {f['rss_before_kib']} -> {f['rss_after_kib']} KiB, "
            f"{f['kib_per_socket']:.1f} KiB each; joins {f['joins']}")  # fmt: skip


def _acks(f: dict[str, Any]) -> str:
    return (f"{f['event']}: {f['acks_per_s']:,.0f} acks/s, {f['server_us_per_event']:.0f} µs server CPU each "
            f"({_stores(f['store_us_per_event'])}; server {f['server_cpu_share']:.0%} busy, "
            f"client {f['client_cpu_share']:.0%}), ack {_lat(f['latency'])}; {f['outcomes']}")  # fmt: skip


def _fanout(f: dict[str, Any]) -> str:
    s, e = f["saturation"], f["at_80_percent"]
    return (f"{f['listeners']}+{f['senders']} in the room: {s['deliveries_per_s']:,.0f} deliveries/s "
            f"({s['server_us_per_delivery']:.1f} µs server CPU each, server {s['server_cpu_share']:.0%} busy, "
            f"client {s['client_cpu_share']:.0%}), latency {_lat(s['latency'])}; "
            f"at 80 % ({e['messages_per_s']:.0f} msg/s) {_lat(e['latency'])}; delivered "
            f"{s['deliveries']}/{s['owed']} and {e['deliveries']}/{e['owed']}; "
            f"refused {s['refused'] or e['refused'] or 'none'}")  # fmt: skip


def _gifts(f: dict[str, Any]) -> str:
    return (f"{f['gifts_per_s']:,.0f} gifts/s, {f['server_us_per_gift'] / 1000:.2f} ms server CPU each "
            f"({_stores(f['store_us_per_gift'])}), ack {_lat(f['latency'])}; "
            f"{f['deliveries_per_gift_per_listener']:.1f} deliveries per gift per listener; "
            f"{f['outcomes']}")  # fmt: skip


def _joins(f: dict[str, Any]) -> str:
    return (f"{f['joins_per_s']:,.0f} joins/s over {f['wall_s']:.2f} s, {_lat(f['latency'], True)}; "
            f"{f.get('frames_per_member', 0):,.0f} frames per member; {f['outcomes']}")  # fmt: skip


ONE_LINE = {"c": _idle, "b": _acks, "a": _fanout, "d": _gifts, "e": _joins}


def one_line(phase: str, figures: dict[str, Any]) -> str:
    return ONE_LINE[phase[0]](figures)


# --------------------------------------------------------------------------------------------------
# the table


def _get(results: dict[str, Any], key: str, *path: str) -> float | None:
    value: Any = results["targets"].get(key)
    for step in path:
        if not isinstance(value, dict) or step not in value:
            return None
        value = value[step]
    return float(value) if isinstance(value, int | float) else None


def _ratio(engine: float | None, other: float | None) -> str:
    return f"{engine / other:.2f}×" if engine is not None and other else "—"


Paths = dict[str, tuple[str, ...]]


def _row(results: dict[str, Any], title: str, paths: Paths, cell: Any, ratio_of: tuple[str, ...]) -> str:
    """One table line: a cell per server (— where it was not run), then engine/Node, engine/stock
    of the figure at `ratio_of` inside each server's phase."""
    cells = []
    for key in ("engine", "stock", "node"):
        path = paths.get(key)
        target = results["targets"].get(key)
        if path is None or target is None or "skipped" in target or path[0] not in target:
            cells.append("—")
            continue
        cells.append(cell(target[path[0]]))
    engine = _get(results, "engine", *paths["engine"], *ratio_of) if ratio_of else None
    for key in ("node", "stock"):
        other = _get(results, key, *paths[key], *ratio_of) if ratio_of and key in paths else None
        cells.append(_ratio(engine, other))
    return f"| {title} | " + " | ".join(cells) + " |"


def _sat_cell(f: dict[str, Any]) -> str:
    s = f["saturation"]
    busy = f"server {s['server_cpu_share']:.0%} busy"
    return f"{s['deliveries_per_s']:,.0f}/s ({s['server_us_per_delivery']:.1f} µs, {busy})"


def _at80_cell(f: dict[str, Any]) -> str:
    return f"{_lat(f['at_80_percent']['latency'])} ({f['at_80_percent']['messages_per_s']:.0f} msg/s)"


def _ack_cell(f: dict[str, Any]) -> str:
    return f"{f['server_us_per_event']:.0f} µs (`{f['event']}`, server {f['server_cpu_share']:.0%} busy)"


def _gift_cell(f: dict[str, Any]) -> str:
    return (f"{f['gifts_per_s']:,.0f} gifts/s, {f['server_us_per_gift'] / 1000:.2f} ms CPU per gift "
            f"({_stores(f['store_us_per_gift'])}), ack p99 {f['latency'].get('p99_ms', 0):.0f} ms, "
            f"{f['deliveries_per_gift_per_listener']:.2f} frames per gift per listener")  # fmt: skip


def _join_cell(f: dict[str, Any]) -> str:
    return (f"{f['joins_per_s']:,.0f} joins/s, {_lat(f['latency'], True)}, "
            f"{f.get('frames_per_member', 0):,.0f} frames per member")  # fmt: skip


def table(results: dict[str, Any]) -> str:
    """The issue's table, as Markdown, with engine/Node and engine/stock for each figure (for a rate
    above 1 is better; for CPU, latency and memory below 1 is)."""
    every = ("engine", "stock", "node")
    fanout: Paths = {k: ("a. room fan-out",) for k in every}
    chat: Paths = {k: ("b. ack chat:message",) for k in every}
    acks: Paths = {k: (v,) for k, v in ACK_ROW.items()}
    idle: Paths = {k: ("c. idle sockets",) for k in every}
    plan = results["plan"]
    r = results
    lines = [
        "| figure | this engine | stock python-socketio | Node socket.io 4.8 | engine/Node | engine/stock |",
        "|---|---|---|---|---|---|",
        _row(r, f"room fan-out, {plan['listeners']:,} listeners, saturation: deliveries/s (server CPU each)",
             fanout, _sat_cell, ("saturation", "deliveries_per_s")),
        _row(r, "… server CPU per delivery", fanout,
             lambda f: f"{f['saturation']['server_us_per_delivery']:.1f} µs", ("saturation", "server_us_per_delivery")),
        _row(r, "… send→receipt at saturation", fanout, lambda f: _lat(f["saturation"]["latency"]),
             ("saturation", "latency", "p99_ms")),
        _row(r, "… send→receipt at 80 % of saturation", fanout, _at80_cell, ("at_80_percent", "latency", "p99_ms")),
        _row(r, f"event with ack, server CPU per event ({plan['in_flight']} in flight)", acks, _ack_cell,
             ("server_us_per_event",)),
        _row(r, "… acks/s", acks, lambda f: f"{f['acks_per_s']:,.0f}/s", ("acks_per_s",)),
        _row(r, "`chat:message` alone in a room (broadcast to 1 + ack): CPU per event", chat,
             lambda f: f"{f['server_us_per_event']:.0f} µs, {f['acks_per_s']:,.0f}/s", ("server_us_per_event",)),
        _row(r, "`auth:whoami`: CPU per event", {"engine": ("b. ack auth:whoami",)},
             lambda f: f"{f['server_us_per_event']:.0f} µs, {f['acks_per_s']:,.0f}/s", ()),
        _row(r, "idle socket in a room: RSS per socket", idle, lambda f: f"{f['kib_per_socket']:.1f} KiB",
             ("kib_per_socket",)),
        _row(r, f"`gift:send`, {plan['gift_senders']} senders, {plan['gift_listeners']} listeners",
             {"engine": ("d. gift:send",)}, _gift_cell, ()),
        _row(r, "… the same, every client announcing `room:batch`",
             {"engine": ("d. gift:send, room:batch clients",)}, _gift_cell, ()),
        _row(r, f"{plan['burst_joins']} sockets join one room at once", {"engine": ("e. join burst",)},
             _join_cell, ()),
        _row(r, "… the same, every joiner announcing `room:batch`", {"engine": ("e. join burst, room:batch clients",)},
             _join_cell, ()),
    ]  # fmt: skip
    return "\n".join(lines) + "\n\n" + notes(results)


def notes(results: dict[str, Any]) -> str:
    """What a reader must know before trusting the table: shortfalls, refusals, a busy client."""
    out = [f"machine: {results['machine']}", f"plan: {results['plan']}"]
    for key, target in results["targets"].items():
        if "skipped" in target:
            out.append(f"{NAMES[key]}: skipped: {target['skipped']}")
            continue
        out.append(f"{NAMES[key]}: {target['server'].get('datastores') or 'no datastores'}")
        for phase, figures in target.items():
            if not isinstance(figures, dict) or phase == "server":
                continue
            for what in ("unexpected", "connect_failures"):
                if figures.get(what):
                    out.append(f"  {phase}: {what} {figures[what]}")
            sat = figures.get("saturation")
            if sat and sat["client_cpu_share"] > 0.9:
                share = f"{sat['client_cpu_share']:.0%}"
                out.append(f"  {phase}: the client used {share} of its core: this figure may be the client's limit")
            if sat and sat["deliveries"] < sat["owed"]:
                out.append(f"  {phase}: {sat['owed'] - sat['deliveries']} deliveries missing after the drain")
        if target.get("server_log_problems"):
            out.append(f"  server log warnings/errors: {target['server_log_problems'][:10]}")
    return "\n".join(out)


# --------------------------------------------------------------------------------------------------
# py-spy


class Profiler:
    """py-spy record of the server during one phase (raw collapsed stacks), summarised at its end."""

    def __init__(self, pid: int, folder: Path) -> None:
        exe = Path(sys.executable).parent / "py-spy"
        self.exe = str(exe) if exe.exists() else shutil.which("py-spy")
        if self.exe is None:
            raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy (or `make bench-profile`)")
        self.pid = pid
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen[bytes] | None = None
        self.path = folder / "none.txt"

    def start(self, phase: str) -> None:
        self.path = self.folder / (re.sub(r"[^\w]+", "_", phase).strip("_") + ".txt")
        argv = [self.exe, "record", "--pid", str(self.pid), "--rate", "200", "--format", "raw", "--nonblocking",
                "-o", str(self.path)]  # fmt: skip
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> dict[str, Any]:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(60)
        return summarise(self.path)


# The engine's main stack (its samples' self time is the event loop's own native code: uvloop,
# epoll, the C task step); tasks' stacks start at their coroutine instead.
ROOTS = {"<module> (flylive)", "main (engine/cli.py)", "cmd_serve (engine/cli.py)", "run_app (aiohttp/web.py)"}
LOOP = "the event loop itself (uvloop and the C task step: native code under run_app)"
_FRAME = re.compile(r"^(?P<fn>.*?) \((?P<file>[^():]*)(?::\d+)?\)$")


def _short(frame: str) -> str:
    match = _FRAME.match(frame)
    if not match:
        return frame
    file = match["file"]
    for marker in ("site-packages/", "/lib/python3.11/", "/wt-bench/", "/main/"):
        if marker in file:
            file = file.split(marker, 1)[1]
    return f"{match['fn']} ({file})"


def summarise(path: Path, top: int = 15) -> dict[str, Any]:
    """Self time by function (the leaf of each sample) and inclusive time (each function once per
    sample), as percentages of the samples where the server was busy (py-spy leaves idle ones out)."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    if not path.exists():
        return {"samples": 0, "error": f"{path} was not written"}
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(f) for f in stack.split(";") if not f.startswith("process ") and not f.startswith("thread ")]
        if not frames:
            continue
        total += count
        own[LOOP if frames[-1] in ROOTS else frames[-1]] += count
        for frame in set(frames) - ROOTS:
            inclusive[frame] += count

    def share(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(frame, round(100 * n / max(1, total), 1)) for frame, n in counter.most_common(top)]

    ours = Counter({frame: n for frame, n in inclusive.items() if "(engine/" in frame})
    return {"samples": total, "file": str(path), "self": share(own), "inclusive": share(inclusive),
            "engine": share(ours)}  # fmt: skip


def profile_text(name: str, profile: dict[str, Any]) -> str:
    lines = [f"{name}: {profile.get('samples', 0)} busy samples ({profile.get('file', '')})", "  self time:"]
    lines += [f"    {pct:5.1f} %  {frame}" for frame, pct in profile.get("self", [])]
    lines.append("  inclusive time:")
    lines += [f"    {pct:5.1f} %  {frame}" for frame, pct in profile.get("inclusive", [])]
    lines.append("  inclusive time, the engine's own functions:")
    lines += [f"    {pct:5.1f} %  {frame}" for frame, pct in profile.get("engine", [])]
    return "\n".join(lines)
