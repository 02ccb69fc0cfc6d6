"""One Redis connection shared by every caller, written once per event-loop turn (auto-pipelining).

Why: redis-py's asyncio client spends ~85 µs of CPU per command on this machine (measured with
50 commands in flight: pool checkout and release with their locks and timeouts, the retry and
observability wrappers, and one socket write per command, which on loopback also pays for the
Redis side of the TCP stack). At 50 socket events in flight that was half of the engine's CPU per
`chat:message`. Here every command issued during one turn of the event loop goes out in one write
and the replies are parsed in bulk by hiredis: ~4 µs per command in the same measurement.

`MuxRedis` is redis-py's `Redis` with `execute_command` and `pipeline` routed through one
`MuxConnection`; everything else (the command methods, response callbacks, `Script`, errors) is
redis-py's own, so callers do not change. What does not go through the shared connection:

- commands that block the connection (`BLPOP`, `XREAD … BLOCK`, `WAIT`, …) or change its state
  (`SELECT`, `CLIENT`, `MULTI` issued alone, `WATCH`, subscriptions, `MONITOR`): redis-py's pool;
- pipelines that `WATCH` (optimistic transactions need the connection to themselves) or carry
  `Script` objects: the pool;
- clients the shared connection cannot speak for (TLS, a credential provider, an encoding other
  than UTF-8): every command goes to the pool.

Guarantees:

- **Order.** Commands are written in the order they were issued and Redis answers each connection
  in order, so replies are matched first in, first out. A pipeline's commands are queued in one
  synchronous step, so no other caller's command comes between them: `MULTI … EXEC` on the shared
  connection is as atomic as on a connection of its own.
- **Failure.** When the connection is lost, every command still waiting for its reply fails with
  `ConnectionError` (whether Redis ran it is unknown, as with any connection error), and the next
  command connects again. Nothing is retried: a script that ran must not run twice.
- **A stuck server.** If replies are owed and none has come for `reply_timeout` seconds, the
  connection is aborted, which fails the commands waiting on it.
- **Cancellation.** A caller that stops waiting leaves its reply slot in place; the reply is read
  and dropped when it comes, so the stream of replies never goes out of step.
"""

from __future__ import annotations

import asyncio
import collections
import inspect
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import hiredis
from redis._parsers.base import BaseParser
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.connection import Connection, ConnectionPool, UnixDomainSocketConnection
from redis.client import EMPTY_RESPONSE, NEVER_DECODE
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import DataError, ExecAbortError, ResponseError, WatchError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.utils import DEFAULT_RESP_VERSION, str_if_bytes

# Commands that must have a connection to themselves: they block it, or change its state.
POOLED = frozenset(
    {
        "BLPOP", "BRPOP", "BRPOPLPUSH", "BLMOVE", "BLMPOP", "BZPOPMIN", "BZPOPMAX", "BZMPOP", "WAIT", "WAITAOF",
        "SELECT", "AUTH", "HELLO", "CLIENT", "RESET", "QUIT", "MONITOR", "READONLY", "READWRITE",
        "MULTI", "EXEC", "DISCARD", "WATCH", "UNWATCH", "SYNC", "PSYNC", "REPLCONF",
        "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE",
    }
)  # fmt: skip
_BLOCKING_WITH_OPTION = frozenset({"XREAD", "XREADGROUP"})  # blocking only with a BLOCK argument
_MORE = object()  # hiredis: no complete reply buffered yet
_PARSE_ERROR = BaseParser.parse_error  # redis-py's error reply -> exception class (NOSCRIPT, …)


