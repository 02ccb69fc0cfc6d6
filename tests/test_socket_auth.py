"""Socket.IO handshake auth, live revocation, event plumbing, compression and shutdown.

Every test talks to a real server over TCP with python-socketio's AsyncClient (or a raw WebSocket).
A refused handshake reaches the client as a `connect_error` event whose data is the server's
`{"message": ...}`; `connect()` then raises socketio.exceptions.ConnectionError.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import warnings
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import jwt
import pytest
import socketio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from engine.app import create_app
from engine.config import Config, Rate
from tests.conftest import AppFactory
from tests.helpers import METRICS_TOKEN, TEST_SECRET, bearer, grant_role
from tests.sockets import close_client, url_of

Client = TestClient[web.Request, web.Application]
WAIT = 5.0
OTHER_SECRET = "another-secret-" + "y" * 40


class Probe:
    """A python-socketio client that records what the server sent it."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.connect_errors: list[Any] = []
        self.forced: list[Any] = []
        self.disconnect_reasons: list[Any] = []
        self.forced_event = asyncio.Event()
        self.disconnected = asyncio.Event()
        self.sio.on("connect_error", self._on_connect_error)
        self.sio.on("disconnect", self._on_disconnect)
        self.sio.on("auth:force_disconnect", self._on_forced)

    async def _on_connect_error(self, data: Any = None) -> None:
        self.connect_errors.append(data)

    async def _on_disconnect(self, reason: Any = None) -> None:
        self.disconnect_reasons.append(reason)
        self.disconnected.set()

    async def _on_forced(self, data: Any = None) -> None:
        self.forced.append(data)
        self.forced_event.set()

    async def connect(
        self,
        url: str,
        token: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        transports: tuple[str, ...] = ("websocket",),
    ) -> None:
        await self.sio.connect(
            url,
            headers=headers or {},
            auth={"token": token} if token is not None else None,
            transports=list(transports),
            wait_timeout=WAIT,
        )

    async def call(self, event: str, data: Any = None) -> Any:
        return await self.sio.call(event, {} if data is None else data, timeout=WAIT)


@contextlib.asynccontextmanager
async def connected(url: str, token: str | None = None, **kwargs: Any) -> AsyncIterator[Probe]:
    probe = Probe()
    try:
        await probe.connect(url, token, **kwargs)
        yield probe
    finally:
        await close_client(probe.sio)


async def refusal(url: str, token: str | None = None, **kwargs: Any) -> Any:
    """Connect expecting a refusal; return the data of the one connect_error received."""
    probe = Probe()
    try:
        with pytest.raises(socketio.exceptions.ConnectionError):
            await probe.connect(url, token, **kwargs)
        assert not probe.sio.connected
    finally:
        await close_client(probe.sio)
    assert len(probe.connect_errors) == 1, probe.connect_errors
    return probe.connect_errors[0]


async def user_id(client: Client, token: str) -> int:
    resp = await client.get("/api/user", headers=bearer(token))
    assert resp.status == 200, await resp.text()
    uid: int = (await resp.json())["id"]
    return uid


def sign(claims: dict[str, Any], key: str = TEST_SECRET, algorithm: str = "HS256") -> str:
    with warnings.catch_warnings():
        # PyJWT warns that TEST_SECRET is shorter than HS512 recommends; the token is meant to be refused.
        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
        return jwt.encode(claims, key, algorithm=algorithm)


def claims_for(uid: int, *, exp_offset: int = 600) -> dict[str, Any]:
    now = int(time.time())
    return {
        "sub": str(uid),
        "id": uid,
        "sid": "0" * 32,
        "name": "Forged",
        "iat": now - 10,
        "exp": now + exp_offset,
        "typ": "access",
    }


# --- handshake ---------------------------------------------------------------------------------


async def test_auth_token_connects_and_whoami(client: Client, register: Any) -> None:
    tokens = await register(name="Socket Sam")
    uid = await user_id(client, tokens["token"])
    async with connected(url_of(client), tokens["token"]) as probe:
        assert probe.sio.transport() == "websocket"
        ack = await probe.call("auth:whoami")
    assert ack["success"] is True
    assert ack["data"]["id"] == uid
    assert ack["data"]["name"] == "Socket Sam"
    assert ack["data"]["session_id"] == jwt.decode(tokens["token"], TEST_SECRET, algorithms=["HS256"])["sid"]


