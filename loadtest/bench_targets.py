"""The three servers loadtest/bench_realtime.py measures, each started on the server core and stopped
at the end: this engine (`flylive serve`), a stock python-socketio server (loadtest/stock_server.py)
and a Node socket.io server (loadtest/node/server.js). They speak the same event names for what they
share (`room:join`, `chat:message`), the stock and Node servers add an `echo` event with ack.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_gifts import admin_token, grant
from bench_rooms import SERVER_ENV, _die_with_parent, log_problems

from engine.accounts import model as accounts_model
from engine.accounts import store as accounts_store
from engine.auth import store as auth_store
from engine.auth.tokens import TokenSigner
from engine.embedded import EmbeddedServer, free_port, start_postgres, start_valkey

REPO = Path(__file__).resolve().parents[1]
NODE_DIR = REPO / "loadtest" / "node"
SERVER_CORE, CLIENT_CORE = 0, 1


@dataclass(frozen=True, slots=True)
class Account:
    """Who a socket connects as: the auth object of its handshake, and a room of its own to use."""

    auth: dict[str, Any] | None
    user_id: int
    room_id: int


def pinning_available() -> bool:
    return shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2


def pin(pid: int, core: int) -> None:
    """Every thread of `pid` onto `core` (threads started later inherit it from their creator)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            os.sched_setaffinity(int(task.name), {core})


def pinned(argv: list[str]) -> list[str]:
    return ["taskset", "-c", str(SERVER_CORE), *argv] if pinning_available() else argv


def _spawn(argv: list[str], log_path: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            pinned(argv),
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )


