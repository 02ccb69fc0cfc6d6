"""Profile appreciation likes (issue 14 §5 "Recognition"; docs/progression.md "Gift statistics and
appreciation"): one per liker, target and business day. Errors and the notice. No I/O."""

from __future__ import annotations

from engine.errors import DomainError
from engine.notifications.model import Notice

NOTICE_KIND = "appreciation"


def cannot_appreciate_self() -> DomainError:
    return DomainError("cannot_appreciate_self", "You cannot appreciate your own profile.", status=403)


def already_appreciated(target: int) -> DomainError:
    return DomainError("already_appreciated", f"You already appreciated user {target} today.", status=409)


def notice(target: int, liker: int, liker_name: str) -> Notice:
    return Notice(user_id=target, kind=NOTICE_KIND, actor_id=liker, target_type="user", target_id=str(liker),
                  text=f"{liker_name} appreciated your profile.")  # fmt: skip