def command_args(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """A command as Redis wants it: redis-py writes some names with a space ("SCRIPT LOAD")."""
    name = args[0]
    if isinstance(name, str):
        return (*name.split(), *args[1:]) if " " in name else args
    return (*name.split(), *args[1:]) if b" " in name else args


def pack(args: tuple[Any, ...]) -> bytes:
    """One command in RESP. Values as redis-py encodes them: str (UTF-8), bytes, int, float."""
    try:
        return hiredis.pack_command(command_args(args))  # type: ignore[no-any-return]
    except TypeError as exc:  # bool, None, a list…: what redis-py's encoder refuses too
        raise DataError(f"Invalid input in command {args[0]!r}: {exc}") from None


def must_be_pooled(args: tuple[Any, ...]) -> bool:
    name = str_if_bytes(args[0]).split(" ", 1)[0].upper()
    if name in POOLED:
        return True
    return name in _BLOCKING_WITH_OPTION and any(
        str_if_bytes(a).upper() == "BLOCK" for a in args[1:] if isinstance(a, str | bytes)
    )


class _Transport(asyncio.Protocol):
    """The shared connection's transport events, handed to its `MuxConnection`."""

    def __init__(self, mux: MuxConnection) -> None:
        self._mux = mux
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        self._mux._received(self, data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._mux._lost(self, exc)
        if not self.lost.done():
            self.lost.set_result(None)


class Listener(Protocol):
    """Where a subscribed connection's messages go (`Subscription`)."""

    def message(self, channel: bytes, data: bytes) -> None: ...

    def lost(self, exc: Exception) -> None: ...


class MuxConnection:
    """The connection itself: `submit` queues commands and returns a future per reply."""

    def __init__(
        self, kwargs: dict[str, Any], unix: bool, reply_timeout: float, listener: Listener | None = None
    ) -> None:
        self._kwargs = kwargs
        self._unix = unix
        self.reply_timeout = reply_timeout
        # Set on a subscribed connection (RESP2): `message` replies are published messages, not answers.
        self._listener = listener
        self._loop: asyncio.AbstractEventLoop | None = None
        self._protocol: _Transport | None = None
        self._transport: asyncio.Transport | None = None
        self._reader: Any = None
        self._connecting: asyncio.Task[None] | None = None
        self._out: list[bytes] = []  # written at the end of this loop turn
        self._slots: collections.deque[tuple[asyncio.Future[Any], bool]] = collections.deque()  # (reply, decode)
        self._flushing = False
        self._watchdog: asyncio.TimerHandle | None = None
        self._replies_seen = 0  # how many replies have come, for the watchdog
        self._closed = False
        self.writes = 0  # socket writes so far (each carries every command of one loop turn)
        self.commands = 0  # commands sent so far

    @classmethod
    def for_pool(cls, pool: ConnectionPool, reply_timeout: float = 30.0) -> MuxConnection | None:
        """A shared connection to the server `pool` connects to, or None where it cannot speak for
        the pool's connections (TLS, a credential provider, another encoding)."""
        kwargs = pool.connection_kwargs
        if pool.connection_class not in (Connection, UnixDomainSocketConnection):
            return None
        if kwargs.get("credential_provider") is not None or kwargs.get("encoding", "utf-8").lower() not in (
            "utf-8",
            "utf8",
        ):
            return None
        return cls(dict(kwargs), pool.connection_class is UnixDomainSocketConnection, reply_timeout)

    # --- sending -----------------------------------------------------------------------------------

    def submit(self, packed: Iterable[bytes], decode: Iterable[bool]) -> list[asyncio.Future[Any]]:
        """Queue commands (already packed) in this order; one future per reply, in the same order."""
        if self._closed:
            raise RedisConnectionError("the shared Redis connection is closed")
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        futures = []
        for command, wants_decoding in zip(packed, decode, strict=True):
            future = loop.create_future()
            self._out.append(command)
            self._slots.append((future, wants_decoding))
            futures.append(future)
        self.commands += len(futures)
        if self._transport is None:
            if self._connecting is None:
                self._connecting = loop.create_task(self._connect(), name="redis-mux-connect")
        elif not self._flushing:
            self._flushing = True
            loop.call_soon(self._flush)
        return futures

    def _flush(self) -> None:
        self._flushing = False
        out, self._out = self._out, []
        if not out or self._transport is None:
            self._out = out + self._out  # reconnecting: the connect step writes them
            return
        self._transport.write(out[0] if len(out) == 1 else b"".join(out))
        self.writes += 1
        if self._watchdog is None:
            self._arm_watchdog()

    # --- connecting --------------------------------------------------------------------------------

    def _handshake(self) -> list[tuple[Any, ...]]:
        kw = self._kwargs
        protocol = int(kw.get("protocol") or DEFAULT_RESP_VERSION)
        username, password = kw.get("username"), kw.get("password")
        commands: list[tuple[Any, ...]] = []
        if protocol == 3:
            hello: list[Any] = ["HELLO", 3]
            if password:
                hello += ["AUTH", username or "default", password]
            commands.append(tuple(hello))
        elif password:
            commands.append(("AUTH", username, password) if username else ("AUTH", password))
        if kw.get("client_name"):
            commands.append(("CLIENT", "SETNAME", kw["client_name"]))
        if kw.get("db"):
            commands.append(("SELECT", kw["db"]))
        return commands

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        kw = self._kwargs
        try:
            async with asyncio.timeout(kw.get("socket_connect_timeout") or kw.get("socket_timeout") or 10):
                if self._unix:
                    transport, protocol = await loop.create_unix_connection(lambda: _Transport(self), kw["path"])
                else:
                    transport, protocol = await loop.create_connection(
                        lambda: _Transport(self), kw.get("host", "localhost"), int(kw.get("port", 6379))
                    )
        except (OSError, TimeoutError) as exc:  # asyncio.timeout raises the builtin
            self._connecting = None
            self._fail_all(RedisConnectionError(f"Error connecting to Redis: {exc}"))
            return
        encoding = {"encoding": kw.get("encoding", "utf-8"), "errors": kw.get("encoding_errors", "strict")}
        self._reader = hiredis.Reader(
            protocolError=RedisConnectionError,
            replyError=_PARSE_ERROR,
            notEnoughData=_MORE,
            **(encoding if kw.get("decode_responses") else {}),
        )
        handshake = self._handshake()
        replies = [loop.create_future() for _ in handshake]
        self._slots.extendleft(reversed([(reply, True) for reply in replies]))
        self._protocol, self._transport = protocol, transport
        self._connecting = None
        self._out = [pack(c) for c in handshake] + self._out
        self._flush()
        for command, reply in zip(handshake, replies, strict=True):
            try:
                result = await reply
            except RedisConnectionError:
                return  # lost meanwhile: every waiting command has failed already
            if isinstance(result, Exception):
                self._abort(RedisConnectionError(f"Redis refused {command[0]}: {result}"))
                return

    # --- receiving ---------------------------------------------------------------------------------

    def _received(self, protocol: _Transport, data: bytes) -> None:
        if protocol is not self._protocol:
            return
        reader, slots = self._reader, self._slots
        reader.feed(data)
        try:
            while True:
                reply = reader.gets(slots[0][1] if slots else True)
                if reply is _MORE:
                    break
                if isinstance(reply, hiredis.PushNotification):
                    continue  # RESP3 pushes (no subscription here): not a reply to anything
                if self._listener is not None and isinstance(reply, list) and reply[:1] == [b"message"]:
                    self._listener.message(reply[1], reply[2])
                    continue
                self._replies_seen += 1
                if not slots:
                    raise RedisConnectionError("a Redis reply that no command asked for")
                future, _ = slots.popleft()
                if not future.done():
                    future.set_result(reply)
        except RedisConnectionError as exc:  # a protocol error: the stream of replies cannot be trusted
            self._abort(exc)

    def _lost(self, protocol: _Transport, exc: Exception | None) -> None:
        if protocol is not self._protocol:
            return
        self._protocol = self._transport = None
        self._fail_all(RedisConnectionError(f"Connection to Redis lost{f': {exc}' if exc else ''}"))

    def _abort(self, exc: Exception) -> None:
        transport = self._transport
        self._protocol = self._transport = None
        self._fail_all(exc)
        if transport is not None:
            transport.abort()

    def _fail_all(self, exc: Exception) -> None:
        if self._listener is not None:
            self._listener.lost(exc)
        slots, self._slots = self._slots, collections.deque()
        self._out = []
        self._reader = None
        for future, _ in slots:
            if not future.done():
                future.set_exception(exc)
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    def _arm_watchdog(self) -> None:
        assert self._loop is not None
        seen = self._replies_seen
        self._watchdog = self._loop.call_later(self.reply_timeout, self._check_progress, seen)

    def pause_reading(self, paused: bool) -> None:
        """Stop (or resume) reading replies: a subscriber whose consumer fell behind leaves the rest
        in Redis's output buffer, whose limit for subscribers then applies as for any client."""
        if self._transport is not None:
            (self._transport.pause_reading if paused else self._transport.resume_reading)()

    def _check_progress(self, seen_then: int) -> None:
        self._watchdog = None
        if not self._slots or self._transport is None:
            return
        if self._replies_seen == seen_then:
            self._abort(RedisTimeoutError(f"No reply from Redis for {self.reply_timeout} s"))
        else:
            self._arm_watchdog()

    async def close(self) -> None:
        self._closed = True
        if self._connecting is not None:
            self._connecting.cancel()
            await asyncio.gather(self._connecting, return_exceptions=True)
        protocol, transport = self._protocol, self._transport
        if transport is not None and protocol is not None:
            transport.close()
            await protocol.lost
        self._fail_all(RedisConnectionError("the shared Redis connection is closed"))


async def parsed(callbacks: Any, command_name: Any, response: Any, options: dict[str, Any]) -> Any:
    """What redis-py's `parse_response` does with a reply once it has read it."""
    callback = callbacks.get(command_name)
    if callback is None:
        return response
    options = {k: v for k, v in options.items() if k not in (NEVER_DECODE, EMPTY_RESPONSE, "keys")}
    result = callback(response, **options)
    return await result if inspect.isawaitable(result) else result


async def _reply(future: asyncio.Future[Any]) -> Any:
    reply = await future
    if isinstance(reply, ResponseError):
        raise reply from None
    return reply


class MuxRedis(Redis):
    """redis-py's client, sending what it can through one shared connection (see the module)."""

    def __init__(self, *args: Any, reply_timeout: float = 30.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._mux = (
            None if self.single_connection_client else MuxConnection.for_pool(self.connection_pool, reply_timeout)
        )

    @property
    def mux(self) -> MuxConnection | None:
        """The shared connection (None: every command goes to the pool); counts writes and commands."""
        return self._mux

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        mux = self._mux
        if mux is None or must_be_pooled(args):
            return await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]
        (future,) = mux.submit([pack(args)], [NEVER_DECODE not in options])
        try:
            response = await _reply(future)
        except ResponseError:
            if EMPTY_RESPONSE in options:
                return options[EMPTY_RESPONSE]
            raise
        return await parsed(self.response_callbacks, args[0], response, options)

    async def evalsha_raw(self, sha: str, keys: Sequence[Any], args: Iterable[Any]) -> Any:
        """EVALSHA on the shared connection, its raw reply (redis-py has no callback for it): the one
        call of most socket events, without `execute_command`'s checks on the command's name."""
        if self._mux is None:
            return await self.evalsha(sha, len(keys), *keys, *args)
        (future,) = self._mux.submit([pack(("EVALSHA", sha, len(keys), *keys, *args))], [True])
        return await _reply(future)

    def pipeline(self, transaction: bool = True, shard_hint: str | None = None) -> Pipeline:
        return MuxPipeline(self.connection_pool, self.response_callbacks, transaction, shard_hint, self._mux)

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        if self._mux is not None:
            await self._mux.close()
        await super().aclose(close_connection_pool)


class MuxPipeline(Pipeline):
    """redis-py's pipeline, executed on the shared connection unless it watches keys or runs
    `Script` objects (then redis-py's own, on a pooled connection)."""

    def __init__(self, pool: ConnectionPool, callbacks: Any, transaction: bool, shard_hint: str | None,
                 mux: MuxConnection | None) -> None:  # fmt: skip
        super().__init__(pool, callbacks, transaction, shard_hint)
        self._mux = mux

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        stack, mux = self.command_stack, self._mux
        if (
            mux is None
            or self.watching
            or self.scripts
            or self.connection is not None
            or any(must_be_pooled(args) for args, _ in stack)
        ):
            return await super().execute(raise_on_error)
        if not stack:
            return []
        try:
            if self.is_transaction or self.explicit_transaction:
                return await self._transaction_on(mux, stack, raise_on_error)
            return await self._pipeline_on(mux, stack, raise_on_error)
        finally:
            await self.reset()  # type: ignore[no-untyped-call]

    async def _pipeline_on(self, mux: MuxConnection, stack: list[Any], raise_on_error: bool) -> list[Any]:
        futures = mux.submit([pack(args) for args, _ in stack], [NEVER_DECODE not in options for _, options in stack])
        response: list[Any] = []
        for (args, options), future in zip(stack, futures, strict=True):
            reply = await future
            if not isinstance(reply, ResponseError):
                reply = await parsed(self.response_callbacks, args[0], reply, options)
            elif EMPTY_RESPONSE in options:
                reply = options[EMPTY_RESPONSE]
            response.append(reply)
        if raise_on_error:
            self.raise_first_error(stack, response)
        return response

    async def _transaction_on(self, mux: MuxConnection, stack: list[Any], raise_on_error: bool) -> list[Any]:
        # As redis-py's `_execute_transaction`: commands carrying EMPTY_RESPONSE are not sent; their
        # place in the result holds that value.
        sent = [(i, cmd) for i, cmd in enumerate(stack) if EMPTY_RESPONSE not in cmd[1]]
        packed = [pack(("MULTI",)), *(pack(args) for _, (args, _) in sent), pack(("EXEC",))]
        futures = mux.submit(packed, [True] * len(packed))
        errors: list[tuple[int, Any]] = []
        multi = await futures[0]
        if isinstance(multi, ResponseError):
            errors.append((0, multi))
        queued = dict(zip((i for i, _ in sent), futures[1:-1], strict=True))
        for i, (args, options) in enumerate(stack):
            if i not in queued:
                errors.append((i, options[EMPTY_RESPONSE]))
                continue
            reply = await queued[i]
            if isinstance(reply, ResponseError):
                self.annotate_exception(reply, i + 1, args)
                errors.append((i, reply))
        response = await futures[-1]
        if isinstance(response, ExecAbortError):
            if errors:
                raise errors[0][1] from response
            raise response
        if isinstance(response, ResponseError):
            raise response
        if response is None:
            raise WatchError("Watched variable changed.")
        for i, e in errors:
            response.insert(i, e)
        if len(response) != len(stack):
            raise ResponseError("Wrong number of response items from pipeline execution")
        if raise_on_error:
            self.raise_first_error(stack, response)
        data = []
        for r, (args, options) in zip(response, stack, strict=True):
            data.append(r if isinstance(r, Exception) else await parsed(self.response_callbacks, args[0], r, options))
        return data


class Subscription:
    """The messages published on one channel, read off a connection of their own (RESP2, parsed by
    hiredis), in the order Redis sent them. Iterate to receive each message's data; the iteration
    raises `ConnectionError` when the connection is lost (the caller subscribes again)."""

    def __init__(self, pool: ConnectionPool, channel: str, *, name: str | None = None, max_buffered: int = 10_000,
                 ping_seconds: float = 30.0) -> None:  # fmt: skip
        kwargs = {**pool.connection_kwargs, "protocol": 2, "decode_responses": False}
        if name:
            kwargs["client_name"] = name  # CLIENT LIST shows whose subscription a connection is
        # A server that stops answering is noticed by a ping left unanswered (the reply timeout).
        self._conn = MuxConnection(kwargs, pool.connection_class is UnixDomainSocketConnection, ping_seconds, self)
        self._ping_seconds = ping_seconds
        self._pinger: asyncio.TimerHandle | None = None
        self._channel = channel.encode()
        self._queue: collections.deque[bytes] = collections.deque()
        self._max = max_buffered
        self._paused = False
        self._waiter: asyncio.Future[None] | None = None
        self._error: Exception | None = None

    async def __aenter__(self) -> Subscription:
        (reply,) = self._conn.submit([pack(("SUBSCRIBE", self._channel))], [True])
        await _reply(reply)
        self._pinger = asyncio.get_running_loop().call_later(self._ping_seconds, self._ping)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._pinger is not None:
            self._pinger.cancel()
        await self._conn.close()

    def _ping(self) -> None:
        if self._error is not None:
            return  # never through a new connection: it would not be subscribed
        (reply,) = self._conn.submit([pack(("PING",))], [True])
        reply.add_done_callback(lambda f: f.cancelled() or f.exception())  # a loss is reported by `lost`
        self._pinger = asyncio.get_running_loop().call_later(self._ping_seconds, self._ping)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> bytes:
        while not self._queue:
            if self._error is not None:
                raise self._error
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        data = self._queue.popleft()
        if self._paused and len(self._queue) < self._max // 2:
            self._paused = False
            self._conn.pause_reading(False)
        return data

    def message(self, channel: bytes, data: bytes) -> None:
        if channel != self._channel:
            return
        self._queue.append(data)
        if len(self._queue) >= self._max and not self._paused:
            self._paused = True
            self._conn.pause_reading(True)
        self._wake()

    def lost(self, exc: Exception) -> None:
        if self._error is None:
            self._error = exc if isinstance(exc, RedisConnectionError) else RedisConnectionError(str(exc))
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