async def test_polling_transport_connects_and_is_revoked(client: Client, register: Any) -> None:
    tokens = await register()
    uid = await user_id(client, tokens["token"])
    async with connected(url_of(client), tokens["token"], transports=("polling",)) as probe:
        assert probe.sio.transport() == "polling"
        ack = await probe.call("auth:whoami")
        assert ack["success"] is True and ack["data"]["id"] == uid
        # End with a server-side close: python-engineio's client waits out its pending long-poll
        # GET (about 65 s) when it closes a polling connection itself.
        assert (await client.post("/api/logout", headers=bearer(tokens["token"]))).status == 200
        await asyncio.wait_for(probe.disconnected.wait(), WAIT)
        assert probe.forced and probe.forced[0].get("reason")
        assert not probe.sio.connected


async def test_bearer_header_connects(client: Client, register: Any) -> None:
    tokens = await register()
    uid = await user_id(client, tokens["token"])
    async with connected(url_of(client), headers=bearer(tokens["token"])) as probe:
        ack = await probe.call("auth:whoami")
    assert ack["success"] is True and ack["data"]["id"] == uid


async def test_no_token_is_authentication_required(client: Client) -> None:
    assert await refusal(url_of(client)) == {"message": "Authentication required"}
    assert await refusal(url_of(client), headers={"Authorization": "Basic abc"}) == {
        "message": "Authentication required"
    }


async def test_bad_tokens_are_invalid_credentials(client: Client, register: Any) -> None:
    tokens = await register()
    uid = await user_id(client, tokens["token"])
    good = claims_for(uid)
    bad = {
        "expired": sign({**good, "iat": int(time.time()) - 3600, "exp": int(time.time()) - 60}),
        "other key": sign(good, OTHER_SECRET),
        "alg none": jwt.encode(good, None, algorithm="none"),
        "HS512": sign(good, TEST_SECRET, "HS512"),
        "refresh token": tokens["refresh_token"],
        "garbage": "not-a-jwt",
    }
    for label, token in bad.items():
        assert await refusal(url_of(client), token) == {"message": "Invalid credentials"}, label
    # The same claims signed properly do connect, so the refusals above are about the token alone.
    async with connected(url_of(client), sign(good)) as probe:
        assert (await probe.call("auth:whoami"))["data"]["id"] == uid


async def test_logged_out_session_is_invalid_credentials(client: Client, register: Any) -> None:
    tokens = await register()
    resp = await client.post("/api/logout", headers=bearer(tokens["token"]))
    assert resp.status == 200
    assert await refusal(url_of(client), tokens["token"]) == {"message": "Invalid credentials"}


async def test_origin_allowlist(client: Client, register: Any) -> None:
    tokens = await register()
    foreign = {"Origin": "https://evil.example"}
    assert await refusal(url_of(client), tokens["token"], headers=foreign) == {"message": "Origin not allowed"}
    async with connected(url_of(client), tokens["token"], headers={"Origin": "https://flyliveapp.com"}) as probe:
        assert (await probe.call("auth:whoami"))["success"] is True


async def test_key_rotation_accepts_previous_key(make_client: AppFactory, client: Client, register: Any) -> None:
    new_secret = "rotated-secret-" + "z" * 40
    old_token = (await register())["token"]  # signed by `client` with TEST_SECRET
    uid = await user_id(client, old_token)
    rotated = await make_client(jwt_secret=new_secret, jwt_secret_previous=(TEST_SECRET,))
    async with connected(url_of(rotated), old_token) as probe:
        assert (await probe.call("auth:whoami"))["data"]["id"] == uid
    async with connected(url_of(rotated), sign(claims_for(uid), new_secret)) as probe:
        assert (await probe.call("auth:whoami"))["data"]["id"] == uid
    # Without the previous key listed, the old token is refused.
    cut_over = await make_client(jwt_secret=new_secret)
    assert await refusal(url_of(cut_over), old_token) == {"message": "Invalid credentials"}


# --- live revocation ---------------------------------------------------------------------------


async def test_logout_everywhere_disconnects_live_sockets(client: Client, register: Any) -> None:
    leaving, staying = await register(), await register()
    async with (
        connected(url_of(client), leaving["token"]) as gone,
        connected(url_of(client), staying["token"]) as kept,
    ):
        resp = await client.post("/api/logout", headers=bearer(leaving["token"]))
        assert resp.status == 200
        await asyncio.wait_for(gone.disconnected.wait(), WAIT)
        assert len(gone.forced) == 1
        assert isinstance(gone.forced[0], dict) and gone.forced[0].get("reason")
        assert gone.disconnect_reasons == [socketio.AsyncClient.reason.SERVER_DISCONNECT]
        assert not gone.sio.connected
        # The other user's socket is untouched and still answers.
        assert kept.sio.connected and not kept.forced
        assert (await kept.call("auth:whoami"))["success"] is True


