"""Locust load test for FlyLive rooms: register over REST, connect Socket.IO, join, sit, chat.

    .venv/bin/locust -f loadtest/locustfile.py --headless -u 50 -r 10 -t 30s --host http://127.0.0.1:8080

Each simulated user registers its own account (`POST /api/register`, a fresh +1555… number),
reads itself (`GET /api/user`), connects to `/socket.io/` with `auth={"token": …}` and joins one
of a few shared rooms. Those rooms belong to "host" accounts registered once per process at test
start (their room ids come from `GET /api/user`). Then, between pauses, it chats, sometimes takes
or leaves a seat and sometimes moves to another shared room.

What lands in locust's statistics (request type / name):
- `POST /api/register`, `GET /api/user`: the REST calls.
- `WS connect`: the Socket.IO handshake.
- `WSC room:join`, `seat:take`, `seat:leave`, `chat:message`, `room:leave`: time from emit to ack.
  An ack with `success: false` counts as a failure (message = its code), except `SEAT_TAKEN`
  (another user was faster: the server answered correctly).
- `WSR chat:message (fan-out)`: per received broadcast, receipt time minus the message's server
  `timestamp` (same machine, so the clocks agree).

Settings (environment variables): FLYLIVE_LT_ROOMS (shared rooms, default 3), FLYLIVE_LT_ACK_TIMEOUT
(seconds to wait for an ack, default 10). The server's default rate limits allow about 100 new
users a minute from one IP and about one chat message per second per user; see loadtest/README.md.
"""

from __future__ import annotations

import logging
import os
import random
import string
import threading
import time
from collections import Counter
from typing import Any, ClassVar

import gevent.lock
import socketio
from locust import between, events, task
from locust.clients import HttpSession
from locust.contrib.socketio import SocketIOUser
from locust.env import Environment
from locust.runners import MasterRunner

log = logging.getLogger("flylive.loadtest")

ROOM_HOSTS = int(os.environ.get("FLYLIVE_LT_ROOMS", "3"))
ACK_TIMEOUT = float(os.environ.get("FLYLIVE_LT_ACK_TIMEOUT", "10"))
PASSWORD = "loadtest-password-1"
EXPECTED_FAILURES = {"SEAT_TAKEN"}  # a correct answer under contention, not an error

ROOMS: list[int] = []
_rooms_lock = gevent.lock.Semaphore()
_phone_base = random.randrange(10_000_000)
_phone_seq = 0
RECEIVED: Counter[str] = Counter()  # every server event received, by name
OUTCOMES: Counter[str] = Counter()  # every ack, by "event: outcome"


class AckFailure(Exception):
    """An ack with success false (or no ack at all)."""


def next_phone() -> str:
    """A +1555 number not used before by this process (a taken one is retried with the next)."""
    global _phone_seq
    _phone_seq += 1
    return f"+1555{(_phone_base + _phone_seq * 7919) % 10_000_000:07d}"


def register(http: HttpSession) -> tuple[str, dict[str, Any]]:
    """Register a fresh account; return (access token, GET /api/user body). Raises on failure."""
    for _attempt in range(5):
        name = "lt " + "".join(random.choices(string.ascii_lowercase, k=6))
        body = {
            "name": name,
            "phone": next_phone(),
            "country": "US",
            "gender": "male",
            "dob": "1990-01-01",
            "password": PASSWORD,
        }
        with http.post("/api/register", json=body, name="/api/register", catch_response=True) as resp:
            if resp.status_code == 422 and "phone" in (resp.json().get("errors") or {}):
                resp.success()  # an earlier run took this number: draw the next one
                continue
            if resp.status_code != 200:
                resp.failure(f"{resp.status_code}: {resp.text[:200]}")
                raise AckFailure(f"register answered {resp.status_code}: {resp.text[:200]}")
            token = str(resp.json()["token"])
        auth = {"Authorization": f"Bearer {token}"}
        with http.get("/api/user", headers=auth, name="/api/user", catch_response=True) as resp:
            if resp.status_code != 200:
                resp.failure(f"{resp.status_code}: {resp.text[:200]}")
                raise AckFailure(f"GET /api/user answered {resp.status_code}: {resp.text[:200]}")
            return token, dict(resp.json())
    raise AckFailure("no free phone number in 5 tries")


def ensure_rooms(environment: Environment) -> list[int]:
    """Register the room hosts once per process; every user joins one of their rooms."""
    with _rooms_lock:
        if not ROOMS:
            http = HttpSession(environment.host or "", environment.events.request, None)
            for _ in range(ROOM_HOSTS):
                _token, me = register(http)
                ROOMS.append(int(me["room"]["id"]))
            log.info("shared rooms: %s", ROOMS)
    return ROOMS


@events.test_start.add_listener
def on_test_start(environment: Environment, **_kwargs: Any) -> None:
    if not isinstance(environment.runner, MasterRunner):  # workers (and local runs) need the rooms
        ensure_rooms(environment)


