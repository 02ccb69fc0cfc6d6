"""Direct messages: the request bodies, the rules of a thread, and how rows read on the wire. No I/O.

Rules of a thread (issue 12 §6):
- One thread per pair. Opening it is allowed when the peer's `messages` privacy setting lets the
  requester in (everyone; followers: the requester follows the peer; friends: both follow each
  other); otherwise it is a *request*.
- Before the peer accepts a request, the requester may send exactly one message (the request's
  opening line, as Instagram does); the peer sees it, and may reply only after accepting
  (`POST /api/v1/threads/{id}/accept`). Both get 403 otherwise.
- A message is `text` (1..2000 characters) or `image_url` (an https URL, ≤ 2048), or both.
- The sender may unsend a message within 5 minutes; it stays as a tombstone (`unsent: true`, no
  text or image) so clients that have it learn it went.
- A block either way hides the thread from both (404, as a thread that does not exist).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from engine.accounts.model import iso_timestamp
from engine.errors import DomainError, validation_error

UNSEND_WINDOW = dt.timedelta(minutes=5)
TEXT_MAX = 2000
MESSAGES_DEFAULT_LIMIT = 30
MessageId = Annotated[int, Meta(ge=1, le=2**63 - 1)]
UserId = Annotated[int, Meta(ge=1, le=2**63 - 1)]
ClientId = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
Text = Annotated[str, Meta(min_length=1, max_length=TEXT_MAX)]
ImageUrl = Annotated[str, Meta(max_length=2048, pattern=r"^https://[^\s]+$")]
Title = Annotated[str, Meta(min_length=1, max_length=120)]


class ThreadBody(msgspec.Struct, forbid_unknown_fields=True):
    """POST /api/v1/threads: the user to talk with."""

    peer_id: UserId


class MessageBody(msgspec.Struct, forbid_unknown_fields=True):
    """POST /api/v1/threads/{id}/messages."""

    client_id: ClientId
    """The sender's idempotency key: a retry with the same one returns the stored message."""
    text: Text | None = None
    image_url: ImageUrl | None = None

    def check(self) -> None:
        if self.text is None and self.image_url is None:
            message = "Send text or image_url."
            raise validation_error({"text": [message], "image_url": [message]})
        if self.text is not None and not self.text.strip():
            raise validation_error({"text": ["The text field must not be blank."]})


class SeenBody(msgspec.Struct, forbid_unknown_fields=True):
    """POST /api/v1/threads/{id}/seen: seen up to this message (default: the newest)."""

    message_id: MessageId | None = None


class OfficialBody(msgspec.Struct, forbid_unknown_fields=True):
    """POST /api/v1/admin/official-messages: to one user (`user_id`) or to everyone (`everyone: true`)."""

    title: Title
    text: Text
    user_id: UserId | None = None
    everyone: bool = False
    image_url: ImageUrl | None = None

    def check(self) -> None:
        if self.everyone == (self.user_id is not None):
            message = "Send either user_id or everyone: true."
            raise validation_error({"user_id": [message], "everyone": [message]})


def pair(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


def thread_not_found(raw: object) -> DomainError:
    """A missing thread, someone else's, and one behind a block alike (no oracle)."""
    return DomainError("not_found", f"No query results for model [Thread] {str(raw)[:32]}", status=404)


def message_not_found(raw: object) -> DomainError:
    return DomainError("not_found", f"No query results for model [Message] {str(raw)[:32]}", status=404)


def check_may_send(thread: dict[str, Any], sender: int, sent_by_requester: int) -> None:
    """Who may send in a thread that is still a request (see the module's rules)."""
    if thread["status"] == "open":
        return
    if sender != thread["requester_id"]:
        raise DomainError("thread_request_pending", "Accept the message request before replying.", status=403)
    if sent_by_requester >= 1:
        raise DomainError("thread_request_pending", "Your message request has not been accepted yet.", status=403)


def check_may_accept(thread: dict[str, Any], user_id: int) -> None:
    if thread["status"] == "request" and thread["requester_id"] == user_id:
        raise DomainError("forbidden", "Only the recipient of a message request can accept it.", status=403)


def check_may_unsend(message: dict[str, Any], user_id: int, now: dt.datetime) -> None:
    if message["sender_id"] != user_id:
        raise DomainError("forbidden", "You can unsend only your own messages.", status=403)
    if message["unsent_at"] is None and now - message["created_at"] > UNSEND_WINDOW:
        raise DomainError("unsend_window_passed", "Messages can be unsent only within 5 minutes.", status=403)


def message_item(row: dict[str, Any]) -> dict[str, Any]:
    """A message as lists and pushes show it (an unsent one: a tombstone without its content)."""
    return {
        "id": row["id"], "thread_id": row["thread_id"], "sender_id": row["sender_id"], "client_id": row["client_id"],
        "text": row["text"], "image_url": row["image_url"], "created_at": iso_timestamp(row["created_at"]),
        "unsent": row["unsent_at"] is not None,
    }  # fmt: skip


def peer_card(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["peer_id"], "name": row["peer_name"], "signature": row["peer_signature"],
            "avatar_image": row["peer_avatar"]}  # fmt: skip


def thread_item(row: dict[str, Any]) -> dict[str, Any]:
    """A thread as the viewer sees it (their unread count and last-read position)."""
    last = None
    if row.get("m_id") is not None:
        last = message_item({
            "id": row["m_id"], "thread_id": row["id"], "sender_id": row["m_sender_id"], "client_id": row["m_client_id"],
            "text": row["m_text"], "image_url": row["m_image_url"], "created_at": row["m_created_at"],
            "unsent_at": row["m_unsent_at"],
        })  # fmt: skip
    return {
        "id": row["id"], "peer": peer_card(row), "status": row["status"], "requester_id": row["requester_id"],
        "created_at": iso_timestamp(row["created_at"]), "accepted_at": iso_timestamp(row["accepted_at"]),
        "last_message": last, "unread_count": row["unread_count"], "last_read_message_id": row["last_read_message_id"],
        "peer_last_read_message_id": row["peer_last_read_message_id"],
    }  # fmt: skip


def official_item(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"], "audience": "user" if row["user_id"] is not None else "everyone", "user_id": row["user_id"],
        "title": row["title"], "text": row["text"], "image_url": row["image_url"],
        "created_at": iso_timestamp(row["created_at"]),
    }  # fmt: skip
