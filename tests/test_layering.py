"""The import rules of docs/architecture.md, checked on the source: layers import downwards only,
no module import cycles, and PostgreSQL/Redis calls only in stores (and the few modules that own
the database outright)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("engine", "httpapi", "admin_ui")

# Lowest first: a package may import packages at its own level or below, never above.
LEVELS: dict[str, int] = {
    **dict.fromkeys(("config", "keys", "lua", "db", "redis_mux", "errors", "validation", "logs", "metrics", "jobs"), 0),
    **dict.fromkeys(("auth", "ratelimit", "audit"), 1),
    "economy": 2,
    "services": 3,
    "realtime": 4,
    # social and notifications sit beside accounts, under the rooms: rooms read blocks and privacy
    # (through the hot cache), and social drives the rooms through its port (engine/social/live.py).
    # The inbox (direct messages) beside them: it reads blocks and privacy, and notifies. And the
    # activity log: the rooms (6) append finished visits to its stream, social records follows in it,
    # and it reads social's privacy settings and blocks.
    **dict.fromkeys(("accounts", "social", "notifications", "inbox", "activity"), 5),
    "rooms": 6,
    **dict.fromkeys(("gifts", "media"), 7),
    # gdpr reads every domain's tables (engine/gdpr/registry.py) and closes sockets through the transport;
    # reports act on rooms (a platform mute, a deleted message) and accounts (suspend, ban).
    # agency notifies and pushes (notifications, realtime) and reads staff permissions (accounts).
    # vip sells through the economy and its privileges are read by rooms and gifts through the hot
    # cache; progression grants rewards (coins through the economy, frames through the mall) and
    # announces in rooms.
    **dict.fromkeys(
        ("payments", "resellers", "mall", "media_uploads", "gdpr", "reports", "agency", "vip", "progression", "staff"),
        8,
    ),
    # Issue 15 §9: flags (and the maintenance row) sit under the services, which hold their cache; the
    # system's pushes (maintenance, announcements) go out through the transport.
    "flags": 2,
    "system": 5,
    **dict.fromkeys(("messages", "appkeys", "migrations", "seed", "embedded"), 9),
    **dict.fromkeys(("app", "cli"), 10),
    # ops (the dashboard's overview, capacity and error log) reads rooms, media and the ledger.
    "ops": 8,
    # The dashboard's catalog edits (issue 15 §7) sit beside the domains whose tables they edit.
    "catalog": 8,
}
# Modules that may talk to PostgreSQL/Redis outside a store.py, and why.
IO_ALLOWED = {
    "engine.migrations": "applies the SQL migrations",
    "engine.seed": "writes the demo data",
    "engine.cli": "admin commands on the database",
    "engine.db": "creates the pool and its type codecs",
    "engine.lua": "loads the Lua scripts",
    "engine.services": "opens and closes the connections",
    "engine.realtime.manager": "python-socketio's Redis client manager: opens and closes its own pool",
    "engine.embedded": "starts the embedded servers (and waits for their ports)",
    "httpapi.ops": "the readiness probe pings both servers",
}
# Actions may open a transaction (and borrow a connection) around store calls: where the
# transaction ends is orchestration, and events go out after it.
ORCHESTRATION = {"transaction", "acquire"}
SQL_CALLS = {"fetch", "fetchrow", "fetchval", "executemany", "copy_records_to_table"}
CLIENT_NAMES = {"redis", "conn", "pipe", "pool", "tx", "txn"}


def modules() -> Iterator[tuple[str, ast.Module]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            yield name, ast.parse(path.read_text(), str(path))


def runtime_imports(tree: ast.Module) -> Iterator[str]:
    """Imported module names, leaving out `if TYPE_CHECKING:` blocks (no import happens there)."""

    def walk(node: ast.AST) -> Iterator[str]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.Import):
                yield from (alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                yield child.module
                yield from (f"{child.module}.{alias.name}" for alias in child.names)
            yield from walk(child)

    return walk(tree)


def graph() -> dict[str, set[str]]:
    trees = dict(modules())
    return {name: {m for m in runtime_imports(tree) if m in trees and m != name} for name, tree in trees.items()}


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if parts[0] == "engine" and len(parts) > 1 else parts[0]


def test_packages_import_downwards_only() -> None:
    wrong = []
    for module, imported in graph().items():
        here = package_of(module)
        if here not in LEVELS:
            continue  # httpapi and admin_ui are edges: they may import any domain
        for target in imported:
            there = package_of(target)
            if there in LEVELS and LEVELS[there] > LEVELS[here]:
                wrong.append(f"{module} -> {target}")
    assert not wrong, "imports upwards:\n" + "\n".join(sorted(wrong))


def test_every_engine_package_has_a_level() -> None:
    packages = {package_of(m) for m in graph() if m.startswith("engine.")} - {"engine"}
    assert packages <= set(LEVELS), f"give these a level in LEVELS: {sorted(packages - set(LEVELS))}"


def test_no_import_cycles() -> None:
    edges = graph()
    seen: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[str] = []

    def visit(node: str, path: list[str]) -> None:
        seen[node] = 1
        for target in sorted(edges[node]):
            if seen.get(target) == 1:
                cycles.append(" -> ".join([*path[path.index(target) :], target]))
            elif target not in seen:
                visit(target, [*path, target])
        seen[node] = 2

    for node in sorted(edges):
        if node not in seen:
            visit(node, [node])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def io_calls(tree: ast.Module) -> list[str]:
    """Calls that talk to PostgreSQL or Redis: `<client>.<method>(…)` on a connection, pool, pipeline
    or Redis client, or asyncpg's query methods on anything."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = ast.unparse(node.func.value).split(".")[-1]
            if node.func.attr in ORCHESTRATION:
                continue
            if node.func.attr in SQL_CALLS or owner in CLIENT_NAMES:
                found.append(f"line {node.lineno}: {ast.unparse(node.func)}")
    return found


def test_only_stores_talk_to_the_databases() -> None:
    outside = {}
    for module, tree in modules():
        # A package may keep several stores side by side: `store` and `<part>_store` (engine/agency's
        # social side keeps its own, engine/agency/social_store.py, beside the membership's store.py).
        last = module.split(".")[-1]
        if last == "store" or last.endswith("_store") or module in IO_ALLOWED:
            continue
        calls = io_calls(tree)
        if calls:
            outside[module] = calls
    assert not outside, "PostgreSQL/Redis calls outside a store:\n" + "\n".join(
        f"{m}: {', '.join(c)}" for m, c in sorted(outside.items())
    )
