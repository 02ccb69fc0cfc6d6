"""The Socket.IO server: handshake authentication, live-socket revocation, event plumbing.

Mounted on the aiohttp app at /socket.io/. Fan-out between engine processes goes through
python-socketio's Redis client manager; revocations arrive on their own Redis channel and each
process closes only its own sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import socketio
from aiohttp import web

from engine.auth import store as auth_store
from engine.auth.store import Revocation
from engine.auth.tokens import TokenError
from engine.config import Config
from engine.jobs import Periodic
from engine.metrics import Metrics
from engine.realtime.acks import TOO_MANY_REQUESTS
from engine.realtime.dispatch import EventServer
from engine.realtime.manager import FastRedisManager
from engine.services import Services

log = logging.getLogger("flylive.realtime")

# connect_error messages of realtime-contract.md §1; clients match these strings exactly.
ORIGIN_NOT_ALLOWED = "Origin not allowed"
AUTH_REQUIRED = "Authentication required"
INVALID_CREDENTIALS = "Invalid credentials"
AUTH_FAILED = "Authentication failed"
# Not in the legacy contract (it never cut a socket off): a user whose socket was closed for
# flooding reconnects only after SOCKET_FLOOD_COOLDOWN_SECONDS.
COOLING_DOWN = TOO_MANY_REQUESTS
FLOOD_SCOPE = "socket-flood"
# Sockets closed at once at shutdown: each close writes two packets and starts its disconnect work.
DISCONNECT_CONCURRENCY = 200
HANG_UP_SECONDS = 1.0
SUBSCRIBE_WAIT_SECONDS = 10.0
# Optional protocol features a client may announce in `auth.features` (docs/asyncapi.yaml).
KNOWN_FEATURES = frozenset({"room:batch"})
MAX_FEATURES = 16


def _token_from(environ: dict[str, Any], auth: Any) -> str | None:
    if isinstance(auth, dict) and isinstance(auth.get("token"), str) and auth["token"]:
        return str(auth["token"])
    header = environ.get("HTTP_AUTHORIZATION", "")
    if isinstance(header, str) and header[:7].lower() == "bearer " and header[7:].strip():
        return header[7:].strip()
    return None


def announced_features(auth: Any) -> frozenset[str]:
    """The optional protocol features a client asks for in its handshake (`auth.features`, a list of
    names such as "room:batch"); unknown names are ignored, so clients may announce ahead of servers."""
    features = auth.get("features") if isinstance(auth, dict) else None
    if not isinstance(features, list):
        return frozenset()
    return KNOWN_FEATURES.intersection(f for f in features[:MAX_FEATURES] if isinstance(f, str))


def user_room(user_id: int) -> str:
    return f"user:{user_id}"


def session_room(session_id: str) -> str:
    return f"session:{session_id}"


class RealtimeServer:
    """The transport: sockets, their sessions, hooks, and the event registry. No domain lives here:
    domains register their events and hooks on it, and reach their own objects themselves."""

    def __init__(self, app: web.Application, config: Config, metrics: Metrics, redis_url: str, channel: str) -> None:
        self._config = config
        self._metrics = metrics
        self._services: Services | None = None
        self._listener: asyncio.Task[None] | None = None
        self.instance_id = uuid.uuid4().hex[:12]
        # Domain packages register what must happen when a socket arrives or goes away (presence,
        # leaving its room, …); hooks run in registration order (disconnect: reverse order).
        self.connect_hooks: list[Callable[[str, dict[str, Any]], Awaitable[None]]] = []
        self.disconnect_hooks: list[Callable[[str, dict[str, Any]], Awaitable[None]]] = []
        # Run at stop, after the sockets are closed (e.g. a domain forgetting this process's records).
        self.stop_hooks: list[Callable[[], Awaitable[None]]] = []
        # Every client event name -> its payload Struct, as registered (docs/asyncapi.yaml is checked against it).
        self.client_events: dict[str, type] = {}
        self.background: list[Periodic] = []
        # Disconnect work runs as tasks of its own (see `run_detached`); kept to be awaited at stop.
        self._detached: set[asyncio.Task[None]] = set()
        self._deadline: float | None = None  # of the shutdown, once it began
        self.sio = EventServer(
            config,
            metrics,
            async_mode="aiohttp",
            client_manager=FastRedisManager(redis_url, channel, config.socketio_redis_max_connections),
            # CORS is answered by the HTTP middleware and the Origin is checked in `connect`, so a
            # refused browser gets the contract's "Origin not allowed" instead of a bare HTTP 400.
            cors_allowed_origins=[],
            ping_interval=config.socket_ping_interval,
            ping_timeout=config.socket_ping_timeout,
            max_http_buffer_size=config.socket_max_payload_bytes,
            http_compression=config.socket_compression,
        )
        self.sio.on_flood = self._cool_down
        self.sio.on("connect", self._on_connect)
        self.sio.on("disconnect", self._on_disconnect)
        self.sio.attach(app)

    @property
    def config(self) -> Config:
        return self._config

    @property
    def services(self) -> Services:
        """The shared services, from `start` on (events and hooks only run once it has)."""
        if self._services is None:
            raise RuntimeError("the realtime server has not started")
        return self._services

    async def _cool_down(self, user_id: int) -> None:
        """A socket of the user was cut for flooding: their next sockets wait, so a flooder that
        reconnects at once does not get a full budget with each new socket."""
        seconds = self._config.socket_flood_cooldown_seconds
        if seconds:
            await self.services.limiter.cool_down(FLOOD_SCOPE, str(user_id), seconds)

    async def _authenticate(self, environ: dict[str, Any], auth: Any) -> dict[str, Any]:
        origin = environ.get("HTTP_ORIGIN")
        if origin and origin not in self._config.cors_origins:
            raise socketio.exceptions.ConnectionRefusedError(ORIGIN_NOT_ALLOWED)
        token = _token_from(environ, auth)
        if token is None:
            raise socketio.exceptions.ConnectionRefusedError(AUTH_REQUIRED)
        svc = self.services
        try:
            claims = svc.signer.verify(token)
        except TokenError as exc:
            raise socketio.exceptions.ConnectionRefusedError(INVALID_CREDENTIALS) from exc
        if await svc.limiter.cooling(FLOOD_SCOPE, str(claims.user_id)):
            raise socketio.exceptions.ConnectionRefusedError(COOLING_DOWN)
        if await auth_store.is_revoked(svc.redis, svc.keys, claims.session_id):
            raise socketio.exceptions.ConnectionRefusedError(INVALID_CREDENTIALS)
        # Only what handlers read: a session lives as long as its socket, on every socket.
        avatar = claims.raw.get("avatar")
        session = {"user_id": claims.user_id, "session_id": claims.session_id, "name": claims.name,
                   "avatar": avatar if isinstance(avatar, str) else ""}  # fmt: skip
        features = announced_features(auth)
        if features:
            session["features"] = features
        return session

    async def _on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        try:
            session = await self._authenticate(environ, auth)
        except socketio.exceptions.ConnectionRefusedError:
            self._metrics.auth_attempts.labels("socket", "refused").inc()
            raise
        except Exception as exc:
            log.exception("socket handshake failed")
            self._metrics.auth_attempts.labels("socket", "error").inc()
            raise socketio.exceptions.ConnectionRefusedError(AUTH_FAILED) from exc
        await self.sio.save_session(sid, session)
        await self.sio.enter_room(sid, user_room(session["user_id"]))
        await self.sio.enter_room(sid, session_room(session["session_id"]))
        for hook in self.connect_hooks:
            await hook(sid, session)
        self._metrics.auth_attempts.labels("socket", "ok").inc()
        self._metrics.socket_connections.inc()

    def run_detached(self, work: Coroutine[Any, Any, None], name: str) -> None:
        """Run disconnect work as a task of its own, never inside the handler that noticed it.

        python-engineio closes a socket whose ping timed out from inside `send()` and runs the
        disconnect handler right there: inside whichever emit noticed it, which may be a room
        broadcast made under that room's lock. Disconnect work leaves rooms and so takes room
        locks; run inline it would wait on a lock its own caller holds, and freeze the room.
        """
        task = asyncio.create_task(work, name=name)
        self._detached.add(task)
        task.add_done_callback(self._detached.discard)

    async def _on_disconnect(self, sid: str, reason: Any = None) -> None:
        self._metrics.socket_connections.dec()
        try:
            # Read now: python-socketio forgets the session once this handler returns.
            session = await self.sio.get_session(sid)
        except KeyError:
            return
        self.run_detached(self._run_disconnect_hooks(sid, session), f"disconnect:{sid}")

    async def _run_disconnect_hooks(self, sid: str, session: dict[str, Any]) -> None:
        for hook in reversed(self.disconnect_hooks):
            try:
                await hook(sid, session)
            except Exception:
                log.exception("disconnect hook failed", extra={"sid": sid})

    async def drop_local(self, event: Revocation) -> int:
        """Tell and close this process's sockets that the revocation covers."""
        rooms = [session_room(s) for s in event.sessions] if event.sessions is not None else [user_room(event.user_id)]
        sids = {sid for room in rooms for sid, _ in self.sio.manager.get_participants("/", room)}
        for sid in sids:
            with contextlib.suppress(Exception):
                await self.sio.emit("auth:force_disconnect", {"reason": event.reason}, to=sid, ignore_queue=True)
            await self.sio.disconnect(sid, ignore_queue=True)
            self._metrics.forced_disconnects.labels(event.reason).inc()
        return len(sids)

    async def _listen_revocations(self) -> None:
        svc = self.services
        while True:
            try:
                async for event in auth_store.revocations(svc.redis, svc.keys):
                    if event is None:
                        log.warning("bad revocation message ignored")
                        continue
                    await self.drop_local(event)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("revocation listener failed; resubscribing")
                await asyncio.sleep(1)

    async def start(self, services: Services) -> None:
        self._services = services
        # Start the Redis client manager now rather than at the first connection, so emits from
        # other processes reach this one's sockets from the start.
        self.sio.manager_initialized = True
        self.sio.manager.initialize()
        # Serve sockets only once this process hears the others: a room script that finds no other
        # engine process subscribed spares its publish (FastRedisManager.alone).
        try:
            async with asyncio.timeout(SUBSCRIBE_WAIT_SECONDS):
                await self.sio.manager.wait_subscribed()
        except TimeoutError:
            log.warning("the Socket.IO channel's subscription is not confirmed yet; starting anyway")
        self._listener = asyncio.create_task(self._listen_revocations(), name="revocation-listener")
        for job in self.background:
            job.start()

    def _shutdown_deadline(self) -> float:
        """One deadline for the whole shutdown (loop time), set by its first step."""
        if self._deadline is None:
            self._deadline = asyncio.get_running_loop().time() + self._config.shutdown_grace_seconds
        return self._deadline

    async def disconnect_all(self) -> None:
        """Close every socket of this process cleanly (clients see a server disconnect, seats are held).

        Concurrently, DISCONNECT_CONCURRENCY at a time, until the shutdown's deadline
        (SHUTDOWN_GRACE_SECONDS after it began): python-engineio's close waits until the socket's queue is
        taken, which a long-polling client that no longer polls never does. A socket still closing
        at the deadline has had its disconnect handler run already; its wait is cancelled. Last,
        the WebSocket connections whose client has not answered the close within HANG_UP_SECONDS
        are ended, so that aiohttp does not wait for clients that never do.
        """
        loop, deadline = asyncio.get_running_loop(), self._shutdown_deadline()
        gate = asyncio.Semaphore(DISCONNECT_CONCURRENCY)

        async def close(sid: str, namespace: str) -> None:
            async with gate:
                with contextlib.suppress(Exception):
                    await self.sio.disconnect(sid, namespace=namespace, ignore_queue=True)

        manager = self.sio.manager
        sockets = [(sid, ns) for ns in list(manager.rooms) for sid, _ in manager.get_participants(ns, None)]
        tasks = [asyncio.create_task(close(sid, ns), name=f"close:{sid}") for sid, ns in sockets]
        if tasks:
            _done, late = await asyncio.wait(tasks, timeout=max(0.0, deadline - loop.time()))
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
            if late:
                log.warning("sockets still closing at the shutdown deadline", extra={"sockets": len(late)})
        await self._hang_up(min(deadline, loop.time() + HANG_UP_SECONDS))

    async def _hang_up(self, at: float) -> None:
        """Give the clients until `at` to answer the close, then end the WebSocket connections left."""
        loop, eio = asyncio.get_running_loop(), self.sio.eio
        # A handler's end is no event to wait on: poll, a few seconds at most, once per shutdown.
        while eio.sinks and loop.time() < at:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        eio.hang_up_all()

    async def _drain_detached(self, deadline: float) -> None:
        """Wait for the disconnect work still running (more may start while waiting), until `deadline`."""
        loop = asyncio.get_running_loop()
        while self._detached and loop.time() < deadline:
            await asyncio.wait(set(self._detached), timeout=deadline - loop.time())
        if self._detached:
            log.warning("disconnect work cut short at the shutdown deadline", extra={"tasks": len(self._detached)})
            for task in list(self._detached):
                task.cancel()
            await asyncio.gather(*self._detached, return_exceptions=True)

    async def stop(self) -> None:
        """Close any socket left, wait for their disconnect work, then this process's Redis records
        and the background tasks: Redis stays open (engine/app.py closes it after this) until the
        last disconnect hook is done, and the whole takes at most SHUTDOWN_GRACE_SECONDS."""
        await self.disconnect_all()
        await self._drain_detached(self._shutdown_deadline())
        for hook in self.stop_hooks:
            try:
                await hook()
            except Exception:
                log.exception("stop hook failed")
        await self.sio.shutdown()
        for job in self.background:
            await job.stop()
        tasks = [t for t in (self._listener, getattr(self.sio.manager, "thread", None)) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.sio.manager.close()