@events.test_stop.add_listener
def on_test_stop(environment: Environment, **_kwargs: Any) -> None:
    if OUTCOMES:
        print("ack outcomes: " + ", ".join(f"{k} x{v}" for k, v in sorted(OUTCOMES.items())))
    if RECEIVED:
        print("server events received: " + ", ".join(f"{k} x{v}" for k, v in sorted(RECEIVED.items())))


class RoomUser(SocketIOUser):
    wait_time = between(1, 3)
    # socketio.Client options. websocket-client sends `Origin: http://host:port` by default, which the
    # server refuses ("Origin not allowed") unless it is in CORS_ORIGINS; the apps send no Origin.
    options: ClassVar[dict[str, Any]] = {"reconnection": False, "websocket_extra_options": {"suppress_origin": True}}

    def on_start(self) -> None:
        self.room_id: int | None = None
        self.seat: int | None = None
        self.seat_count = 8
        self.http = HttpSession(self.host or "", self.environment.events.request, self)
        rooms = ensure_rooms(self.environment)
        token, me = register(self.http)
        self.user_id = int(me["id"])
        self.sio.on("chat:message", self.on_chat)
        self.sio.on("*", self.on_other)
        # SocketIOClient.connect records `WS connect` (and a failure) itself and does not raise.
        self.sio.connect(self.host, auth={"token": token}, transports=["websocket"], wait_timeout=ACK_TIMEOUT)
        if not self.sio.connected:
            raise AckFailure("socket did not connect")
        self.join(random.choice(rooms))

    def on_stop(self) -> None:
        if self.sio.connected:
            if self.room_id is not None:
                self.ack("room:leave", {"roomId": self.room_id})
            self.sio.disconnect()

    # ---- what the server sends

    def on_chat(self, data: Any = None) -> None:
        RECEIVED["chat:message"] += 1
        stamp = data.get("timestamp") if isinstance(data, dict) else None
        if isinstance(stamp, int | float):
            self.environment.events.request.fire(
                request_type="WSR",
                name="chat:message (fan-out)",
                response_time=max(0.0, time.time() * 1000 - stamp),
                response_length=len(str(data.get("content", ""))),
                exception=None,
                context={},
            )

    def on_other(self, event: str, data: Any = None) -> None:
        RECEIVED[event] += 1

    # ---- acks

    def ack(self, event: str, data: dict[str, Any]) -> dict[str, Any] | None:
        """Emit `event`, wait for its ack and record the latency; return the ack (None when none came)."""
        started = time.perf_counter()
        reply: Any = None
        error: Exception | None = None
        answered = threading.Event()  # gevent's, once locust has patched the standard library
        replies: list[Any] = []

        def on_ack(*args: Any) -> None:
            replies.append(args[0] if len(args) == 1 else list(args))
            answered.set()

        try:
            # socketio.Client's own emit: SocketIOClient.call/emit would record extra, unchecked entries.
            socketio.Client.emit(self.sio, event, data, callback=on_ack)
            if not answered.wait(ACK_TIMEOUT):
                raise TimeoutError(f"no ack within {ACK_TIMEOUT:g} s")
            reply = replies[0]
        except Exception as exc:
            error = exc
        elapsed = (time.perf_counter() - started) * 1000
        if error is None:
            if not isinstance(reply, dict):
                error = AckFailure(f"unexpected ack {reply!r:.100}")
            elif not reply.get("success"):
                code = str(reply.get("code") or reply.get("error"))
                if code not in EXPECTED_FAILURES:
                    error = AckFailure(code)
        if isinstance(reply, dict):
            outcome = "ok" if reply.get("success") else str(reply.get("code") or reply.get("error"))
        else:
            outcome = f"no ack ({type(error).__name__})"
        OUTCOMES[f"{event}: {outcome}"] += 1
        self.environment.events.request.fire(
            request_type="WSC",
            name=event,
            response_time=elapsed,
            response_length=len(str(reply)) if reply is not None else 0,
            exception=error,
            context={},
        )
        return reply if isinstance(reply, dict) else None

    def join(self, room_id: int) -> None:
        reply = self.ack("room:join", {"roomId": room_id})
        if reply and reply.get("success"):
            self.room_id = room_id
            self.seat = reply.get("reclaimedSeat")
            self.seat_count = int((reply.get("room") or {}).get("seatCount") or self.seat_count)

    # ---- tasks (each one action; locust's -t bounds the run)

    @task(10)
    def chat(self) -> None:
        if self.room_id is None:
            self.join(random.choice(ROOMS))
        else:
            content = f"hello from {self.user_id} at {time.time():.3f}"
            self.ack("chat:message", {"roomId": self.room_id, "content": content})

    @task(2)
    def seat_toggle(self) -> None:
        if self.room_id is None:
            return
        if self.seat is None:
            index = random.randrange(self.seat_count)
            reply = self.ack("seat:take", {"roomId": self.room_id, "seatIndex": index})
            if reply and reply.get("success"):
                self.seat = index
        else:
            reply = self.ack("seat:leave", {"roomId": self.room_id})
            if reply and reply.get("success"):
                self.seat = None

    @task(1)
    def move(self) -> None:
        others = [room for room in ROOMS if room != self.room_id]
        if others:
            self.join(random.choice(others))  # leaves the current room (and its seat) on success
