"""Socket event plumbing: every client event goes through `socket_event`.

It applies the per-user media rate limit, decodes the payload into the handler's Struct (limits
live in the type), turns domain errors into the contract's error acks, never lets an exception
break the socket, and records the event's result and latency.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

import msgspec

from engine.errors import DomainError
from engine.logs import request_id_var
from engine.realtime.acks import INTERNAL_ERROR, INVALID_PAYLOAD, TOO_MANY_REQUESTS, Ack, failure
from engine.realtime.server import RealtimeServer
from engine.validation import convert_fields

log = logging.getLogger("flylive.realtime.events")

P = TypeVar("P", bound=msgspec.Struct)
Handler = Callable[[RealtimeServer, str, dict[str, Any], P], Awaitable[Ack]]

# A socket event's request id: this process's random prefix and a counter (uuid4 cost 3 µs a call).
_PROCESS_TAG = os.urandom(6).hex()
_event_numbers = itertools.count(1)


def next_request_id() -> str:
    return f"{_PROCESS_TAG}{next(_event_numbers):08x}"


class _EventMetrics:
    """One event's metric children, looked up once (prometheus' `labels()` locks and hashes each call)."""

    __slots__ = ("error", "fail", "latency", "ok")

    def __init__(self, rt: RealtimeServer, name: str) -> None:
        metrics = rt.services.metrics
        self.ok, self.fail, self.error = (metrics.socket_events.labels(name, r) for r in ("ok", "fail", "error"))
        self.latency = metrics.socket_event_latency.labels(name)


def socket_event(
    rt: RealtimeServer, name: str, payload_type: type[P], bucket: Literal["socket", "media"] = "socket"
) -> Callable[[Handler[P]], Handler[P]]:
    """Register `handler(rt, sid, session, payload) -> ack` for event `name` on `rt`'s server.

    Every event first draws on its socket's budget (engine/realtime/guard.py); media signalling
    also draws on a per-user bucket of its own (`bucket="media"`), sized for the burst of setting up
    audio in a full room.
    """

    def register(handler: Handler[P]) -> Handler[P]:
        counted: list[_EventMetrics] = []  # filled at the first event: the services exist from `start` on

        async def on_event(sid: str, data: Any = None, *extra: Any) -> dict[str, Any]:
            request_id_var.set(next_request_id())
            started = time.perf_counter()
            result = "ok"
            try:
                session = await rt.sio.get_session(sid)
                svc = rt.services
                # The socket's own budget was taken before this task began (engine/realtime/guard.py).
                if bucket == "media":
                    verdict = await svc.limiter.hit(bucket, str(session["user_id"]), svc.config.media_event_rate_limit)
                    if not verdict.allowed:
                        svc.metrics.rate_limited.labels(bucket).inc()
                        result = "fail"
                        return failure(TOO_MANY_REQUESTS, "rate_limited", retry_after=verdict.retry_after_seconds)
                if extra:  # emit(event, payload, ack): one payload, never more
                    result = "fail"
                    return failure(INVALID_PAYLOAD, "validation_failed", fields={"body": ["Send one payload."]})
                try:
                    payload = convert_fields(payload_type, {} if data is None else data)
                except DomainError as exc:
                    result = "fail"
                    return failure(INVALID_PAYLOAD, exc.code, fields=exc.fields)
                ack = await handler(rt, sid, session, payload)
                if not ack.get("success", True):
                    result = "fail"
                return ack
            except DomainError as exc:
                result = "fail"
                return failure(exc.message, exc.code)
            except Exception:
                result = "error"
                log.exception("socket event failed", extra={"event": name})
                return failure(INTERNAL_ERROR, "internal")
            finally:
                if not counted:
                    counted.append(_EventMetrics(rt, name))
                metrics = counted[0]
                (metrics.ok if result == "ok" else metrics.fail if result == "fail" else metrics.error).inc()
                metrics.latency.observe(time.perf_counter() - started)

        rt.sio.on(name, on_event)
        rt.client_events[name] = payload_type
        return handler

    return register


class Empty(msgspec.Struct):
    pass


def register_core_events(rt: RealtimeServer) -> None:
    @socket_event(rt, "auth:whoami", Empty)
    async def whoami(rt: RealtimeServer, sid: str, session: dict[str, Any], payload: Empty) -> dict[str, Any]:
        """Who this socket is signed in as; lets a client confirm its session after a reconnect."""
        return {
            "success": True,
            "data": {"id": session["user_id"], "name": session["name"], "session_id": session["session_id"]},
        }
