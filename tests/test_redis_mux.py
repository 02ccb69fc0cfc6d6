"""engine/redis_mux.py against the real Redis: the shared connection answers exactly as redis-py's
pooled connections do, writes a loop turn's commands at once, keeps replies in step through
errors, cancellations and lost connections, and leaves blocking commands to the pool."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import ConnectionError, DataError, ResponseError, TimeoutError

from engine.lua import LuaScript
from engine.redis_mux import MuxRedis, Subscription


@contextlib.asynccontextmanager
async def mux_client(url: str, **kwargs: Any) -> AsyncIterator[MuxRedis]:
    reply_timeout = kwargs.pop("reply_timeout", 30.0)
    pool = BlockingConnectionPool.from_url(url, max_connections=4, timeout=5, **kwargs)
    client = MuxRedis(connection_pool=pool, reply_timeout=reply_timeout)
    try:
        yield client
    finally:
        await client.aclose()
        await pool.aclose()


@pytest.fixture
async def plain(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def test_replies_are_those_of_redis_py(redis_url: str, redis_prefix: str, plain: Redis) -> None:
    k = redis_prefix
    async with mux_client(redis_url) as mux:

        async def both(name: str, *args: Any, **kwargs: Any) -> None:
            ours, theirs = await getattr(mux, name)(*args, **kwargs), await getattr(plain, name)(*args, **kwargs)
            assert ours == theirs, name

        await mux.hset(f"{k}h", mapping={"a": "1", "b": "ü"})
        await mux.zadd(f"{k}z", {"x": 1.5, "y": 2})
        await mux.xadd(f"{k}s", {"f": "v"}, id="1-1")
        await mux.rpush(f"{k}l", "a", "b")
        await mux.set(f"{k}n", 41)
        await both("hgetall", f"{k}h")
        await both("hmget", f"{k}h", ["a", "missing"])
        await both("zrange", f"{k}z", 0, -1, withscores=True)
        await both("zscore", f"{k}z", "x")
        await both("xrange", f"{k}s")
        await both("lrange", f"{k}l", 0, -1)
        await both("exists", f"{k}h", f"{k}nothing")
        await both("ttl", f"{k}h")
        await both("type", f"{k}z")
        await both("get", f"{k}nothing")
        assert await mux.incr(f"{k}n") == 42
        assert await mux.set(f"{k}once", 1, nx=True) is True
        assert await mux.set(f"{k}once", 1, nx=True) is None  # the callback ran on the reply
        assert await mux.script_load("return 1") == await plain.script_load("return 1")  # "SCRIPT LOAD": two words


async def test_a_decoding_client_decodes_and_never_decode_is_honoured(redis_url: str, redis_prefix: str) -> None:
    async with mux_client(redis_url, decode_responses=True) as mux:
        await mux.set(f"{redis_prefix}t", "ü")
        assert await mux.get(f"{redis_prefix}t") == "ü"
        assert await mux.execute_command("GET", f"{redis_prefix}t", NEVER_DECODE=True) == "ü".encode()


async def test_a_loop_turns_commands_go_out_in_one_write(redis_url: str, redis_prefix: str) -> None:
    async with mux_client(redis_url) as mux:
        await mux.ping()  # connected
        assert mux.mux is not None
        writes = mux.mux.writes
        values = await asyncio.gather(*(mux.incr(f"{redis_prefix}c") for _ in range(50)))
        assert sorted(values) == list(range(1, 51))
        assert mux.mux.writes == writes + 1


async def test_errors_keep_replies_in_step(redis_url: str, redis_prefix: str) -> None:
    async with mux_client(redis_url) as mux:
        await mux.hset(f"{redis_prefix}h", "a", "1")
        results = await asyncio.gather(mux.incr(f"{redis_prefix}h"), mux.get(f"{redis_prefix}x"),
                                       mux.hget(f"{redis_prefix}h", "a"), return_exceptions=True)  # fmt: skip
        assert isinstance(results[0], ResponseError) and "WRONGTYPE" in str(results[0])
        assert results[1:] == [None, b"1"]
        with pytest.raises(DataError):
            await mux.set(f"{redis_prefix}b", True)  # type: ignore[arg-type]  # refused as redis-py does
        assert await mux.hget(f"{redis_prefix}h", "a") == b"1"


async def test_a_cancelled_command_leaves_its_reply_behind(redis_url: str, redis_prefix: str) -> None:
    async with mux_client(redis_url) as mux:
        await mux.set(f"{redis_prefix}a", "A")
        await mux.set(f"{redis_prefix}b", "B")
        first = asyncio.ensure_future(mux.get(f"{redis_prefix}a"))
        second = asyncio.ensure_future(mux.get(f"{redis_prefix}b"))
        await asyncio.sleep(0)  # both queued
        first.cancel()
        assert await second == b"B"
        assert await mux.get(f"{redis_prefix}a") == b"A"


async def test_pipelines_on_the_shared_connection(redis_url: str, redis_prefix: str, plain: Redis) -> None:
    k = redis_prefix
    async with mux_client(redis_url) as mux:
        assert mux.mux is not None
        await mux.ping()
        commands = mux.mux.commands
        for transaction in (False, True):
            async with mux.pipeline(transaction=transaction) as pipe:
                pipe.set(f"{k}p", 1).incr(f"{k}p").hset(f"{k}ph", "f", "v").hgetall(f"{k}ph").get(f"{k}none")
                assert await pipe.execute() == [True, 2, 1 if not transaction else 0, {b"f": b"v"}, None]
        assert mux.mux.commands == commands + 5 + 7  # MULTI and EXEC around the transaction's five
        async with mux.pipeline(transaction=False) as pipe:
            pipe.incr(f"{k}ph").get(f"{k}p")
            wrong, value = await pipe.execute(raise_on_error=False)
        assert isinstance(wrong, ResponseError) and value == b"2"
        async with mux.pipeline(transaction=True) as pipe:
            pipe.incr(f"{k}ph").incr(f"{k}p")
            with pytest.raises(ResponseError, match="Command # 1"):
                await pipe.execute()
        assert await plain.get(f"{k}p") == b"3"  # a transaction runs the rest despite one failure


async def test_watching_pipelines_and_blocking_commands_use_the_pool(redis_url: str, redis_prefix: str) -> None:
    k = redis_prefix
    async with mux_client(redis_url) as mux:
        await mux.set(f"{k}w", 1)

        async def bump(pipe: Any) -> None:
            value = int(await pipe.get(f"{k}w"))
            pipe.multi()
            pipe.set(f"{k}w", value + 1)

        await mux.transaction(bump, f"{k}w")
        assert await mux.get(f"{k}w") == b"2"
        # BLPOP holds its connection: while it waits, the shared connection goes on answering.
        waiting = asyncio.ensure_future(mux.blpop([f"{k}list"], timeout=1))
        await asyncio.sleep(0.05)
        assert await mux.get(f"{k}w") == b"2"
        assert not waiting.done()
        await mux.rpush(f"{k}list", "x")
        assert list(await waiting) == [f"{k}list".encode(), b"x"]


async def test_scripts_survive_a_server_that_forgot_them(redis_url: str, redis_prefix: str) -> None:
    async with mux_client(redis_url) as mux:
        script = mux.register_script("return redis.call('INCR', KEYS[1])")
        assert await script(keys=[f"{redis_prefix}s"]) == 1
        # As after a Redis restart (SCRIPT FLUSH would do it to everyone else on this server too):
        # a script the server has not seen yet under this SHA gets NOSCRIPT and is loaded.
        fresh = mux.register_script(f"return redis.call('INCR', KEYS[1]) -- {redis_prefix}")
        assert await mux.script_exists(fresh.sha) == [False]
        assert await fresh(keys=[f"{redis_prefix}s"]) == 2
        assert await mux.script_exists(fresh.sha) == [True]


async def test_the_database_of_the_url_is_selected(redis_url: str, redis_prefix: str) -> None:
    other = urlsplit(redis_url)._replace(path="/3").geturl()
    async with mux_client(other) as mux:
        await mux.set(f"{redis_prefix}db", "three")
    plain3 = Redis.from_url(other)
    try:
        assert await plain3.get(f"{redis_prefix}db") == b"three"
        await plain3.delete(f"{redis_prefix}db")
    finally:
        await plain3.aclose()


class Proxy:
    """A TCP forwarder to Redis that can hold back Redis's replies or cut every connection."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.flowing = asyncio.Event()  # cleared: Redis's replies are held back
        self.flowing.set()
        self.connections = 0
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"redis://127.0.0.1:{port}/0"

    async def __aexit__(self, *exc: Any) -> None:
        self.cut()
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        self._writers += [writer, up_writer]

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, holdable: bool) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    if holdable:
                        await self.flowing.wait()
                    dst.write(data)
            dst.close()

        await asyncio.gather(pump(reader, up_writer, False), pump(up_reader, writer, True))

    def cut(self) -> None:
        for writer in self._writers:
            writer.transport.abort()
        self._writers = []


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 6379