async def test_ban_disconnects_live_sockets(client: Client, register: Any, config: Config) -> None:
    admin, victim = await register(), await register()
    admin_id, victim_id = await user_id(client, admin["token"]), await user_id(client, victim["token"])
    await grant_role(config.database_url, admin_id, "super_admin")
    async with connected(url_of(client), victim["token"]) as probe:
        resp = await client.post(
            f"/api/v1/admin/users/{victim_id}/status", json={"status": "banned"}, headers=bearer(admin["token"])
        )
        assert resp.status == 200, await resp.text()
        await asyncio.wait_for(probe.disconnected.wait(), WAIT)
        assert probe.forced and probe.forced[0].get("reason") == "banned"
        assert not probe.sio.connected
    assert await refusal(url_of(client), victim["token"]) == {"message": "Invalid credentials"}


# --- event plumbing ----------------------------------------------------------------------------


async def test_wrong_payload_type_is_invalid_payload(client: Client, register: Any) -> None:
    tokens = await register()
    async with connected(url_of(client), tokens["token"]) as probe:
        for payload in ([1, 2], "text", 7):
            ack = await probe.call("auth:whoami", payload)
            assert ack["success"] is False and ack["error"] == "Invalid payload", payload
        assert probe.sio.connected
        assert (await probe.call("auth:whoami"))["success"] is True


def metric(text: str, name: str, labels: str = "") -> float | None:
    match = re.search(rf"^{re.escape(name + labels)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else None


async def test_event_rate_limit_and_metrics(make_client: AppFactory, register: Any) -> None:
    tokens = await register()
    limited = await make_client(socket_event_rate_limit=Rate(3, 60))
    async with connected(url_of(limited), tokens["token"]) as probe:
        acks = [await probe.call("auth:whoami") for _ in range(4)]
        assert [a["success"] for a in acks] == [True, True, True, False]
        assert acks[3]["error"] == "Too many requests"
        assert probe.sio.connected
        text = await (await limited.get("/metrics", headers=bearer(METRICS_TOKEN))).text()
    assert metric(text, "flylive_socket_events_total", '{event="auth:whoami",result="ok"}') == 3.0
    assert metric(text, "flylive_socket_events_total", '{event="auth:whoami",result="fail"}') == 1.0
    assert metric(text, "flylive_socket_connections") == 1.0


# --- compression -------------------------------------------------------------------------------


async def negotiated_compression(url: str) -> int:
    """Open a raw engine.io WebSocket offering permessage-deflate; return what the server accepted."""
    async with aiohttp.ClientSession() as session:
        # compress=15 sends `Sec-WebSocket-Extensions: permessage-deflate; ...`; ws.compress is the
        # window size the server's response header accepted, 0 when the header is absent.
        async with session.ws_connect(f"{url}/socket.io/?EIO=4&transport=websocket", compress=15) as ws:
            opening = await ws.receive_str(timeout=WAIT)
            assert opening.startswith("0{"), opening  # engine.io OPEN packet
            return ws.compress


async def test_websocket_compression_off_by_default(client: Client) -> None:
    assert await negotiated_compression(url_of(client)) == 0


async def test_websocket_compression_when_enabled(make_client: AppFactory) -> None:
    compressed = await make_client(socket_compression=True)
    assert await negotiated_compression(url_of(compressed)) > 0


# --- shutdown ----------------------------------------------------------------------------------


async def test_shutdown_disconnects_clients(config: Config, register: Any) -> None:
    tokens = await register()
    # A short grace like production's SHUTDOWN_GRACE_SECONDS (engine/cli.py passes it as shutdown_timeout).
    server = TestServer(create_app(config))
    await server.start_server(shutdown_timeout=1.0)
    try:
        async with connected(f"http://127.0.0.1:{server.port}", tokens["token"]) as probe:
            assert (await probe.call("auth:whoami"))["success"] is True
            await server.close()
            await asyncio.wait_for(probe.disconnected.wait(), WAIT)
            assert not probe.sio.connected
            assert probe.disconnect_reasons == [socketio.AsyncClient.reason.SERVER_DISCONNECT]
    finally:
        await server.close()
