"""Staff actions through the REST API: suspend, ban, reinstate, roles, the audit log, permission data."""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.helpers import User, bearer, db, login, me, new_user

Client = TestClient[web.Request, web.Application]

HTTPAPI_DIR = Path(__file__).resolve().parent.parent / "httpapi"
MODERATOR_PERMISSIONS = {
    "users.view",
    "viewUser",
    "viewAnyUser",
    "users.suspend",
    "rooms.moderate",
    "audit.view",
    "reports.review",
    "dashboard.access",  # sql/0034: staff sign in to the dashboard
}


async def set_status(client: Client, actor: User | None, target: int, **body: Any) -> Any:
    headers = bearer(actor.token) if actor else {}
    return await client.post(f"/api/v1/admin/users/{target}/status", json=body, headers=headers)


async def grant_role(client: Client, actor: User, target: int, role: str) -> Any:
    return await client.post(f"/api/v1/admin/users/{target}/roles", json={"role": role}, headers=bearer(actor.token))


async def assert_error(resp: Any, status: int, code: str) -> dict[str, Any]:
    assert resp.status == status, await resp.text()
    body: dict[str, Any] = await resp.json()
    assert body["status"] == "error"
    assert body["error"]["code"] == code
    assert body["error"]["message"] and body["message"] == body["error"]["message"]
    return body


def iso(delta: dt.timedelta) -> str:
    return (dt.datetime.now(dt.UTC) + delta).isoformat()


# --- account status -------------------------------------------------------------------------------


async def test_status_change_requires_users_suspend(client: Client) -> None:
    plain = await new_user(client)
    target = await new_user(client)
    await assert_error(await set_status(client, plain, target.id, status="banned"), 403, "forbidden")
    await assert_error(await set_status(client, None, target.id, status="banned"), 401, "unauthenticated")
    # Neither attempt changed anything: the target still signs in.
    assert (await login(client, target.phone)).status == 200


async def test_ban_ends_sessions_and_blocks_sign_in(client: Client) -> None:
    admin = await new_user(client, role="admin")
    target = await new_user(client)
    second = await (await login(client, target.phone)).json()
    assert (await client.get("/api/user", headers=bearer(second["token"]))).status == 200

    resp = await set_status(client, admin, target.id, status="banned", reason="spam")
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["data"] == {"id": target.id, "status": "banned"}

    for token in (target.token, second["token"]):
        assert (await client.get("/api/user", headers=bearer(token))).status == 401
    await assert_error(await login(client, target.phone), 403, "account_banned")
    refresh = await client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert refresh.status in (401, 403), await refresh.text()
    assert "access_token" not in await refresh.text()


async def test_unknown_target_is_404(client: Client) -> None:
    admin = await new_user(client, role="admin")
    await assert_error(await set_status(client, admin, 987654321, status="banned"), 404, "not_found")


async def test_suspension_needs_until_with_timezone(client: Client) -> None:
    admin = await new_user(client, role="admin")
    target = await new_user(client)
    for body in ({"status": "suspended"}, {"status": "suspended", "until": "2099-01-01T00:00:00"}):
        err = await assert_error(await set_status(client, admin, target.id, **body), 422, "validation_failed")
        assert "until" in err["errors"]
    err = await assert_error(await set_status(client, admin, target.id, status="frozen"), 422, "validation_failed")
    assert "status" in err["errors"]
    assert (await login(client, target.phone)).status == 200


async def test_suspended_until_future_then_past(client: Client) -> None:
    admin = await new_user(client, role="moderator")
    target = await new_user(client)
    resp = await set_status(client, admin, target.id, status="suspended", until=iso(dt.timedelta(days=2)))
    assert resp.status == 200, await resp.text()
    assert (await client.get("/api/user", headers=bearer(target.token))).status == 401
    await assert_error(await login(client, target.phone), 403, "account_suspended")

    resp = await set_status(client, admin, target.id, status="suspended", until=iso(-dt.timedelta(minutes=1)))
    assert resp.status == 200, await resp.text()
    again = await login(client, target.phone)
    assert again.status == 200, await again.text()
    assert (await me(client, (await again.json())["token"]))["id"] == target.id