async def test_a_lost_connection_fails_what_waits_then_connects_again(redis_url: str, redis_prefix: str) -> None:
    proxy = Proxy(_address(redis_url))
    async with proxy as url, mux_client(url) as mux:
        await mux.set(f"{redis_prefix}r", "1")
        proxy.flowing.clear()
        waiting = asyncio.ensure_future(mux.get(f"{redis_prefix}r"))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        proxy.cut()
        with pytest.raises(ConnectionError):
            await waiting
        proxy.flowing.set()
        assert await mux.get(f"{redis_prefix}r") == b"1"
        assert proxy.connections == 2


async def test_a_server_that_stops_answering_times_out(redis_url: str, redis_prefix: str) -> None:
    proxy = Proxy(_address(redis_url))
    async with proxy as url, mux_client(url, reply_timeout=0.2) as mux:
        await mux.set(f"{redis_prefix}t", "1")
        proxy.flowing.clear()
        with pytest.raises(TimeoutError):
            await mux.get(f"{redis_prefix}t")
        proxy.flowing.set()
        assert await mux.get(f"{redis_prefix}t") == b"1"  # a new connection


async def test_an_unreachable_server_fails_the_command(redis_prefix: str) -> None:
    async with mux_client("redis://127.0.0.1:1/0") as mux:
        with pytest.raises(ConnectionError):
            await mux.get(f"{redis_prefix}x")


