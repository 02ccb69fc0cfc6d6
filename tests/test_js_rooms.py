"""Wire compatibility of the rooms events with the official socket.io-client (tests/js/room_scenario.mjs)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from engine.messages import decode_event
from tests.helpers import bearer
from tests.sockets import url_of

JS_DIR = Path(__file__).resolve().parent / "js"
SCENARIO = JS_DIR / "room_scenario.mjs"


def node_or_skip() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed, so the official socket.io-client cannot run")
    if not (JS_DIR / "node_modules" / "socket.io-client" / "package.json").exists():
        pytest.skip("socket.io-client is not installed: run `npm install --no-audit --no-fund` in tests/js")
    return node


async def run_scenario(node: str, *args: str, script: Path = SCENARIO) -> tuple[int, Any, str]:
    proc = await asyncio.create_subprocess_exec(
        node, str(script), *args, cwd=JS_DIR, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
    lines = stdout.decode().strip().splitlines()
    return proc.returncode or 0, json.loads(lines[-1]) if lines else None, stderr.decode()


async def user_and_room(client: Any, token: str) -> tuple[int, int]:
    me = await (await client.get("/api/user", headers=bearer(token))).json()
    return int(me["id"]), int(me["room"]["id"])


def named(events: list[dict[str, Any]], name: str) -> list[Any]:
    return [e["data"] for e in events if e["event"] == name]


async def test_room_scenario_with_the_official_client(client: Any, register: Any) -> None:
    node = node_or_skip()
    alice, bob = await register(name="Alice"), await register(name="Bob")
    alice_id, room_id = await user_and_room(client, alice["token"])
    bob_id, _ = await user_and_room(client, bob["token"])

    code, out, err = await run_scenario(node, url_of(client), alice["token"], bob["token"], str(room_id))
    assert code == 0, (code, out, err)
    acks, events = out["acks"], out["events"]

    assert set(acks) == {"joinA", "joinB", "takeA", "chatA", "chatB", "leaveB"}
    assert all(ack["success"] is True for ack in acks.values()), acks
    assert acks["joinA"]["roomId"] == acks["joinB"]["roomId"] == str(room_id)
    assert acks["joinA"]["participants"] == [] and acks["joinA"]["room"]["ownerId"] == alice_id
    assert [p["id"] for p in acks["joinB"]["participants"]] == [alice_id]

    assert [(u["userId"], u["user"]["name"]) for u in named(events["A"], "room:userJoined")] == [(bob_id, "Bob")]
    seat_updates = named(events["B"], "seat:updated")
    assert [(s["seatIndex"], s["userId"], s["isMuted"]) for s in seat_updates] == [(1, alice_id, False)]
    for who in ("A", "B"):
        chats = named(events[who], "chat:message")
        assert [(c["userId"], c["userName"], c["content"]) for c in chats] == [
            (alice_id, "Alice", "hello from A"),
            (bob_id, "Bob", "hello from B"),
        ], who
        assert chats[0]["seq"] < chats[1]["seq"] and chats[0]["id"] != chats[1]["id"]
    assert [left["userId"] for left in named(events["A"], "room:userLeft")] == [bob_id]
    assert named(events["B"], "room:userLeft") == []

    decoded = 0
    for who in ("A", "B"):
        for event in events[who]:
            decode_event(event["event"], event["data"])  # raises when a payload breaks its schema
            decoded += 1
    assert decoded >= 6


async def test_room_scenario_reports_connect_error(client: Any, register: Any) -> None:
    node = node_or_skip()
    alice = await register(name="Alice")
    _, room_id = await user_and_room(client, alice["token"])
    code, out, _err = await run_scenario(node, url_of(client), alice["token"], "not-a-jwt", str(room_id))
    assert code == 3 and out == {"connect_error": "Invalid credentials", "who": "B"}