def _stop(proc: subprocess.Popen[bytes] | None, grace_s: float = 60) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Target:
    """A server under test. `pid` is the process whose CPU and RSS the figures are about."""

    key = ""
    label = ""
    collects_garbage = True  # answers `bench:gc` (the engine has no such event: CPython frees most at once)

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.datastore_pids: list[int] = []
        self.tmp = Path(tempfile.mkdtemp(prefix=f"flylive-bench-{self.key}-"))
        self.tmp.chmod(0o755)  # embedded PostgreSQL runs as `nobody` under root
        self.log_path = self.tmp / "server.log"
        self._next_user = 0
        self.profiler: Any = None  # a bench_report.Profiler with --profile
        self.profiles: dict[str, Any] = {}  # its summaries, by measured stretch

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def skip_reason(self) -> str | None:
        return None

    async def start(self, http: aiohttp.ClientSession) -> None:
        raise NotImplementedError

    async def accounts(self, count: int) -> list[Account]:
        """`count` accounts never used before (the stock and Node servers have no users: made up)."""
        first = self._next_user
        self._next_user += count
        return [Account(None, n, 1_000_000 + n) for n in range(first, first + count)]

    async def _wait_http(self, http: aiohttp.ClientSession, path: str, limit_s: float = 120) -> None:
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.label} exited with {self.proc.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                url = f"http://127.0.0.1:{self.port}{path}"
                async with http.get(url, timeout=aiohttp.ClientTimeout(total=2)) as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.2)
        raise RuntimeError(f"{self.label} not ready after {limit_s:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"

    def problems(self) -> list[str]:
        return []

    async def stop(self) -> None:
        _stop(self.proc)
        shutil.rmtree(self.tmp, ignore_errors=True)


class StockTarget(Target):
    key = "stock"
    label = "stock python-socketio"

    async def start(self, http: aiohttp.ClientSession) -> None:
        script = REPO / "loadtest" / "stock_server.py"
        self.proc = _spawn([sys.executable, str(script), str(self.port)], self.log_path)
        await self._wait_http(http, "/socket.io/?EIO=4&transport=polling")


class NodeTarget(Target):
    key = "node"
    label = "Node socket.io 4.8"

    def skip_reason(self) -> str | None:
        if shutil.which("node") is None:
            return "node is not installed"
        if not (NODE_DIR / "node_modules" / "socket.io").is_dir():
            return "loadtest/node/node_modules is missing (npm not installed? run `make bench-deps`)"
        return None

    async def start(self, http: aiohttp.ClientSession) -> None:
        self.proc = _spawn(["node", "--expose-gc", str(NODE_DIR / "server.js"), str(self.port)], self.log_path)
        await self._wait_http(http, "/socket.io/?EIO=4&transport=polling")


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


class EngineTarget(Target):
    """`flylive serve` with the demo catalog and admin, its data in a throw-away database: a database
    of its own on DATABASE_URL's server and a key prefix of its own on REDIS_URL when those are set,
    otherwise embedded PostgreSQL and Valkey under a temporary folder, pinned with the server."""

    key = "engine"
    label = "this engine"
    collects_garbage = False

    def __init__(self, stores_core: int = SERVER_CORE) -> None:
        super().__init__()
        self.stores_core = stores_core  # the embedded PostgreSQL and Valkey: with the server, or the client
        self.run_tag = secrets.token_hex(4)
        self.jwt_secret = secrets.token_urlsafe(48)
        self.signer = TokenSigner(self.jwt_secret, ttl_seconds=6 * 3600)
        self._embedded: list[EmbeddedServer] = []
        self._admin_url: str | None = None  # the machine's PostgreSQL, to drop our database at the end
        self.db_name = f"flylive_bench_{self.run_tag}"
        self.database_url = ""
        self.redis_url = ""
        self.redis_prefix = f"bench{self.run_tag}:"
        self.admin_token = ""

    def datastores(self) -> str:
        pg = "embedded PostgreSQL" if self._admin_url is None else "the machine's PostgreSQL (DATABASE_URL)"
        redis = "embedded Valkey" if not os.environ.get("REDIS_URL") else "the machine's Redis (REDIS_URL)"
        whose = "the server" if self.stores_core == SERVER_CORE else "the client"
        where = f"pinned to core {self.stores_core} with {whose}" if self._embedded and pinning_available() else ""
        where = where or (
            "not pinned" if self._embedded else "not pinned, shared with everyone, their CPU not measured"
        )
        return f"{pg} and {redis}, {where}"

    async def _open_datastores(self) -> None:
        if os.environ.get("DATABASE_URL"):
            self._admin_url = os.environ["DATABASE_URL"]
        else:
            pg = start_postgres(self.tmp / "postgres")
            self._embedded.append(pg)
            self._admin_url = None
            admin = pg.url
        conn = await asyncpg.connect(self._admin_url or admin)
        try:
            await conn.execute(f'CREATE DATABASE "{self.db_name}"')
        finally:
            await conn.close()
        self.database_url = _with_database(self._admin_url or admin, self.db_name)
        if os.environ.get("REDIS_URL"):
            self.redis_url = os.environ["REDIS_URL"]
        else:
            valkey = start_valkey(self.tmp / "valkey")
            self._embedded.append(valkey)
            self.redis_url = valkey.url
        for server in self._embedded:
            self.datastore_pids.append(server.proc.pid)
            if pinning_available():
                pin(server.proc.pid, self.stores_core)

    def server_env(self, port: int, seed: bool = True) -> dict[str, str]:
        """The environment of a `flylive serve` on our datastores (call after `_open_datastores`)."""
        return {
            **os.environ,
            **SERVER_ENV,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "REDIS_PREFIX": self.redis_prefix,
            "JWT_SECRET": self.jwt_secret,
            "FLYLIVE_DATA_DIR": str(self.tmp),
            "FLYLIVE_PORT": str(port),
            "FLYLIVE_SEED_DEMO": "true" if seed else "false",  # the gift catalog and the admin who grants coins
            "GIFT_RATE_LIMIT": "1000000/1",
            "REACTION_RATE_LIMIT": "1000000/1",
        }

    async def start(self, http: aiohttp.ClientSession) -> None:
        await self._open_datastores()
        exe = Path(sys.executable).parent / "flylive"
        self.proc = _spawn([str(exe), "serve", "--port", str(self.port)], self.log_path, self.server_env(self.port))
        await self._wait_http(http, "/readyz")
        self.admin_token = await admin_token(http, f"http://127.0.0.1:{self.port}")

    async def accounts(self, count: int) -> list[Account]:
        """Users inserted with the engine's own store functions (argon2 and REST would take minutes
        for thousands), each with a session and an access token signed with the server's secret."""
        first = self._next_user
        self._next_user += count
        conn = await asyncpg.connect(self.database_url)
        try:
            async with conn.transaction():
                made = [await self._insert_user(conn, n) for n in range(first, first + count)]
            rows = await conn.fetch(
                "SELECT user_id, id FROM rooms WHERE user_id = ANY($1::bigint[])", [u["id"] for u, _ in made]
            )
        finally:
            await conn.close()
        room_of = {r["user_id"]: r["id"] for r in rows}
        accounts = []
        for user, session_id in made:
            token, _ = self.signer.issue(user["id"], session_id, accounts_model.token_claims_profile(user))
            accounts.append(Account({"token": token}, user["id"], room_of[user["id"]]))
        return accounts

    async def _insert_user(self, conn: asyncpg.Connection, n: int) -> tuple[dict[str, Any], str]:
        handle = f"b{self.run_tag}_{n}"
        user = await accounts_store.insert_user_txn(
            conn, name=f"bench {n}", phone=f"+1999{int(self.run_tag, 16) % 1000:03d}{n:07d}"[:20],
            signature=handle, password_hash="!no-login", country="us",
            gender=accounts_model.GENDER_CODES["male"], dob=dt.date(1990, 1, 1), email=None,
        )  # fmt: skip
        await accounts_store.grant_role_txn(conn, user["id"], "user", None)
        await accounts_store.insert_owned_room_txn(conn, user["id"], handle, "us")
        session_id, _ = await auth_store.create_session_txn(conn, user["id"], user_agent="bench", ip="127.0.0.1")
        return user, session_id

    async def grant_coins(self, http: aiohttp.ClientSession, accounts: list[Account], coins: int) -> None:
        url = f"http://127.0.0.1:{self.port}"
        for account in accounts:
            await grant(http, url, self.admin_token, account.user_id, coins)

    def problems(self) -> list[str]:
        return log_problems(self.log_path)

    async def stop(self) -> None:
        _stop(self.proc)
        for server in reversed(self._embedded):
            server.stop()
        if self._admin_url is not None:
            with contextlib.suppress(Exception):
                conn = await asyncpg.connect(self._admin_url)
                try:
                    await conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
                finally:
                    await conn.close()
        if os.environ.get("REDIS_URL"):
            await self._drop_keys()
        shutil.rmtree(self.tmp, ignore_errors=True)

    async def _drop_keys(self) -> None:
        from redis.asyncio import Redis

        redis = Redis.from_url(self.redis_url)
        try:
            batch = [key async for key in redis.scan_iter(match=f"{self.redis_prefix}*", count=1000)]
            for start in range(0, len(batch), 1000):
                await redis.delete(*batch[start : start + 1000])
        finally:
            await redis.aclose()
