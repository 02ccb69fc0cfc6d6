"""What the inbox tests share: threads and messages through the real REST API."""

from __future__ import annotations

import itertools
from typing import Any

from tests.helpers import Client, User, bearer

_client_ids = itertools.count(1)


async def call(client: Client, method: str, user: User, path: str, status: int = 200, **kwargs: Any) -> Any:
    resp = await client.request(method, path, headers=bearer(user.token), **kwargs)
    assert resp.status == status, (resp.status, await resp.text())
    return await resp.json()


async def open_thread(client: Client, me: User, peer: User | int, status: int = 200) -> dict[str, Any]:
    peer_id = peer if isinstance(peer, int) else peer.id
    body: dict[str, Any] = await call(client, "POST", me, "/api/v1/threads", status, json={"peer_id": peer_id})
    return body["data"] if status == 200 else body


async def send(client: Client, me: User, thread: int, text: str | None = "hi", status: int = 200,
               **fields: Any) -> dict[str, Any]:  # fmt: skip
    body = {"client_id": fields.pop("client_id", f"c{next(_client_ids)}"), **({"text": text} if text else {}), **fields}
    answer: dict[str, Any] = await call(client, "POST", me, f"/api/v1/threads/{thread}/messages", status, json=body)
    return answer["data"] if status == 200 else answer


async def threads(client: Client, me: User, **params: str) -> dict[str, Any]:
    data: dict[str, Any] = (await call(client, "GET", me, "/api/v1/me/threads", params=params))["data"]
    return data


async def messages(client: Client, me: User, thread: int, status: int = 200, **params: str) -> dict[str, Any]:
    body = await call(client, "GET", me, f"/api/v1/threads/{thread}/messages", status, params=params)
    data: dict[str, Any] = body["data"] if status == 200 else body
    return data
