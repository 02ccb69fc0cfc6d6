"""The official JavaScript socket.io-client against the engine (tests/js/connect.mjs).

Needs `node` on PATH and `npm install` run in tests/js; skipped otherwise.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.helpers import bearer

Client = TestClient[web.Request, web.Application]
JS_DIR = Path(__file__).parent / "js"
SCRIPT = JS_DIR / "connect.mjs"


def node_or_skip() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not on PATH; the JS client test needs Node.js")
    if not (JS_DIR / "node_modules" / "socket.io-client").is_dir():
        pytest.skip("tests/js/node_modules/socket.io-client is missing; run `npm install` in tests/js")
    return node


async def run_client(client: Client, token: str) -> tuple[int, Any]:
    """Run connect.mjs against the test server; return (exit code, the JSON line it printed)."""
    node = node_or_skip()
    proc = await asyncio.create_subprocess_exec(
        node,
        str(SCRIPT),
        f"http://127.0.0.1:{client.server.port}",
        token,
        cwd=JS_DIR,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(), 20)
    except BaseException:
        proc.kill()
        await proc.wait()
        raise
    lines = stdout.decode().strip().splitlines()
    assert len(lines) == 1, (proc.returncode, stdout, stderr)
    return proc.returncode if proc.returncode is not None else -1, json.loads(lines[0])


async def test_js_client_connects_and_calls_whoami(client: Client, register: Any) -> None:
    tokens = await register(name="Node Nia")
    resp = await client.get("/api/user", headers=bearer(tokens["token"]))
    assert resp.status == 200
    uid = (await resp.json())["id"]
    code, ack = await run_client(client, tokens["token"])
    assert code == 0, ack
    assert ack["success"] is True
    assert ack["data"]["id"] == uid and ack["data"]["name"] == "Node Nia"


async def test_js_client_bad_token_gets_invalid_credentials(client: Client) -> None:
    code, line = await run_client(client, "not-a-valid-token")
    assert code == 3, line
    assert line == {"connect_error": "Invalid credentials"}
