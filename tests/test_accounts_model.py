"""Pure account rules: signature handles, age, legacy JSON shapes, body decoding."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from engine.accounts import model
from engine.errors import DomainError
from engine.validation import decode_json_body, describe


def test_slugify_follows_the_legacy_helper() -> None:
    assert model.slugify("John Doe") == "john_doe"
    assert model.slugify("  Ana--María__López ") == "ana_maria_lopez"
    assert model.slugify("me@home!") == "me_at_home"
    assert model.slugify("李小龙") == "user"


def test_signature_candidates_are_bounded_unique_and_fit_the_column() -> None:
    candidates = model.signature_candidates("x" * 100, random.Random(7))
    assert candidates[0].startswith("@") and any(c.startswith("#") for c in candidates)
    assert len(candidates) == len(set(candidates)) <= 12
    assert all(len(c) <= 50 for c in candidates)
    short = model.signature_candidates("John Doe", random.Random(1))
    assert all(2 <= int(c.rsplit("_", 1)[1]) <= 50 for c in short[:3])


def test_check_adult_boundary() -> None:
    today = dt.date(2026, 11, 25)
    model.check_adult(dt.date(2008, 11, 24), today)
    with pytest.raises(DomainError) as exc:
        model.check_adult(dt.date(2008, 11, 25), today)
    assert exc.value.status == 422 and "dob" in exc.value.fields
    model.check_adult(dt.date(2000, 1, 1), dt.date(2028, 2, 29))  # leap day does not crash


def test_decode_names_every_bad_field() -> None:
    raw = b'{"name": "", "phone": "0300", "country": "PAK", "gender": "Male", "dob": "1999-02-30", "password": 1}'
    with pytest.raises(DomainError) as exc:
        decode_json_body(model.RegisterBody, raw)
    assert set(exc.value.fields) == {"name", "phone", "country", "gender", "dob", "password"}
    assert "E.164" in exc.value.fields["phone"][0]


def test_decode_rejects_non_objects_and_bad_json() -> None:
    for raw, code in ((b"[1, 2]", "invalid_body"), (b"{nope", "invalid_json"), (b'"text"', "invalid_body")):
        with pytest.raises(DomainError) as exc:
            decode_json_body(model.RegisterBody, raw)
        assert exc.value.code == code and exc.value.status == 400


def test_public_user_hides_private_fields() -> None:
    row = {
        "id": 7, "name": "N", "signature": "@n_2", "country": "pk", "gender": 2, "avatar_image": None,
        "animated_src": None, "static_src": None, "vip_level": 0, "wealth_xp": None, "charm_xp": None,
        "room_xp": None, "wealth_level": 1, "charm_level": 1, "is_blocked": False,
        "created_at": dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC), "phone": "+15550001",
        "email": "e@x", "dob": dt.date(1990, 1, 1),
    }  # fmt: skip
    public = model.public_user(row)
    assert public["gender"] == "female" and public["created_at"] == "2026-01-02"
    assert public["wealth_xp"] == "0.0000" and (public["wealth_level"], public["charm_level"]) == (1, 1)
    assert not {"phone", "email", "dob", "coin_balance"} & set(public)


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        ("Expected `str` of length <= 500", "The bio field must not be greater than 500 characters."),
        ("Expected `array` of length >= 1 - at `$`", "The bio field must have at least 1 items."),
        ("Expected `int` > 0", "The bio field must be greater than 0."),
        ("Expected `str` matching regex '^https://'  - at `$[2].url`", "The bio.2.url field format is invalid."),
        ("Object missing required field `url` - at `$[0]`", "The bio.0.url field is required."),
        ("Object contains unknown field `x`", "The bio.x field is not allowed."),
        ("Invalid enum value 'weird'", "The selected bio is invalid."),
        ("Expected `str | null`, got `int`", "The bio field must be a string."),
        ("Expected `array`, got `str` - at `$`", "The bio field must be an array."),
        ("Invalid RFC3339 encoded datetime", "The bio field is invalid: invalid RFC3339 encoded datetime."),
    ],
)
def test_msgspec_errors_are_told_in_the_api_words(raw: str, said: str) -> None:
    assert describe("bio", raw) == said
