"""The reference mediasoup node (media_node/) against a test engine.

Runs only where a mediasoup worker is available (MEDIASOUP_WORKER_BIN, or `make media-node-install`
having built media_node/node_modules/mediasoup); otherwise it is skipped with the reason.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from engine.appkeys import SERVICES
from engine.media import store
from tests.conftest import bearer, registration
from tests.sockets import Peer, url_of

NODE_DIR = Path(__file__).resolve().parent.parent / "media_node"
SECRET = "reference-node-secret-" + "r" * 32


def _unavailable() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed"
    if not (NODE_DIR / "node_modules" / "mediasoup").exists():
        return "mediasoup is not installed in media_node/ (run `make media-node-install`)"
    if not (
        os.environ.get("MEDIASOUP_WORKER_BIN")
        or any((NODE_DIR / "node_modules" / "mediasoup").rglob("mediasoup-worker"))
    ):
        return "no mediasoup worker binary (set MEDIASOUP_WORKER_BIN or build it with `make media-node-install`)"
    return None


pytestmark = pytest.mark.skipif(_unavailable() is not None, reason=_unavailable() or "")


async def test_reference_node_registers_and_creates_transports(make_client: Any) -> None:
    client = await make_client(media_node_secrets=(SECRET,))
    env = {**os.environ, "ENGINE_URL": url_of(client), "MEDIA_NODE_SECRET": SECRET, "NODE_ID": "ref-1",
           "RTC_MIN_PORT": "41000", "RTC_MAX_PORT": "41099"}  # fmt: skip
    proc = await asyncio.create_subprocess_exec("node", "index.js", cwd=NODE_DIR, env=env)
    try:
        svc = client.app[SERVICES]
        for _ in range(200):
            if await store.get_node(svc.redis, svc.keys, "ref-1") is not None:
                break
            await asyncio.sleep(0.05)
        node = await store.get_node(svc.redis, svc.keys, "ref-1")
        assert node is not None and node.rtp_capabilities["codecs"][0]["mimeType"] == "audio/opus"
        tokens = await (await client.post("/api/register", json=registration())).json()
        room_id = (await (await client.get("/api/user", headers=bearer(tokens["token"]))).json())["room"]["id"]
        peer = await Peer().connect(url_of(client), tokens["token"])
        try:
            joined = await peer.call("room:join", {"roomId": room_id})
            assert joined["rtpCapabilities"]["codecs"][0]["mimeType"] == "audio/opus"
            created = await peer.call("transport:create", {"roomId": room_id, "type": "consumer"})
            assert created["success"] is True and created["data"]["dtlsParameters"]["fingerprints"]
            missing = await peer.call("transport:connect", {"roomId": room_id, "transportId": "nope",
                                                            "dtlsParameters": {"fingerprints": []}})  # fmt: skip
            assert missing == {"success": False, "error": "Transport not found"}
        finally:
            await peer.close()
    finally:
        proc.terminate()
        await proc.wait()
