"""Sockets against hostile input (issue 10 §4): bad ids and text, malformed packets, floods, caps.

Well-formed calls go through python-socketio's AsyncClient; what no client library would send goes
through `RawSocket`, an Engine.IO v4 WebSocket that writes Socket.IO packets by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import re
from collections.abc import Iterable
from typing import Any

import aiohttp
import pytest
import socketio

from engine.appkeys import SERVICES
from engine.config import Config, Rate
from engine.errors import DomainError
from engine.realtime.jsonlimits import MAX_DEPTH, TooDeep, loads
from engine.rooms.model import ChatPayload
from engine.validation import convert_fields
from tests.helpers import new_user
from tests.sockets import Peer, url_of

WAIT = 5.0
CLOSED = "<closed>"


class RawSocket:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self._ids = itertools.count(1)

    @classmethod
    async def open(cls, session: aiohttp.ClientSession, url: str, token: str | None = None) -> RawSocket:
        raw = cls(await session.ws_connect(f"{url}/socket.io/?EIO=4&transport=websocket"))
        assert (await raw.receive()).startswith("0{")  # Engine.IO OPEN
        if token is not None:
            await raw.send("0" + json.dumps({"token": token}))
            connected = await raw.receive()
            assert connected.startswith("40{"), connected
        return raw

    async def send(self, packet: str) -> None:
        """Send one Socket.IO packet (an Engine.IO MESSAGE)."""
        await self.ws.send_str("4" + packet)

    def next_id(self) -> int:
        return next(self._ids)

    async def emit(self, event: str, *args: Any) -> int:
        ack_id = self.next_id()
        await self.send(f"2{ack_id}" + json.dumps([event, *args]))
        return ack_id

    async def receive(self, timeout: float = WAIT) -> str:
        """The next Engine.IO text message (pings answered on the way), or CLOSED once the server hangs up."""
        while True:
            msg = await self.ws.receive(timeout=timeout)
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
                return CLOSED
            assert msg.type == aiohttp.WSMsgType.TEXT, msg
            if msg.data == "2":
                await self.ws.send_str("3")
                continue
            return str(msg.data)

    async def next_ack(self) -> tuple[int, Any]:
        """The next ack, skipping server events; anything else fails the test."""
        while (message := await self.receive()).startswith("42"):
            pass
        match = re.fullmatch(r"43(\d+)(\[.*\])", message, re.S)
        assert match, message
        return int(match[1]), json.loads(match[2])[0]

    async def ack(self, ack_id: int) -> Any:
        """The ack of `ack_id`, which must be the next ack (none skipped, none sent twice)."""
        got, ack = await self.next_ack()
        assert got == ack_id, (ack_id, got, ack)
        return ack

    async def call(self, event: str, *args: Any) -> Any:
        return await self.ack(await self.emit(event, *args))

    async def flood(self, packets: Iterable[str]) -> None:
        """Send every packet without reading, or until the server has closed the connection."""
        with contextlib.suppress(ConnectionResetError):
            for packet in packets:
                await self.send(packet)

    async def acks(self, ack_ids: list[int]) -> list[Any]:
        """The acks of `ack_ids` in that order, whatever order they arrive in (nothing else may come)."""
        by_id = dict([await self.next_ack() for _ in ack_ids])
        return [by_id[ack_id] for ack_id in ack_ids]

    async def until_closed(self) -> list[str]:
        """Every message up to the server closing the WebSocket (a timeout fails the test)."""
        seen: list[str] = []
        while (message := await self.receive()) != CLOSED:
            seen.append(message)
        return seen


@pytest.fixture
async def http() -> Any:
    async with aiohttp.ClientSession() as session:
        yield session


def sample(client: Any, name: str, **labels: str) -> float:
    value = client.app[SERVICES].metrics.registry.get_sample_value(name, labels)
    return float(value or 0.0)


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]


# --- bad values in well-formed events -------------------------------------------------------------


async def test_unicode_digit_room_ids_name_no_room(client: Any, connect: Any) -> None:
    user = await new_user(client)
    peer = await connect(client, user)
    for ref in ("²", "①", "١٢", "1²"):
        ack = await peer.call("room:join", {"roomId": ref})
        assert (ack["success"], ack["error"]) == (False, "Room not found"), ref
        ack = await peer.call("chat:message", {"roomId": ref, "content": "hi"})
        assert (ack["success"], ack["error"]) == (False, "Not in room"), ref


async def test_lone_surrogate_is_an_invalid_payload(client: Any, connect: Any) -> None:
    user = await new_user(client)
    peer = await connect(client, user)
    assert (await peer.call("room:join", {"roomId": user.room}))["success"]
    for content in ("a\ud800b", "\udfff"):
        ack = await peer.call("chat:message", {"roomId": user.room, "content": content})
        assert (ack["success"], ack["error"]) == (False, "Invalid payload")
        assert ack["fields"] == {"content": ["The content field must be valid UTF-8 text."]}
    assert (await peer.call("chat:message", {"roomId": user.room, "content": "a\U0001f600b"}))["success"]


def test_strings_that_cannot_be_utf8_are_invalid_wherever_they_sit() -> None:
    for bad in ({"roomId": "1\ud800", "content": "x"}, {"roomId": "1", "content": "x", "type": "\ud800"}):
        with pytest.raises(DomainError) as caught:
            convert_fields(ChatPayload, bad)
        field = next(iter(caught.value.fields))
        assert caught.value.fields == {field: [f"The {field} field must be valid UTF-8 text."]}
    assert convert_fields(ChatPayload, {"roomId": "1", "content": "ok \u00e9"}).content == "ok \u00e9"


async def test_extra_arguments_are_an_invalid_payload(client: Any, http: Any) -> None:
    user = await new_user(client)
    raw = await RawSocket.open(http, url_of(client), user.token)
    ack = await raw.call("auth:whoami", {}, {})
    assert (ack["success"], ack["error"]) == (False, "Invalid payload")
    assert (await raw.call("auth:whoami", {}))["success"]


async def test_reserved_event_names_do_not_run_the_servers_handlers(client: Any, http: Any) -> None:
    """`42["disconnect"]` used to run the disconnect handler (leave the room) on a live socket."""
    user = await new_user(client)
    raw = await RawSocket.open(http, url_of(client), user.token)
    assert (await raw.call("room:join", {"roomId": user.room}))["success"]
    for name in ("disconnect", "connect"):
        await raw.send(f"2{raw.next_id()}" + json.dumps([name, {}]))
    ack = await raw.call("chat:message", {"roomId": user.room, "content": "still here"})
    assert ack["success"], ack
    assert sample(client, "flylive_socket_malformed_packets_total", kind="event") == 2


# --- malformed packets -----------------------------------------------------------------------------


def test_json_nesting_is_bounded() -> None:
    assert loads("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    assert loads('{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}') == {"a": "[" * 42}
    for depth in (MAX_DEPTH + 1, 500, 3000, 100_000):
        with pytest.raises(TooDeep):
            loads("[" * depth + "]" * depth)
    assert loads('"\\ud800"') == "\ud800"  # kept for the payload types to refuse, with the field named


async def test_deep_json_is_refused_without_an_ack_or_a_traceback(
    client: Any, http: Any, caplog: pytest.LogCaptureFixture
) -> None:
    user = await new_user(client)
    raw = await RawSocket.open(http, url_of(client), user.token)
    for depth in (100, 3000):
        nested = "[" * depth + "]" * depth
        await raw.send(f"2{raw.next_id()}" + f'["auth:whoami",{{"x":{nested}}}]')
    assert (await raw.call("auth:whoami"))["success"]  # the next message is this ack: none for the deep ones
    assert sample(client, "flylive_socket_malformed_packets_total", kind="decode") == 2
    assert tracebacks(caplog) == []


async def test_a_broken_binary_packet_does_not_jam_the_socket(client: Any, http: Any) -> None:
    user = await new_user(client)
    raw = await RawSocket.open(http, url_of(client), user.token)
    await raw.send(f'51-{raw.next_id()}["auth:whoami",{{"_placeholder":true,"num":5}}]')  # num past its attachment
    await raw.ws.send_bytes(b"\x00\x01")
    assert (await raw.call("auth:whoami"))["success"]
    await raw.send(f'50-{raw.next_id()}["auth:whoami",{{}}]')  # a binary packet announcing no attachment
    assert (await raw.call("auth:whoami"))["success"]
    await raw.ws.send_bytes(b"\x00")  # an attachment nobody announced
    assert (await raw.call("auth:whoami"))["success"]
    assert sample(client, "flylive_socket_malformed_packets_total", kind="binary") == 3


MALFORMED = ["2[[]]", '2[{"a":1}]', "4{}", '2["x"', "2", "2{}", "2[]", '59999999999-["a"]', '2"x"', "0[]", "3[]"]


@pytest.mark.parametrize("signed_in", [True, False])
async def test_malformed_packets_are_refused_quietly_and_the_socket_is_closed(
    make_client: Any, http: Any, caplog: pytest.LogCaptureFixture, signed_in: bool
) -> None:
    app = await make_client(socket_malformed_limit=40)
    user = await new_user(app)
    raw = await RawSocket.open(http, url_of(app), user.token if signed_in else None)
    caplog.clear()
    # Past the limit and on and on, as a flooder does: not reading what the server says.
    await raw.flood(itertools.islice(itertools.cycle(MALFORMED), 400))
    seen = await raw.until_closed()
    assert seen == ["1"]  # Engine.IO CLOSE, then the server hung up; no ack for any of them
    assert sum(sample(app, "flylive_socket_malformed_packets_total", kind=k) for k in ("decode", "event", "binary",
               "packet")) == 40  # fmt: skip
    assert sample(app, "flylive_socket_guard_disconnects_total", reason="malformed") == 1
    assert tracebacks(caplog) == []
    assert len(caplog.text) < 1000, caplog.text  # stock python-socketio: ~800 bytes of traceback per packet
    again = await Peer().connect(url_of(app), user.token)  # the server itself is fine
    try:
        assert (await again.call("auth:whoami"))["success"]
    finally:
        await again.close()


@pytest.mark.parametrize("frame", ["x", "", "9abc", "4" + "[" * 3000, "4{}", "2" + "[" * 3000, "b!!"])
async def test_a_frame_that_is_no_engineio_packet_closes_its_connection_quietly(
    client: Any, http: Any, caplog: pytest.LogCaptureFixture, frame: str
) -> None:
    user = await new_user(client)
    raw = await RawSocket.open(http, url_of(client), user.token)
    caplog.clear()
    await raw.ws.send_str(frame)
    assert await raw.until_closed() == []
    assert sample(client, "flylive_socket_malformed_packets_total", kind="frame") == 1
    assert tracebacks(caplog) == []  # stock: a 500 with its traceback, or one per frame ("9abc")


async def test_upgrading_from_long_polling_still_works(client: Any) -> None:
    """The upgrade's probe frames (`2probe`, `5`) pass the frame check."""
    user = await new_user(client)
    peer = Peer()
    await peer.sio.connect(url_of(client), auth={"token": user.token}, transports=["polling", "websocket"])
    try:
        for _ in range(50):
            if peer.sio.transport() == "websocket":
                break
            await asyncio.sleep(0.05)
        assert peer.sio.transport() == "websocket"
        assert (await peer.call("auth:whoami"))["success"]
    finally:
        await peer.close()


