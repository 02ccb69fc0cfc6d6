"""Pure rules of the social domain (engine/social/model.py) and the gift block rule."""

from __future__ import annotations

import datetime as dt

import pytest

from engine.accounts.model import clean_interests
from engine.errors import DomainError
from engine.gifts.model import without_blocked
from engine.social.model import (
    SELF,
    BlockSet,
    Relationship,
    allows,
    decode_cursor,
    encode_cursor,
    follow_deltas,
    merge_deltas,
    page,
    presence_tier,
    presence_tiers,
    profile_completion,
    search_terms,
    shown_birthday,
)  # fmt: skip

STRANGER = Relationship()
FOLLOWER = Relationship(following=True)
FOLLOWED_BY = Relationship(followed_by=True)  # they follow the viewer, not the other way
FRIEND = Relationship(following=True, followed_by=True)
BLOCKED = Relationship(blocked_by=True)
BLOCKER = Relationship(blocking=True, following=False)
RELATIONS = {"stranger": STRANGER, "follower": FOLLOWER, "followed_by": FOLLOWED_BY, "friend": FRIEND,
             "blocked": BLOCKED, "blocker": BLOCKER, "self": SELF}  # fmt: skip
# Who sees what each audience governs.
SEES = {
    "everyone": {"stranger", "follower", "followed_by", "friend", "self"},
    "followers": {"follower", "friend", "self"},
    "friends": {"friend", "self"},
    "nobody": {"self"},
}


@pytest.mark.parametrize("audience", sorted(SEES))
def test_the_privacy_matrix(audience: str) -> None:
    seen = {name for name, rel in RELATIONS.items() if allows(audience, rel)}
    assert seen == SEES[audience]


def test_presence_tiers_follow_the_relationship_and_the_setting_picks_one() -> None:
    assert presence_tiers(STRANGER) == ("",) == presence_tiers(FOLLOWED_BY)
    assert presence_tiers(FOLLOWER) == ("", "followers")
    assert presence_tiers(FRIEND) == ("", "followers", "friends") == presence_tiers(SELF)
    assert presence_tiers(BLOCKED) == () == presence_tiers(BLOCKER)
    # A subscriber hears an update when its tiers include the one the setting names: the matrix again.
    for audience, seers in SEES.items():
        tier = presence_tier(audience)
        hears = {name for name, rel in RELATIONS.items() if tier is not None and tier in presence_tiers(rel)}
        assert hears == seers - ({"self"} if audience == "nobody" else set()), audience


def test_cursors_round_trip_and_refuse_anything_else() -> None:
    cursor = encode_cursor(2, "ab", 17)
    assert decode_cursor(cursor, int, str, int) == (2, "ab", 17)
    assert decode_cursor(None, int) is None
    for bad in ("!!", "e30", encode_cursor("x"), encode_cursor(-1), encode_cursor(2**63), encode_cursor(1, 2)):
        with pytest.raises(DomainError) as exc:
            decode_cursor(bad, int)
        assert exc.value.status == 422 and "cursor" in exc.value.fields, bad


def test_a_page_read_with_one_extra_row_knows_whether_more_follow() -> None:
    rows = [{"edge_id": n} for n in (9, 8, 7)]
    assert page(rows, 3, lambda r: (r["edge_id"],)) == (rows, None)
    items, cursor = page(rows, 2, lambda r: (r["edge_id"],))
    assert items == rows[:2] and decode_cursor(cursor, int) == (8,)


def test_count_deltas_of_edges_and_friendships() -> None:
    assert follow_deltas(1, 2, mutual=False) == {1: (0, 1, 0), 2: (1, 0, 0)}
    assert follow_deltas(1, 2, mutual=True) == {1: (0, 1, 1), 2: (1, 0, 1)}
    # A block between friends removes both edges: each loses a follower, a following and a friend.
    both = merge_deltas(follow_deltas(1, 2, mutual=True, sign=-1), follow_deltas(2, 1, mutual=False, sign=-1))
    assert both == {1: (-1, -1, -1), 2: (-1, -1, -1)}


def test_profile_completion_and_birthday() -> None:
    user = {"avatar_image": None, "bio": "  ", "interests": [], "dob": dt.date(1990, 3, 4), "country": "pk",
            "gender": None}  # fmt: skip
    assert profile_completion(user) == {"percent": 33, "missing": ["avatar", "bio", "interests", "gender"]}
    full = {**user, "avatar_image": "a.png", "bio": "hi", "interests": ["x"], "gender": 1}
    assert profile_completion(full) == {"percent": 100, "missing": []}
    assert shown_birthday(dt.date(1990, 3, 4), "full") == "1990-03-04"
    assert shown_birthday(dt.date(1990, 3, 4), "month_day") == "03-04"
    assert shown_birthday(dt.date(1990, 3, 4), "hidden") is None and shown_birthday(None, "full") is None


def test_search_terms_and_interests() -> None:
    assert search_terms(" @Ali ") == ("@Ali", "Ali", None)
    assert search_terms("42") == ("42", "42", 42)
    assert search_terms("9" * 30)[2] is None  # past the id range: no exact-id stage
    assert clean_interests([" Music", "music", "", "Art "]) == ["Music", "Art"]


def test_a_block_drops_gift_recipients() -> None:
    blocks = BlockSet(blocking=frozenset({2}), blocked_by=frozenset({3}))
    assert blocks.either(2) and blocks.either(3) and not blocks.either(4)
    assert without_blocked([2], blocks.either) == "BLOCKED"
    assert without_blocked([3, 4], blocks.either) == [4]
    assert without_blocked([2, 3], blocks.either) == "BLOCKED"
    assert without_blocked([4], blocks.either) == [4]
