"""The inbox's pure rules (engine/inbox/model.py): who may send in a message request, who may
accept it, the unsend window, and the body checks that need more than one field."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest

from engine.errors import DomainError
from engine.inbox.model import (
    UNSEND_WINDOW,
    MessageBody,
    OfficialBody,
    check_may_accept,
    check_may_send,
    check_may_unsend,
    pair,
)

REQUEST = {"status": "request", "requester_id": 1}
OPEN = {"status": "open", "requester_id": 1}


def code_of(call: object) -> str | None:
    try:
        call()  # type: ignore[operator]
    except DomainError as exc:
        return exc.code
    return None


def test_a_request_lets_its_requester_send_one_message_and_its_recipient_none() -> None:
    assert code_of(lambda: check_may_send(REQUEST, 1, 0)) is None
    assert code_of(lambda: check_may_send(REQUEST, 1, 1)) == "thread_request_pending"
    assert code_of(lambda: check_may_send(REQUEST, 2, 0)) == "thread_request_pending"
    assert all(code_of(lambda s=s, n=n: check_may_send(OPEN, s, n)) is None for s in (1, 2) for n in (0, 5))


def test_only_the_recipient_accepts_a_request_and_an_open_thread_is_accepted_already() -> None:
    assert code_of(lambda: check_may_accept(REQUEST, 1)) == "forbidden"
    assert code_of(lambda: check_may_accept(REQUEST, 2)) is None
    assert code_of(lambda: check_may_accept(OPEN, 1)) is None


def test_the_unsend_window_is_five_minutes_and_only_for_the_sender() -> None:
    now = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)
    sent = {"sender_id": 7, "created_at": now - UNSEND_WINDOW, "unsent_at": None}
    assert code_of(lambda: check_may_unsend(sent, 7, now)) is None  # exactly 5 minutes: still allowed
    late = {**sent, "created_at": now - UNSEND_WINDOW - dt.timedelta(milliseconds=1)}
    assert code_of(lambda: check_may_unsend(late, 7, now)) == "unsend_window_passed"
    assert code_of(lambda: check_may_unsend({**late, "unsent_at": now}, 7, now)) is None  # idempotent
    assert code_of(lambda: check_may_unsend(sent, 8, now)) == "forbidden"


def test_bodies_need_their_content_and_one_audience() -> None:
    with pytest.raises(DomainError) as exc:
        msgspec.convert({"client_id": "a"}, MessageBody).check()
    assert set(exc.value.fields) == {"text", "image_url"}
    msgspec.convert({"client_id": "a", "image_url": "https://x/y.png"}, MessageBody).check()
    for audience in ({}, {"user_id": 3, "everyone": True}):
        with pytest.raises(DomainError):
            msgspec.convert({"title": "t", "text": "x", **audience}, OfficialBody).check()
    msgspec.convert({"title": "t", "text": "x", "everyone": True}, OfficialBody).check()
    assert pair(5, 2) == pair(2, 5) == (2, 5)
