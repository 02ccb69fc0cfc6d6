"""Staff actions on other accounts: suspend, ban, reinstate, grant and remove roles.

Each writes the audit log in the same transaction as the change; role grants above `user` need a
stronger permission than ordinary ones, so a moderator can never make an admin.
"""

from __future__ import annotations

import datetime as dt

from engine.accounts import store
from engine.accounts.actions import Client, revoke
from engine.audit.store import record_txn
from engine.auth.store import Revocation
from engine.economy.store import frozen_marker
from engine.errors import forbidden, not_found, validation_error
from engine.services import Services

ADMIN_ROLES = frozenset({"admin", "super_admin"})
ROLES = ("super_admin", "admin", "moderator", "finance", "support", "reseller", "user")


async def do_set_status(
    svc: Services,
    actor_id: int,
    user_id: int,
    status: str,
    *,
    until: dt.datetime | None,
    reason: str | None,
    client: Client,
) -> None:
    """Suspend, ban or reinstate an account; suspended and banned users lose every session now."""
    if actor_id == user_id:
        raise forbidden("You cannot change your own account status.")
    async with svc.pool.acquire() as conn:
        async with conn.transaction():
            if not await store.set_status(conn, user_id, status, until=until, reason=reason):
                raise not_found("User")
            await record_txn(
                conn,
                actor_id=actor_id,
                action=f"account.{status}",
                target_type="user",
                target_id=user_id,
                ip=client.ip,
                details={"until": until.isoformat() if until else None, "reason": reason},
            )
        await svc.wallets.set_frozen(user_id, frozen_marker(status, until))
        if status != "active":
            await revoke(svc, user_id, reason=status, conn=conn, actor_id=actor_id, client=client)
            # Also close sockets whose session ended earlier but which are somehow still open.
            await svc.publish_revocation(Revocation(user_id=user_id, reason=status))


def check_may_change_role(role: str, actor_permissions: frozenset[str]) -> None:
    if role not in ROLES:
        raise validation_error({"role": [f"The role must be one of {', '.join(ROLES)}."]})
    needed = "roles.assign_admin" if role in ADMIN_ROLES else "roles.assign"
    if needed not in actor_permissions:
        raise forbidden()


async def do_change_role(
    svc: Services,
    actor_id: int,
    user_id: int,
    role: str,
    *,
    grant: bool,
    client: Client,
) -> None:
    async with svc.pool.acquire() as conn:
        check_may_change_role(role, await store.permission_names(conn, actor_id))
        async with conn.transaction():
            if await store.get_user(conn, user_id) is None:
                raise not_found("User")
            if grant:
                await store.grant_role_txn(conn, user_id, role, actor_id)
            else:
                await store.remove_role_txn(conn, user_id, role)
            await record_txn(
                conn,
                actor_id=actor_id,
                action="role.grant" if grant else "role.remove",
                target_type="user",
                target_id=user_id,
                ip=client.ip,
                details={"role": role},
            )
