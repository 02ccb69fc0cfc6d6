"""Configuration parsing, the `flylive` command line, migrations, and one end-to-end embedded run."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from engine.cli import tune_collector
from engine.config import ENV_VARS, Config, ConfigError, Rate, ensure_jwt_secret, load_config
from engine.embedded import free_port
from engine.migrations import discover, migrate
from tests.helpers import PASSWORD, bearer, db, login, registration, with_database

ROOT = Path(__file__).resolve().parent.parent
SQL_FILES = sorted((ROOT / "sql").glob("*.sql"))
SUBCOMMANDS = ("serve", "migrate", "seed", "createadmin")
ADMIN_PHONE = "+15550009999"


def flylive_cmd() -> list[str]:
    script = Path(sys.executable).parent / "flylive"
    return [str(script)] if script.exists() else [sys.executable, "-m", "engine.cli"]


def cli_env(tmp: Path, **extra: str) -> dict[str, str]:
    """The test process's environment without any engine setting, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS and k != "FLYLIVE_ADMIN_PASSWORD"}
    env.update(FLYLIVE_DATA_DIR=str(tmp), LOG_FORMAT="text", ARGON2_MEMORY_KIB="1024", ARGON2_TIME_COST="1", **extra)
    return env


async def run_cli(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *flylive_cmd(), *args, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    async with asyncio.timeout(120):
        out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.fixture
async def fresh_db(pg_admin_url: str) -> AsyncIterator[str]:
    """An empty database (no migrations applied), dropped afterwards."""
    name = f"flylive_fresh_{uuid.uuid4().hex[:10]}"
    async with db(pg_admin_url) as admin:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield with_database(pg_admin_url, name)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def fetch(url: str, query: str, *args: Any) -> list[asyncpg.Record]:
    async with db(url) as conn:
        return await conn.fetch(query, *args)


# --- configuration --------------------------------------------------------------------------------


def test_defaults_from_empty_environment() -> None:
    config = load_config({})
    assert config == Config()
    assert config.database_url is None and config.redis_url is None
    assert (config.host, config.port, config.log_format) == ("127.0.0.1", 8080, "json")
    assert config.http_rate_limit == Rate(120, 60) and config.jwt_secret == ""


def test_values_are_parsed() -> None:
    config = load_config(
        {
            "FLYLIVE_PORT": "9000",
            "DATABASE_URL": "postgresql://u@h/db",
            "CORS_ORIGINS": "https://a.example, https://b.example,",
            "SOCKET_COMPRESSION": "yes",
            "JWT_SECRET_PREVIOUS": "a" * 32 + "," + "b" * 40,
            "HTTP_RATE_LIMIT": "10/5",
            "FLYLIVE_DATA_DIR": "/srv/flylive",
            "LOG_FORMAT": "",  # empty means unset
        }
    )
    assert config.port == 9000 and config.database_url == "postgresql://u@h/db"
    assert config.cors_origins == ("https://a.example", "https://b.example")
    assert config.socket_compression is True
    assert config.jwt_secret_previous == ("a" * 32, "b" * 40)
    assert config.http_rate_limit == Rate(10, 5.0)
    assert config.data_dir == Path("/srv/flylive") and config.log_format == "json"


def test_the_collector_thresholds_are_read_and_applied_by_serve() -> None:
    config = load_config({"GC_THRESHOLDS": "20000,5,3"})
    assert config.gc_thresholds == (20000, 5, 3)
    for bad in ("1,2", "0,10,10", "a,b,c"):
        with pytest.raises(ConfigError, match="GC_THRESHOLDS"):
            load_config({"GC_THRESHOLDS": bad})
    before = gc.get_threshold()
    try:
        tune_collector(config)
        assert gc.get_threshold() == (20000, 5, 3) and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_every_bad_value_is_reported_together() -> None:
    bad = {
        "FLYLIVE_PORT": "abc",
        "JWT_SECRET": "short",
        "LOG_FORMAT": "xml",
        "HTTP_RATE_LIMIT": "5",
        "SOCKET_PING_TIMEOUT": "1",
        "DATABASE_URL": "mysql://x/y",
        "SOCKET_COMPRESSION": "maybe",
    }
    with pytest.raises(ConfigError) as info:
        load_config({**bad, "FLYLIVE_HOST": "0.0.0.0"})
    message = str(info.value)
    for name in bad:
        assert name in message, name
    assert "FLYLIVE_HOST" not in message
    assert len([line for line in message.splitlines() if "=" in line]) == len(bad)


def test_pool_bounds_are_checked() -> None:
    with pytest.raises(ConfigError, match="DB_POOL_MIN"):
        load_config({"DB_POOL_MIN": "10", "DB_POOL_MAX": "5"})


def test_turn_needs_its_secret() -> None:
    with pytest.raises(ConfigError, match="TURN_URLS needs TURN_SECRET"):
        load_config({"TURN_URLS": "turn:turn.example.com:3478"})
    config = load_config({"TURN_URLS": "turn:a:3478,turns:a:5349", "TURN_SECRET": "s" * 16})
    assert config.turn_urls == ("turn:a:3478", "turns:a:5349") and config.turn_credential_ttl_seconds == 86400


def test_rate_parse() -> None:
    assert Rate.parse("60/60") == Rate(60, 60.0)
    assert Rate.parse("5/0.5") == Rate(5, 0.5)
    for bad in ("5", "0/60", "-1/60", "5/0", "5/-1", "a/b", "/60", ""):
        with pytest.raises(ValueError):
            Rate.parse(bad)


def test_generated_jwt_secret_is_kept(tmp_path: Path) -> None:
    config = Config(data_dir=tmp_path / "data")
    first = ensure_jwt_secret(config).jwt_secret
    assert len(first) >= 32
    assert ensure_jwt_secret(config).jwt_secret == first
    assert (tmp_path / "data" / "jwt_secret").stat().st_mode & 0o077 == 0
    assert ensure_jwt_secret(config.with_overrides(jwt_secret="x" * 32)).jwt_secret == "x" * 32


def test_readme_documents_every_variable() -> None:
    readme = ROOT / "README.md"
    assert readme.exists(), "README.md is missing"
    text = readme.read_text()
    missing = [name for name in ENV_VARS if not re.search(rf"(?<![A-Z0-9_]){name}(?![A-Z0-9_])", text)]
    assert missing == []


# --- command line ---------------------------------------------------------------------------------


def test_help_for_every_command(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    top = subprocess.run([*flylive_cmd(), "--help"], env=env, capture_output=True, text=True, timeout=60)
    assert top.returncode == 0, top.stderr
    for command in SUBCOMMANDS:
        assert command in top.stdout
        sub = subprocess.run([*flylive_cmd(), command, "--help"], env=env, capture_output=True, text=True, timeout=60)
        assert sub.returncode == 0, sub.stderr
        assert f"flylive {command}" in sub.stdout
    bare = subprocess.run(flylive_cmd(), env=env, capture_output=True, text=True, timeout=60)
    assert bare.returncode == 2


def test_bad_environment_stops_the_cli(tmp_path: Path) -> None:
    env = cli_env(tmp_path, FLYLIVE_PORT="abc", JWT_SECRET="short")
    result = subprocess.run([*flylive_cmd(), "migrate"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "FLYLIVE_PORT" in result.stderr and "JWT_SECRET" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "postgres").exists()  # it stopped before starting anything


# --- migrations -----------------------------------------------------------------------------------


async def test_migrate_twice(fresh_db: str) -> None:
    expected = [int(path.name[:4]) for path in SQL_FILES]
    assert expected, "no migrations found"
    async with db(fresh_db) as conn:
        assert await migrate(conn) == expected
        assert await migrate(conn) == []
    rows = await fetch(fresh_db, "SELECT version, name, checksum FROM schema_migrations ORDER BY version")
    assert [(r["version"], r["name"], r["checksum"]) for r in rows] == [
        (int(path.name[:4]), path.stem[5:], hashlib.sha256(path.read_text().encode()).hexdigest()) for path in SQL_FILES
    ]
    assert await fetch(fresh_db, "SELECT 1 FROM roles WHERE name = 'super_admin'")


async def test_concurrent_migrations_apply_each_version_once(fresh_db: str) -> None:
    async with db(fresh_db) as first, db(fresh_db) as second:
        results = await asyncio.gather(migrate(first), migrate(second))
    expected = [m.version for m in discover()]
    assert sorted(results[0] + results[1]) == expected
    rows = await fetch(fresh_db, "SELECT count(*) AS n, count(DISTINCT version) AS d FROM schema_migrations")
    assert rows[0]["n"] == rows[0]["d"] == len(expected)
    roles = await fetch(fresh_db, "SELECT count(*) AS n FROM roles")
    assert roles[0]["n"] == 7  # the seed ran once, not twice


def test_discover_rejects_bad_files(tmp_path: Path) -> None:
    (tmp_path / "0001_fine.sql").write_text("SELECT 1;")
    assert [(m.version, m.name) for m in discover(tmp_path)] == [(1, "fine")]
    (tmp_path / "2_bad-name.sql").write_text("SELECT 1;")
    with pytest.raises(ValueError, match=re.escape("2_bad-name.sql")):
        discover(tmp_path)
    (tmp_path / "2_bad-name.sql").unlink()
    (tmp_path / "0001_again.sql").write_text("SELECT 1;")
    with pytest.raises(ValueError):
        discover(tmp_path)


async def test_failed_migration_leaves_nothing_behind(fresh_db: str, tmp_path: Path) -> None:
    (tmp_path / "0001_good.sql").write_text("CREATE TABLE good (x int);")
    (tmp_path / "0002_bad.sql").write_text("CREATE TABLE bad (x int); SELECT 1 / 0;")
    async with db(fresh_db) as conn:
        with pytest.raises(asyncpg.DivisionByZeroError):
            await migrate(conn, tmp_path)
        assert [r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")] == [1]
        assert await conn.fetchval("SELECT to_regclass('bad')") is None
        assert await conn.fetchval("SELECT to_regclass('good')") is not None


# --- command line against a database ---------------------------------------------------------------


async def test_cli_migrate(fresh_db: str, tmp_path: Path) -> None:
    env = cli_env(tmp_path, DATABASE_URL=fresh_db)
    for _ in range(2):
        code, _out, err = await run_cli("migrate", env=env)
        assert code == 0, err
        rows = await fetch(fresh_db, "SELECT version FROM schema_migrations ORDER BY version")
        assert [r["version"] for r in rows] == [m.version for m in discover()]
    assert not (tmp_path / "postgres").exists()  # the configured server was used, not an embedded one


async def test_cli_createadmin(fresh_db: str, tmp_path: Path, make_client: Any) -> None:
    env = cli_env(tmp_path, DATABASE_URL=fresh_db, FLYLIVE_ADMIN_PASSWORD=PASSWORD)
    query = """SELECT u.id, array_agg(r.name ORDER BY r.name) AS roles FROM users u
               JOIN user_roles ur ON ur.user_id = u.id JOIN roles r ON r.id = ur.role_id
               WHERE u.phone = $1 GROUP BY u.id"""
    code, _out, err = await run_cli("createadmin", "--phone", ADMIN_PHONE, env=env)
    assert code == 0, err
    rows = await fetch(fresh_db, query, ADMIN_PHONE)
    assert len(rows) == 1 and "super_admin" in rows[0]["roles"]
    code, _out, err = await run_cli("createadmin", "--phone", ADMIN_PHONE, env=env)
    assert code == 0, err
    again = await fetch(fresh_db, query, ADMIN_PHONE)
    assert [(r["id"], r["roles"]) for r in again] == [(r["id"], r["roles"]) for r in rows]
    assert (await fetch(fresh_db, "SELECT count(*) AS n FROM users"))[0]["n"] == 1

    client = await make_client(database_url=fresh_db)
    resp = await login(client, ADMIN_PHONE)
    assert resp.status == 200, await resp.text()
    me = await (await client.get("/api/user", headers=bearer((await resp.json())["token"]))).json()
    assert "super_admin" in {r["name"] for r in me["roles"]} and me["can"]["roles.assign_admin"] is True


async def test_cli_createadmin_without_password(fresh_db: str, tmp_path: Path) -> None:
    code, _out, err = await run_cli("createadmin", "--phone", ADMIN_PHONE, env=cli_env(tmp_path, DATABASE_URL=fresh_db))
    assert code == 2 and "FLYLIVE_ADMIN_PASSWORD" in err
    assert (await fetch(fresh_db, "SELECT to_regclass('users') AS t"))[0]["t"] is None


# --- slow: `flylive serve` with embedded PostgreSQL and Valkey, twice on one data directory ----------

Server = asyncio.subprocess.Process


@pytest.fixture
def serve_dirs() -> Iterator[tuple[Path, Path]]:
    """A data directory under /tmp (PostgreSQL runs as `nobody` when the tests run as root, so it must
    be reachable) and a log file for `flylive serve`; both removed afterwards."""
    data_dir = Path(tempfile.mkdtemp(prefix="flylive-e2e-", dir="/tmp"))
    data_dir.chmod(0o755)
    log = data_dir / "serve.log"
    log.touch()
    try:
        yield data_dir, log
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(ImportError, OSError, ValueError):
        import psutil

        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    return True


def _server_pids(pid: int, data_dir: Path) -> dict[str, set[int]]:
    """Pids of the embedded servers under `pid`: psutil when installed, else postmaster.pid."""
    try:
        import psutil
    except ImportError:
        postmaster = (data_dir / "postgres" / "postmaster.pid").read_text().split()[0]
        return {"postgres": {int(postmaster)}, "valkey": set()}
    found: dict[str, set[int]] = {"postgres": set(), "valkey": set()}
    for child in psutil.Process(pid).children(recursive=True):
        with contextlib.suppress(psutil.Error):
            text = child.name() + " " + " ".join(child.cmdline()[:1])
            for kind in found:
                if kind in text:
                    found[kind].add(child.pid)
    return found


def _open_append(log: Path) -> Any:
    return log.open("ab")


async def _serve(data_dir: Path, log: Path) -> tuple[Server, str]:
    port = free_port()
    with _open_append(log) as out:
        proc = await asyncio.create_subprocess_exec(
            *flylive_cmd(), "serve", "--port", str(port), "--no-seed", env=cli_env(data_dir), stdout=out, stderr=out
        )
    base = f"http://127.0.0.1:{port}"
    try:
        async with asyncio.timeout(60), aiohttp.ClientSession() as session:
            while proc.returncode is None:
                with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                    async with session.get(f"{base}/readyz", timeout=aiohttp.ClientTimeout(total=2)) as resp:
                        if resp.status == 200:
                            return proc, base
                await asyncio.sleep(0.25)
    except TimeoutError:
        await _kill(proc)
        pytest.fail(f"flylive serve was not ready within 60 s:\n{_tail(log)}")
    pytest.fail(f"flylive serve exited early with {proc.returncode}:\n{_tail(log)}")


async def _kill(proc: Server) -> None:
    if proc.returncode is None:
        proc.kill()
        await proc.wait()


async def _interrupt(proc: Server, log: Path) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        async with asyncio.timeout(20):
            code = await proc.wait()
    except TimeoutError:
        await _kill(proc)
        pytest.fail(f"flylive serve did not stop within 20 s after SIGINT:\n{_tail(log)}")
    assert code == 0, _tail(log)


@pytest.mark.slow
async def test_slow_embedded_serve_end_to_end(serve_dirs: tuple[Path, Path]) -> None:
    """Slow (initdb + two starts): `flylive serve` with no URLs runs its own servers and keeps data."""
    data_dir, log = serve_dirs
    body = registration()
    proc, base = await _serve(data_dir, log)
    try:
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{base}/api/register", json=body) as resp:
                assert resp.status == 200, await resp.text()
                token = (await resp.json())["token"]
        pids = _server_pids(proc.pid, data_dir)
        assert pids["postgres"], "no embedded PostgreSQL found under flylive serve"
        if importlib.util.find_spec("psutil") is not None:
            assert pids["valkey"], "no embedded Valkey found under flylive serve"
    finally:
        await _interrupt(proc, log)
    left = [pid for group in pids.values() for pid in group if _alive(pid)]
    assert left == [], f"embedded servers still running: {left}"

    proc, base = await _serve(data_dir, log)
    try:
        async with aiohttp.ClientSession() as session:
            login = {"phone": body["phone"], "password": PASSWORD}
            async with session.post(f"{base}/api/login", json=login) as resp:
                assert resp.status == 200, await resp.text()
            async with session.get(f"{base}/api/user", headers=bearer(token)) as resp:
                assert resp.status == 200, await resp.text()  # the generated signing key was kept too
                assert (await resp.json())["phone"] == body["phone"]
    finally:
        await _interrupt(proc, log)