async def test_a_subscription_reads_in_order_holds_back_and_ends_on_a_loss(redis_url: str, redis_prefix: str) -> None:
    proxy = Proxy(_address(redis_url))
    channel = f"{redis_prefix}chan"
    async with proxy as url, mux_client(url) as mux:
        async with Subscription(mux.connection_pool, channel, max_buffered=4) as messages:
            for n in range(10):
                await mux.publish(channel, f"m{n}")
            await mux.publish(f"{channel}:other", "not for us")
            received = [await anext(messages) for _ in range(10)]
            assert received == [f"m{n}".encode() for n in range(10)]  # paused past 4 and resumed: none lost
            proxy.cut()
            with pytest.raises(ConnectionError):
                await anext(messages)


async def test_a_bound_lua_script_loads_itself_when_the_server_lacks_it(redis_url: str, redis_prefix: str,
                                                                        tmp_path: Any) -> None:  # fmt: skip
    source = tmp_path / "incr.lua"
    source.write_text(f"-- {redis_prefix}\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])")
    script = LuaScript(source)
    async with mux_client(redis_url) as mux:
        assert await mux.script_exists(script.sha) == [False]
        bound = script.bind(mux)
        assert await bound(keys=[f"{redis_prefix}n"], args=[5]) == 5
        assert await bound(keys=[f"{redis_prefix}n"], args=[2]) == 7
        assert await mux.script_exists(script.sha) == [True]
