"""What the reports tests share: filing reports, the staff calls, and reading rows back."""

from __future__ import annotations

from typing import Any

from engine.appkeys import CONFIG
from tests.helpers import Client, User, bearer, db


async def post(client: Client, user: User, path: str, body: Any, status: int) -> Any:
    resp = await client.post(path, json=body, headers=bearer(user.token))
    assert resp.status == status, await resp.text()
    return await resp.json()


async def get(client: Client, user: User, path: str, status: int = 200, **params: Any) -> Any:
    resp = await client.get(path, params={k: str(v) for k, v in params.items()}, headers=bearer(user.token))
    assert resp.status == status, await resp.text()
    return await resp.json()


async def report(client: Client, reporter: User, target_type: str, target_id: Any, reason: str = "spam",
                 status: int = 201, **more: Any) -> Any:  # fmt: skip
    body = {"target_type": target_type, "target_id": target_id, "reason": reason, **more}
    answer = await post(client, reporter, "/api/v1/reports", body, status)
    return answer["data"] if status == 201 else answer


async def queue(client: Client, staff: User, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await get(client, staff, "/api/v1/admin/reports", **params))["data"]["items"]
    return items


async def resolve(client: Client, staff: User, case_id: int, action: str, status: int = 200, **more: Any) -> Any:
    answer = await post(client, staff, f"/api/v1/admin/reports/{case_id}/resolve", {"action": action, **more}, status)
    return answer["data"] if status == 200 else answer


async def mine(client: Client, user: User, **params: Any) -> dict[str, Any]:
    data: dict[str, Any] = (await get(client, user, "/api/v1/me/reports", **params))["data"]
    return data


async def audit_actions(client: Client, target_type: str, target_id: Any) -> list[str]:
    async with db(database(client)) as conn:
        rows = await conn.fetch(
            "SELECT action FROM audit_log WHERE target_type = $1 AND target_id = $2 ORDER BY id", target_type,
            str(target_id),
        )  # fmt: skip
    return [r["action"] for r in rows]


def database(client: Client) -> str:
    url = client.app[CONFIG].database_url
    assert url
    return url