async def test_python_engineio_tracebacks_are_rate_limited(
    client: Any, http: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Long-polling bodies python-engineio cannot decode log a traceback each, in its own code."""
    url = f"{url_of(client)}/socket.io/?EIO=4&transport=polling"
    async with http.get(url) as opened:
        sid = json.loads((await opened.text())[1:])["sid"]
    caplog.clear()
    for _ in range(20):
        async with http.post(f"{url}&sid={sid}", data="\x1e".join(["6"] * 30)) as resp:  # too many packets
            assert resp.status == 200
    assert len(tracebacks(caplog)) <= 1


# --- event budget and floods -----------------------------------------------------------------------


def test_default_budget_is_the_contracts() -> None:
    rate = Config().socket_event_rate_limit
    assert (rate.capacity, rate.capacity / rate.period) == (100, 20.0)  # realtime-contract §9


async def test_a_burst_of_a_hundred_events_passes(make_client: Any, http: Any) -> None:
    """The old default (30/s per user) refused the 31st event of a second."""
    app = await make_client(socket_event_rate_limit=Config().socket_event_rate_limit)
    user = await new_user(app)
    raw = await RawSocket.open(http, url_of(app), user.token)
    acks = await raw.acks([await raw.emit("auth:whoami") for _ in range(130)])
    allowed = [a["success"] for a in acks].count(True)
    # Refill adds 20/s while the burst is read; 130 leaves room for 1.5 s of it.
    assert 100 <= allowed < 130
    assert {a["error"] for a in acks if not a["success"]} == {"Too many requests"}


async def test_a_flooding_socket_is_refused_in_process_then_disconnected(
    make_client: Any, http: Any, caplog: pytest.LogCaptureFixture
) -> None:
    app = await make_client(socket_event_rate_limit=Rate(5, 600), socket_flood_refusals=20)
    user = await new_user(app)
    bystander = await RawSocket.open(http, url_of(app), user.token)  # the same user: budgets are per socket
    flooder = await RawSocket.open(http, url_of(app), user.token)
    for _ in range(5):
        assert (await flooder.call("auth:whoami"))["success"]
    await flooder.flood(f"2{flooder.next_id()}" + '["auth:whoami"]' for _ in range(300))
    answers = await flooder.until_closed()
    assert answers[-1] == "1"  # Engine.IO CLOSE at the 20th refusal, then the server hung up
    refusals = [json.loads(m[m.index("[") :])[0] for m in answers[:-1]]
    assert [(r["error"], r["retry_after"] >= 1) for r in refusals] == [("Too many requests", True)] * 19
    assert (await bystander.call("auth:whoami"))["success"]

    svc = app.app[SERVICES]
    assert await svc.redis.exists(svc.keys.rate_bucket("socket", str(user.id))) == 0  # no Redis round trip
    assert sample(app, "flylive_socket_guard_disconnects_total", reason="flood") == 1
    assert sample(app, "flylive_rate_limited_total", scope="socket") == 20
    assert sample(app, "flylive_socket_events_total", event="auth:whoami", result="fail") == 20
    floods = [r for r in caplog.records if r.getMessage() == "socket disconnected for flooding"]
    assert len(floods) == 1 and getattr(floods[0], "user_id", None) == user.id


# --- presence ---------------------------------------------------------------------------------------


async def test_presence_subscriptions_are_capped_per_socket_and_per_user(make_client: Any, connect: Any) -> None:
    app = await make_client(presence_subscriptions_per_socket=60, presence_subscriptions_per_user=100)
    user = await new_user(app)
    a, b = await connect(app, user), await connect(app, user)

    def ids(first: int, last: int) -> dict[str, list[int]]:
        return {"userIds": list(range(first, last + 1))}

    assert (await a.call("presence:subscribe", ids(1, 50)))["success"]
    refused = await a.call("presence:subscribe", ids(51, 100))
    assert refused == {"success": False, "error": "Too many presence subscriptions", "code": "PRESENCE_LIMIT",
                       "limit": 60, "scope": "socket"}  # fmt: skip
    assert (await a.call("presence:subscribe", ids(41, 60)))["success"]  # 10 new: 60 in all
    assert (await a.call("presence:subscribe", ids(1, 50)))["success"]  # already watched: free
    assert (await a.call("presence:unsubscribe", ids(1, 10)))["success"]
    assert (await a.call("presence:subscribe", ids(61, 70)))["success"]

    assert (await b.call("presence:subscribe", ids(1001, 1040)))["success"]  # 60 + 40: the user's 100
    refused = await b.call("presence:subscribe", ids(2000, 2000))
    assert (refused["code"], refused["limit"], refused["scope"]) == ("PRESENCE_LIMIT", 100, "user")
    await a.close()
    for _ in range(100):  # a's subscriptions go with it, once the server has seen it leave
        if (await b.call("presence:subscribe", ids(2000, 2019)))["success"]:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("a's subscriptions still count after it left")


async def test_a_user_cut_off_for_flooding_waits_before_connecting_again(make_client: Any, http: Any) -> None:
    app = await make_client(socket_event_rate_limit=Rate(5, 600), socket_flood_refusals=10,
                            socket_flood_cooldown_seconds=30)  # fmt: skip
    flooding, other = await new_user(app), await new_user(app)
    bystander = await RawSocket.open(http, url_of(app), flooding.token)  # already connected: stays
    flooder = await RawSocket.open(http, url_of(app), flooding.token)
    await flooder.flood(f"2{flooder.next_id()}" + '["auth:whoami"]' for _ in range(100))
    await flooder.until_closed()

    # A new socket of the flooding user is refused with the rate-limit string, until the cool-down ends.
    again = Peer()
    refusals: list[Any] = []
    again.sio.on("connect_error", refusals.append)
    try:
        with pytest.raises(socketio.exceptions.ConnectionError):
            await again.connect(url_of(app), flooding.token)
    finally:
        await again.close()
    assert refusals == [{"message": "Too many requests"}]
    svc = app.app[SERVICES]
    assert 0 < await svc.limiter.cooling("socket-flood", str(flooding.id)) <= 30
    assert (await bystander.call("auth:whoami"))["success"]
    peer = await Peer().connect(url_of(app), other.token)  # nobody else is barred
    try:
        assert (await peer.call("auth:whoami"))["success"]
    finally:
        await peer.close()
    assert sample(app, "flylive_socket_event_budget_exceeded_total") == 10
    assert sample(app, "flylive_auth_attempts_total", kind="socket", result="refused") == 1
