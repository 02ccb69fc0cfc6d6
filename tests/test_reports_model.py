"""The reports model's rules, pure: what each action needs of its case, and when an appeal is taken."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from engine.errors import DomainError
from engine.reports.model import APPEAL_WINDOW, REASONS, ResolveBody, action_text, check_appealable

NOW = dt.datetime(2026, 1, 10, tzinfo=dt.UTC)


def case(**changes: Any) -> dict[str, Any]:
    return {"target_type": "user", "subject_user_id": 7, "state": "actioned", "lifted_at": None,
            "resolved_at": NOW - dt.timedelta(days=1), **changes}  # fmt: skip


MODERATOR = frozenset({"reports.review", "users.suspend"})


def refused(body: ResolveBody, of: dict[str, Any], actor: int = 1, held: frozenset[str] = MODERATOR) -> tuple[int, str]:
    with pytest.raises(DomainError) as caught:
        body.check(of, actor, held)
    return caught.value.status, next(iter(caught.value.fields), "")


def test_each_action_needs_what_it_acts_on() -> None:
    assert refused(ResolveBody("mute"), case()) == (422, "minutes")
    assert refused(ResolveBody("suspend"), case()) == (422, "minutes")
    assert refused(ResolveBody("ban", minutes=5), case()) == (422, "minutes")
    assert refused(ResolveBody("delete_message"), case()) == (422, "action")
    assert refused(ResolveBody("warn"), case(subject_user_id=None)) == (422, "action")
    assert refused(ResolveBody("warn"), case(), actor=7) == (403, "")
    assert refused(ResolveBody("dismiss"), case(), actor=7) == (403, "")  # not even dismissing one's own
    reviewer_only = frozenset({"reports.review"})
    assert refused(ResolveBody("ban"), case(), held=reviewer_only) == (403, "")
    assert refused(ResolveBody("suspend", minutes=5), case(), held=reviewer_only) == (403, "")
    ResolveBody("mute", minutes=5).check(case(), 1, reviewer_only)
    ResolveBody("delete_message").check(case(target_type="message"), 1, MODERATOR)
    ResolveBody("dismiss").check(case(subject_user_id=None), 7, MODERATOR)  # a case about nobody
    assert ResolveBody("mute", minutes=30).until(NOW) == NOW + dt.timedelta(minutes=30)
    assert ResolveBody("ban").until(NOW) is None


def test_an_appeal_is_the_subjects_against_an_action_in_force_within_the_window() -> None:
    check_appealable(case(), 7, NOW)
    check_appealable(case(resolved_at=NOW - APPEAL_WINDOW), 7, NOW)  # the last moment still counts
    for changes, user, code in [
        ({}, 8, "forbidden"),
        ({"state": "dismissed"}, 7, "nothing_to_appeal"),
        ({"state": "open"}, 7, "nothing_to_appeal"),
        ({"lifted_at": NOW}, 7, "nothing_to_appeal"),
        ({"resolved_at": NOW - APPEAL_WINDOW - dt.timedelta(seconds=1)}, 7, "appeal_window_closed"),
    ]:
        with pytest.raises(DomainError) as caught:
            check_appealable(case(**changes), user, NOW)
        assert caught.value.code == code, changes


def test_the_account_is_told_what_was_done_and_that_it_may_appeal() -> None:
    until = dt.datetime(2026, 1, 10, 12, 30, tzinfo=dt.UTC)
    assert (
        action_text("mute", until)
        == "You are muted in every room until 2026-01-10 12:30 UTC. You may appeal within 14 days."
    )
    assert action_text("ban", None).startswith("Your account is banned.")
    assert "other" in REASONS and "self_harm" in REASONS