async def test_reinstating_allows_sign_in(client: Client) -> None:
    admin = await new_user(client, role="admin")
    target = await new_user(client)
    assert (await set_status(client, admin, target.id, status="banned")).status == 200
    await assert_error(await login(client, target.phone), 403, "account_banned")
    resp = await set_status(client, admin, target.id, status="active")
    assert resp.status == 200, await resp.text()
    again = await login(client, target.phone)
    assert again.status == 200, await again.text()
    profile = await me(client, (await again.json())["token"])
    assert profile["status"] == "active" and profile["is_blocked"] is False


async def test_admin_cannot_change_own_status(client: Client) -> None:
    admin = await new_user(client, role="super_admin")
    await assert_error(await set_status(client, admin, admin.id, status="banned"), 403, "forbidden")
    assert (await me(client, admin.token))["status"] == "active"


# --- roles ----------------------------------------------------------------------------------------


async def test_admin_grants_moderator(client: Client) -> None:
    admin = await new_user(client, role="admin")
    target = await new_user(client)
    resp = await grant_role(client, admin, target.id, "moderator")
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["data"] == {"id": target.id, "role": "moderator", "granted": True}

    profile = await me(client, target.token)
    assert {r["name"] for r in profile["roles"]} == {"user", "moderator"}
    assert profile["can"] == {name: True for name in MODERATOR_PERMISSIONS}
    # The new moderator may now do moderator things with the token they already held.
    other = await new_user(client)
    assert (await set_status(client, target, other.id, status="banned")).status == 200


async def test_moderator_cannot_grant_roles(client: Client) -> None:
    moderator = await new_user(client, role="moderator")
    plain = await new_user(client)
    target = await new_user(client)
    for actor in (moderator, plain):
        for role in ("support", "moderator", "admin"):
            await assert_error(await grant_role(client, actor, target.id, role), 403, "forbidden")
    assert {r["name"] for r in (await me(client, target.token))["roles"]} == {"user"}


async def test_only_super_admin_grants_admin_roles(client: Client) -> None:
    admin = await new_user(client, role="admin")
    root = await new_user(client, role="super_admin")
    target = await new_user(client)
    for role in ("super_admin", "admin"):
        await assert_error(await grant_role(client, admin, target.id, role), 403, "forbidden")
    assert {r["name"] for r in (await me(client, target.token))["roles"]} == {"user"}

    for role in ("admin", "super_admin"):
        resp = await grant_role(client, root, target.id, role)
        assert resp.status == 200, await resp.text()
    profile = await me(client, target.token)
    assert {r["name"] for r in profile["roles"]} == {"user", "admin", "super_admin"}
    assert profile["can"]["roles.assign_admin"] is True
    # An admin cannot take an admin role away either.
    resp = await client.delete(f"/api/v1/admin/users/{target.id}/roles/admin", headers=bearer(admin.token))
    await assert_error(resp, 403, "forbidden")


async def test_unknown_role_is_422(client: Client) -> None:
    admin = await new_user(client, role="admin")
    target = await new_user(client)
    err = await assert_error(await grant_role(client, admin, target.id, "wizard"), 422, "validation_failed")
    assert "role" in err["errors"]
    resp = await client.delete(f"/api/v1/admin/users/{target.id}/roles/wizard", headers=bearer(admin.token))
    await assert_error(resp, 422, "validation_failed")


async def test_remove_role(client: Client) -> None:
    admin = await new_user(client, role="admin")
    target = await new_user(client)
    assert (await grant_role(client, admin, target.id, "moderator")).status == 200
    resp = await client.delete(f"/api/v1/admin/users/{target.id}/roles/moderator", headers=bearer(admin.token))
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["data"] == {"id": target.id, "role": "moderator", "granted": False}
    profile = await me(client, target.token)
    assert {r["name"] for r in profile["roles"]} == {"user"}
    assert profile["can"] == []
    other = await new_user(client)
    await assert_error(await set_status(client, target, other.id, status="banned"), 403, "forbidden")


