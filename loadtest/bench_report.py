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


def _lat(figures: dict[str, Any], scale: float = 1) -> str:
    if not figures.get("n"):
        return "no samples"
    unit = "s" if scale != 1 else "ms"
    return f"p50 {figures['p50_ms'] * scale:.{2 if scale != 1 else 1}f} {unit}, p99 {figures['p99_ms'] * scale:.{2 if scale != 1 else 1}f} {unit}"


def one_line(phase: str, f: dict[str, Any]) -> str:
    if phase.startswith("c."):
        return f"{f['sockets']} sockets: RSS {f['rss_before_kib']} -> {f['rss_after_kib']} KiB, {f['kib_per_socket']:.1f} KiB each; joins {f['joins']}"
    if phase.startswith("b."):
        return (f"{f['event']}: {f['acks_per_s']:,.0f} acks/s, {f['server_us_per_event']:.0f} µs server CPU each "
                f"(+{f['store_us_per_event']:.0f} µs datastores; server {f['server_cpu_share']:.0%} busy, client "
                f"{f['client_cpu_share']:.0%}), ack {_lat(f['latency'])}; {f['outcomes']}")  # fmt: skip
    if phase.startswith("a."):
        s, e = f["saturation"], f["at_80_percent"]
        return (f"{f['listeners']}+{f['senders']} in the room: {s['deliveries_per_s']:,.0f} deliveries/s "
                f"({s['server_us_per_delivery']:.1f} µs server CPU each, client {s['client_cpu_share']:.0%} of its core), "
                f"latency {_lat(s['latency'])}; at 80 % ({e['messages_per_s']:.0f} msg/s) {_lat(e['latency'])}; "
                f"delivered {s['deliveries']}/{s['owed']} and {e['deliveries']}/{e['owed']}; refused {s['refused'] or e['refused'] or 'none'}")  # fmt: skip
    if phase.startswith("d."):
        return (f"{f['gifts_per_s']:,.0f} gifts/s, {f['server_us_per_gift'] / 1000:.2f} ms server CPU each "
                f"(+{f['store_us_per_gift'] / 1000:.2f} ms datastores), ack {_lat(f['latency'])}; "
                f"{f['deliveries_per_gift_per_listener']:.1f} deliveries per gift per listener; {f['outcomes']}")  # fmt: skip
    if phase.startswith("e."):
        return f"{f['joins_per_s']:,.0f} joins/s over {f['wall_s']:.2f} s, {_lat(f['latency'], 0.001)}; {f['outcomes']}"
    return ""


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


def _row(
    results: dict[str, Any], title: str, paths: dict[str, tuple[str, ...]], cell: Any, ratio_of: tuple[str, ...]
) -> str:
    cells = []
    for key in ("engine", "stock", "node"):
        path = paths.get(key)
        target = results["targets"].get(key)
        if path is None or target is None or "skipped" in target or path[0] not in target:
            cells.append("—")
            continue
        cells.append(cell(target[path[0]]))
    ratios = []
    for key in ("node", "stock"):
        path = paths.get(key)
        engine = _get(results, "engine", *paths["engine"], *ratio_of) if "engine" in paths else None
        other = _get(results, key, *path, *ratio_of) if path else None
        ratios.append(_ratio(engine, other))
    return f"| {title} | " + " | ".join(cells + ratios) + " |"


def table(results: dict[str, Any]) -> str:
    fanout = {k: ("a. room fan-out",) for k in ("engine", "stock", "node")}
    chat_alone = {
        "engine": ("b. ack chat:message",),
        "stock": ("b. ack chat:message",),
        "node": ("b. ack chat:message",),
    }
    acks = {k: (v,) for k, v in ACK_ROW.items()}
    idle = {k: ("c. idle sockets",) for k in ("engine", "stock", "node")}
    plan = results["plan"]
    lines = [
        "| figure | this engine | stock python-socketio | Node socket.io 4.8 | engine/Node | engine/stock |",
        "|---|---|---|---|---|---|",
        _row(results, f"room fan-out, {plan['listeners']:,} listeners, saturation: deliveries/s (server CPU each)", fanout,
             lambda f: (f"{f['saturation']['deliveries_per_s']:,.0f}/s ({f['saturation']['server_us_per_delivery']:.1f} µs, "
                        f"server {f['saturation']['server_cpu_share']:.0%} busy)"),
             ("saturation", "deliveries_per_s")),
        _row(results, "… server CPU per delivery", fanout,
             lambda f: f"{f['saturation']['server_us_per_delivery']:.1f} µs", ("saturation", "server_us_per_delivery")),
        _row(results, "… send→receipt at saturation", fanout, lambda f: _lat(f["saturation"]["latency"]),
             ("saturation", "latency", "p99_ms")),
        _row(results, "… send→receipt at 80 % of saturation", fanout,
             lambda f: f"{_lat(f['at_80_percent']['latency'])} ({f['at_80_percent']['messages_per_s']:.0f} msg/s)",
             ("at_80_percent", "latency", "p99_ms")),
        _row(results, f"event with ack, server CPU per event ({plan['in_flight']} in flight)", acks,
             lambda f: f"{f['server_us_per_event']:.0f} µs (`{f['event']}`, server {f['server_cpu_share']:.0%} busy)",
             ("server_us_per_event",)),
        _row(results, "… acks/s", acks, lambda f: f"{f['acks_per_s']:,.0f}/s", ("acks_per_s",)),
        _row(results, "`chat:message` alone in a room (broadcast to 1 + ack): CPU per event", chat_alone,
             lambda f: f"{f['server_us_per_event']:.0f} µs, {f['acks_per_s']:,.0f}/s", ("server_us_per_event",)),
        _row(results, "`auth:whoami`: CPU per event", {"engine": ("b. ack auth:whoami",)},
             lambda f: f"{f['server_us_per_event']:.0f} µs, {f['acks_per_s']:,.0f}/s", ("server_us_per_event",)),
        _row(results, "idle socket in a room: RSS per socket", idle,
             lambda f: f"{f['kib_per_socket']:.1f} KiB", ("kib_per_socket",)),
        _row(results, f"`gift:send`, {plan['gift_senders']} senders, {plan['gift_listeners']} listeners", {"engine": ("d. gift:send",)},
             lambda f: (f"{f['gifts_per_s']:,.0f} gifts/s, {f['server_us_per_gift'] / 1000:.2f} ms CPU per gift "
                        f"(+{f['store_us_per_gift'] / 1000:.2f} ms datastores), ack p99 {f['latency'].get('p99_ms', 0):.0f} ms"), ()),
        _row(results, f"{plan['burst_joins']} sockets join one room at once", {"engine": ("e. join burst",)},
             lambda f: f"{f['joins_per_s']:,.0f} joins/s, {_lat(f['latency'], 0.001)}", ()),
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
                out.append(
                    f"  {phase}: the client used {sat['client_cpu_share']:.0%} of its core: this figure may be the client's limit"
                )
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
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count

    def share(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(frame, round(100 * n / max(1, total), 1)) for frame, n in counter.most_common(top)]

    return {"samples": total, "file": str(path), "self": share(own), "inclusive": share(inclusive)}


def profile_text(name: str, profile: dict[str, Any]) -> str:
    lines = [f"{name}: {profile.get('samples', 0)} busy samples ({profile.get('file', '')})", "  self time:"]
    lines += [f"    {pct:5.1f} %  {frame}" for frame, pct in profile.get("self", [])]
    lines.append("  inclusive time:")
    lines += [f"    {pct:5.1f} %  {frame}" for frame, pct in profile.get("inclusive", [])]
    return "\n".join(lines)
