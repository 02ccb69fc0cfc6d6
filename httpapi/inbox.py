"""`/api/v1` direct-message routes (issue 12 §6): threads between two users (message requests
where the peer's privacy asks for them), their messages (send with an idempotent `client_id`,
unsend within 5 minutes, seen), and official messages from staff. A thread that is not yours, or
one behind a block either way, answers 404."""

from __future__ import annotations

from typing import Literal

import msgspec
from aiohttp import web

from engine.appkeys import INBOX, SERVICES
from engine.inbox import actions, official
from engine.inbox.model import MESSAGES_DEFAULT_LIMIT, MessageBody, MessageId, OfficialBody, SeenBody, ThreadBody
from engine.social.model import DEFAULT_LIMIT, Cursor, Limit
from httpapi import schemas
from httpapi.auth import caller_id, login_required, permission_required
from httpapi.common import path_id, read_body, read_query
from httpapi.contract import ApiRoutes, Id
from httpapi.responses import ok

routes = ApiRoutes()


class ThreadsQuery(msgspec.Struct):
    status: Literal["open", "request"] | None = None
    """Only open threads, or only message requests (sent and received)."""
    cursor: Cursor | None = None
    """The `next_cursor` of the previous page."""
    limit: Limit = DEFAULT_LIMIT


class MessagesQuery(msgspec.Struct):
    before: MessageId | None = None
    """Older than this message, newest first (absent: from the newest)."""
    after: MessageId | None = None
    """Newer than this message, oldest first (catching up after a reconnect)."""
    limit: Limit = MESSAGES_DEFAULT_LIMIT


class PageQuery(msgspec.Struct):
    cursor: Cursor | None = None
    limit: Limit = DEFAULT_LIMIT


def _thread(request: web.Request) -> int:
    return path_id(request, "id", "Thread")


@routes.api("POST", "/api/v1/threads", summary="Open the thread with a user (idempotent per pair). When their "
            "\"who may message me\" setting does not let you in, it is a message request: you may send one "
            "message until they accept. 404 for a missing user or one in a block with you.", body=ThreadBody,
            response=schemas.DmThread, errors=(404, 429))  # fmt: skip
@login_required
async def open_thread(request: web.Request) -> web.Response:
    body = await read_body(request, ThreadBody)
    return ok(await actions.do_open_thread(request.app[INBOX], caller_id(request), body.peer_id))


@routes.api("GET", "/api/v1/me/threads", summary="Your threads, newest activity first, with the last message and "
            "your unread count.", query=ThreadsQuery, response=schemas.DmThreadPage)  # fmt: skip
@login_required
async def my_threads(request: web.Request) -> web.Response:
    q = read_query(request, ThreadsQuery)
    return ok(await actions.threads(request.app[SERVICES], caller_id(request), status=q.status, cursor=q.cursor,
                                    limit=q.limit))  # fmt: skip


@routes.api("GET", "/api/v1/threads/{id}", summary="One of your threads.", response=schemas.DmThread)
@login_required
async def get_thread(request: web.Request) -> web.Response:
    return ok(await actions.thread(request.app[SERVICES], caller_id(request), _thread(request)))


@routes.api("POST", "/api/v1/threads/{id}/accept", summary="Accept a message request sent to you (idempotent).",
            response=schemas.DmThread, errors=(403,))  # fmt: skip
@login_required
async def accept(request: web.Request) -> web.Response:
    return ok(await actions.do_accept(request.app[INBOX], caller_id(request), _thread(request)))


@routes.api("GET", "/api/v1/threads/{id}/messages", summary="A page of the thread's messages: newest first "
            "(`before`), or oldest first after a message (`after`); unsent ones as tombstones.",
            query=MessagesQuery, response=schemas.DirectMessagePage)  # fmt: skip
@login_required
async def messages(request: web.Request) -> web.Response:
    thread_id = _thread(request)
    q = read_query(request, MessagesQuery)
    return ok(await actions.messages(request.app[SERVICES], caller_id(request), thread_id, before=q.before,
                                     after=q.after, limit=q.limit))  # fmt: skip


@routes.api("POST", "/api/v1/threads/{id}/messages", summary="Send a message (`text` up to 2000 characters and/or "
            "an https `image_url`); a retry with the same `client_id` returns the stored message.",
            body=MessageBody, response=schemas.DirectMessage, errors=(403, 429))  # fmt: skip
@login_required
async def send(request: web.Request) -> web.Response:
    thread_id = _thread(request)
    body = await read_body(request, MessageBody)
    return ok(await actions.do_send(request.app[INBOX], caller_id(request), thread_id, body))


@routes.api("DELETE", "/api/v1/threads/{id}/messages/{mid}", summary="Unsend your message, within 5 minutes of "
            "sending it (idempotent).", params={"mid": Id}, response=schemas.DirectMessage,
            errors=(403,))  # fmt: skip
@login_required
async def unsend(request: web.Request) -> web.Response:
    thread_id, message_id = _thread(request), path_id(request, "mid", "Message")
    return ok(await actions.do_unsend(request.app[INBOX], caller_id(request), thread_id, message_id))


@routes.api("POST", "/api/v1/threads/{id}/seen", summary="Mark the thread seen up to a message (default: the "
            "newest); the peer is told once the thread is open.", body=SeenBody, response=schemas.DmSeen)  # fmt: skip
@login_required
async def seen(request: web.Request) -> web.Response:
    thread_id = _thread(request)
    body = await read_body(request, SeenBody)
    return ok(await actions.do_seen(request.app[INBOX], caller_id(request), thread_id, body))


@routes.api("GET", "/api/v1/me/official-messages", summary="Official messages to you and to everyone, newest first.",
            query=PageQuery, response=schemas.OfficialMessagePage)  # fmt: skip
@login_required
async def my_official_messages(request: web.Request) -> web.Response:
    q = read_query(request, PageQuery)
    return ok(await official.official_messages(request.app[SERVICES], caller_id(request), q.cursor, q.limit))


@routes.api("POST", "/api/v1/admin/official-messages", summary="Send an official message to one user or to "
            "everyone (staff; audited).", body=OfficialBody, response=schemas.OfficialMessage,
            status=201, errors=(404,))  # fmt: skip
@permission_required("messages.official")
async def send_official(request: web.Request) -> web.Response:
    body = await read_body(request, OfficialBody)
    result = await official.do_send_official(request.app[INBOX], caller_id(request), body, request.remote)
    return ok(result, status=201)


@routes.api("GET", "/api/v1/admin/official-messages", summary="Every official message sent, newest first (staff).",
            query=PageQuery, response=schemas.SentOfficialMessagePage)  # fmt: skip
@permission_required("messages.official")
async def sent_official(request: web.Request) -> web.Response:
    q = read_query(request, PageQuery)
    return ok(await official.sent_official_messages(request.app[SERVICES], q.cursor, q.limit))