# --- audit log ------------------------------------------------------------------------------------


async def test_audit_log(client: Client) -> None:
    admin = await new_user(client, role="admin")
    plain = await new_user(client)
    banned = await new_user(client)
    promoted = await new_user(client)
    assert (await set_status(client, admin, banned.id, status="banned", reason="spam")).status == 200
    assert (await grant_role(client, admin, promoted.id, "support")).status == 200

    await assert_error(await client.get("/api/v1/admin/audit"), 401, "unauthenticated")
    await assert_error(await client.get("/api/v1/admin/audit", headers=bearer(plain.token)), 403, "forbidden")
    resp = await client.get("/api/v1/admin/audit", headers=bearer(admin.token))
    assert resp.status == 200, await resp.text()
    entries = (await resp.json())["data"]
    assert isinstance(entries, list) and entries

    def find(action: str, target: int) -> dict[str, Any]:
        hits = [e for e in entries if e["action"] == action and str(e["target_id"]) == str(target)]
        assert len(hits) == 1, (action, target, entries)
        return hits[0]

    ban = find("account.banned", banned.id)
    assert ban["actor_id"] == admin.id and ban["target_type"] == "user"
    assert isinstance(ban["details"], dict), f"details should be a JSON object, got {ban['details']!r}"
    assert ban["details"]["reason"] == "spam"
    grant = find("role.grant", promoted.id)
    assert grant["actor_id"] == admin.id and grant["details"] == {"role": "support"}
    assert [e["id"] for e in entries] == sorted((e["id"] for e in entries), reverse=True)

    one = await client.get("/api/v1/admin/audit?limit=1", headers=bearer(admin.token))
    assert one.status == 200
    assert [e["id"] for e in (await one.json())["data"]] == [entries[0]["id"]]


async def test_audit_limit_validated(client: Client) -> None:
    admin = await new_user(client, role="admin")
    for bad in ("0", "501", "abc", "-1", "1.5", ""):
        resp = await client.get("/api/v1/admin/audit", params={"limit": bad}, headers=bearer(admin.token))
        err = await assert_error(resp, 422, "validation_failed")
        assert "limit" in err["errors"], bad
    resp = await client.get("/api/v1/admin/audit", params={"limit": "500"}, headers=bearer(admin.token))
    assert resp.status == 200


# --- permission data ------------------------------------------------------------------------------


def permissions_named_in_httpapi() -> set[str]:
    names: set[str] = set()
    for path in sorted(HTTPAPI_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if called != "permission_required":
                continue
            for arg in node.args:
                assert isinstance(arg, ast.Constant) and isinstance(arg.value, str), (
                    f"{path.name}:{node.lineno}: permission_required takes literal names"
                )
                names.add(arg.value)
    return names


async def test_every_required_permission_exists(database_url: str) -> None:
    required = permissions_named_in_httpapi()
    assert {"users.suspend", "audit.view"} <= required  # the parser found the known uses
    async with db(database_url) as conn:
        known = {r["name"] for r in await conn.fetch("SELECT name FROM permissions")}
        held_by_super = {
            r["name"]
            for r in await conn.fetch(
                """SELECT p.name FROM role_permissions rp JOIN roles r ON r.id = rp.role_id
                   JOIN permissions p ON p.id = rp.permission_id WHERE r.name = 'super_admin'"""
            )
        }
    assert required - known == set()
    assert known == held_by_super  # super_admin holds everything


async def test_roles_table_holds_exactly_the_roles(database_url: str) -> None:
    async with db(database_url) as conn:
        roles = [r["name"] for r in await conn.fetch("SELECT name FROM roles ORDER BY id")]
    assert sorted(roles) == sorted(["super_admin", "admin", "moderator", "finance", "support", "reseller", "user"])
    assert len(roles) == len(set(roles))
