"""A stock python-socketio server on aiohttp + uvloop, the baseline loadtest/bench_realtime.py measures
beside the engine: the same events as loadtest/node/server.js, no auth, no persistence, the default
(in-process) client manager.

    .venv/bin/python loadtest/stock_server.py PORT
"""

from __future__ import annotations

import gc
import itertools
import sys
import time
import uuid
from typing import Any

import socketio
import uvloop
from aiohttp import web

sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins=[])
_seq = itertools.count(1)


@sio.on("room:join")
async def join(sid: str, data: dict[str, Any]) -> dict[str, Any]:
    await sio.enter_room(sid, str(data["roomId"]))
    return {"success": True}


@sio.on("chat:message")
async def chat(sid: str, data: dict[str, Any]) -> dict[str, Any]:
    # The engine's chat:message broadcast, in shape and size: the whole room gets it, the sender too.
    message = {
        "id": str(uuid.uuid4()), "userId": 0, "userName": sid, "userAvatar": "", "userFrameId": None,
        "userChatBubbleId": None, "content": data["content"], "type": data.get("type", "text"),
        "timestamp": int(time.time() * 1000), "seq": next(_seq),
    }  # fmt: skip
    await sio.emit("chat:message", message, room=str(data["roomId"]))
    return {"success": True}


@sio.on("echo")
async def echo(sid: str, data: Any) -> Any:
    return data


@sio.on("bench:gc")
async def collect(sid: str, data: Any = None) -> dict[str, Any]:
    # The benchmark collects garbage before it reads RSS, as it does on the Node server.
    gc.collect()
    return {"success": True}


def main() -> None:
    app = web.Application()
    sio.attach(app)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None, loop=uvloop.new_event_loop())


if __name__ == "__main__":
    main()
