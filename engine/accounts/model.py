"""Accounts: request types, field rules, signature handles and the legacy user JSON shapes. No I/O."""

from __future__ import annotations

import datetime as dt
import random
import re
import unicodedata
from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from engine.accounts.vip_model import vip_level_at
from engine.errors import validation_error

E164 = r"^\+[1-9]\d{1,14}$"
Phone = Annotated[
    str,
    Meta(
        max_length=20,
        pattern=E164,
        extra={"msg": "The phone field must be an E.164 number such as +923001234567 (at most 20 characters)."},
    ),
]
Name = Annotated[
    str, Meta(min_length=1, max_length=100, extra={"msg": "The name field must be a string of 1 to 100 characters."})
]
Country = Annotated[
    str, Meta(pattern=r"^[A-Za-z]{2}$", extra={"msg": "The country field must be a two-letter country code."})
]
Gender = Annotated[
    Literal["male", "female", "others"], Meta(extra={"msg": "The gender field must be one of male, female, others."})
]
Password = Annotated[
    str, Meta(min_length=8, max_length=128, extra={"msg": "The password field must be 8 to 128 characters."})
]
Signature = Annotated[
    str,
    Meta(
        pattern=r"^[@#]?[A-Za-z0-9_.]{3,49}$",
        max_length=50,
        extra={"msg": "The signature field must be 3 to 49 letters, digits, '_' or '.', optionally after '@'."},
    ),
]
AvatarImage = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=500,
        extra={"msg": "The avatar_image field must be a string of at most 500 characters."},
    ),
]
RefreshToken = Annotated[str, Meta(min_length=16, max_length=200)]
Bio = Annotated[str, Meta(max_length=500, extra={"msg": "The bio field must be at most 500 characters."})]
Interest = Annotated[str, Meta(min_length=1, max_length=30, pattern=r"^[^\x00-\x1f]+$")]
Interests = Annotated[
    list[Interest],
    Meta(max_length=10, extra={"msg": "The interests field must be at most 10 tags of 1 to 30 characters."}),
]
BirthdayVisibility = Literal["full", "month_day", "hidden"]


def current_vip_level(row: dict[str, Any]) -> int:
    """The row's VIP level in force now (an expired one is 0 before the expiry job clears it)."""
    return vip_level_at(row.get("vip_level"), row.get("vip_expires_at"), dt.datetime.now(dt.UTC))


class SocialLink(msgspec.Struct, forbid_unknown_fields=True):
    kind: Annotated[str, Meta(pattern=r"^[a-z0-9_]{1,20}$", description="instagram, tiktok, youtube, x, website, …")]
    url: Annotated[str, Meta(max_length=300, pattern=r"^https://[^\s/?#@]+\.[^\s/?#@]+(?:[/?#]\S*)?$")]
    """An https URL."""


SocialLinks = Annotated[
    list[SocialLink],
    Meta(max_length=5, extra={"msg": "The social_links field must be at most 5 {kind, url} with https URLs."}),
]

MIN_AGE_YEARS = 18
GENDER_CODES = {"male": 1, "female": 2, "others": 3}
GENDER_NAMES = {code: name for name, code in GENDER_CODES.items()}


class RegisterBody(msgspec.Struct):
    name: Name
    phone: Phone
    country: Country
    gender: Gender
    dob: dt.date
    password: Password


class LoginBody(msgspec.Struct):
    phone: Phone
    password: Annotated[
        str, Meta(min_length=8, max_length=128, extra={"msg": "The password field must be 8 to 128 characters."})
    ]
    remember: bool = False


class RefreshBody(msgspec.Struct):
    refresh_token: RefreshToken


class ResetPasswordBody(msgspec.Struct):
    current_password: Annotated[str, Meta(min_length=1, max_length=128)]
    password: Password
    password_confirmation: Annotated[str, Meta(max_length=128)]


class UpdateProfileBody(msgspec.Struct):
    field: str
    value: Any


# The whitelist of PATCH /api/update-profile and the rule each value must pass. Password changes
# go through /api/reset-password, which asks for the current password (legacy did not).
PROFILE_FIELDS: dict[str, Any] = {
    "name": Name,
    "phone": Phone,
    "country": Country,
    "gender": Gender,
    "dob": dt.date,
    "signature": Signature,
    "avatar_image": AvatarImage,
    "bio": Bio,
    "interests": Interests,
    "social_links": SocialLinks,
    "birthday_visibility": BirthdayVisibility,
}
# The cosmetic ids a room profile shows (users.cosmetics; user:profileSync sets them).
COSMETICS = ("frame_id", "chat_bubble_id", "entry_animation_id", "data_card_id", "mice_wave_id", "slides_id")
# Fields of the public profile that the rooms show (a change is told to the user's rooms).
ROOM_PROFILE_FIELDS = {"name": "name", "signature": "signature", "avatar_image": "avatar"}


UNDERAGE = f"You must be at least {MIN_AGE_YEARS} years old."
PHONE_TAKEN = "The phone has already been taken."


def clean_interests(tags: list[str]) -> list[str]:
    """Trimmed, without empty tags or case-insensitive duplicates, in the order given."""
    seen: set[str] = set()
    kept = []
    for tag in (t.strip() for t in tags):
        if tag and tag.casefold() not in seen:
            seen.add(tag.casefold())
            kept.append(tag)
    return kept


def profile_value(field: str, value: Any) -> Any:
    """A checked profile value as its column stores it."""
    if field == "gender":
        return GENDER_CODES[value]
    if field == "country":
        return value.lower()
    if field == "interests":
        return clean_interests(value)
    if field == "social_links":
        return msgspec.to_builtins(value)
    return value


def is_adult(dob: dt.date, today: dt.date | None = None) -> bool:
    """The legacy rule: born strictly before today minus 18 years."""
    today = today or dt.datetime.now(dt.UTC).date()
    try:
        limit = today.replace(year=today.year - MIN_AGE_YEARS)
    except ValueError:  # 29 February
        limit = today.replace(year=today.year - MIN_AGE_YEARS, day=28)
    return dob < limit


def check_adult(dob: dt.date, today: dt.date | None = None, field: str = "dob") -> None:
    if not is_adult(dob, today):
        raise validation_error({field: [UNDERAGE]})


def check_password_confirmed(body: ResetPasswordBody) -> None:
    if body.password != body.password_confirmation:
        raise validation_error({"password": ["The password field confirmation does not match."]})


def slugify(name: str) -> str:
    """ASCII slug as the legacy helper made it: '@' -> '_at_', punctuation dropped, '_' joins words."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    text = ascii_name.lower().replace("@", "_at_")
    text = re.sub(r"[^a-z0-9\s_-]", "", text)
    return re.sub(r"[\s_-]+", "_", text).strip("_") or "user"


def signature_candidates(name: str, rng: random.Random | None = None) -> list[str]:
    """Handles to try in order: the legacy `@slug_N`, then `#slug_N`, then wider random suffixes.

    Unlike the legacy loop this always ends, and every candidate fits the 50-character column.
    """
    rng = rng or random.Random()
    slug = slugify(name)[:40]
    short = [f"@{slug}_{rng.randint(2, 50)}" for _ in range(3)]
    hashed = [f"#{slug}_{rng.randint(2, 50)}" for _ in range(3)]
    wide = [f"@{slug}_{rng.randint(100000, 999999)}" for _ in range(6)]
    return list(dict.fromkeys(short + hashed + wide))


def legacy_date(value: dt.date | dt.datetime | None) -> str | None:
    """Users' dates serialize as YYYY-MM-DD only, as the legacy API did."""
    return None if value is None else value.isoformat()[:10]


def iso_timestamp(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _decimal_text(value: Decimal | None) -> str:
    return f"{(value or Decimal(0)):.4f}"


def public_user(row: dict[str, Any]) -> dict[str, Any]:
    """What anyone may see of a user: never phone, email, date of birth or balances."""
    return {
        "id": row["id"],
        "name": row["name"],
        "signature": row["signature"],
        "country": row["country"],
        "gender": GENDER_NAMES.get(row["gender"], "unknown"),
        "avatar_image": row["avatar_image"],
        "animated_src": row["animated_src"],
        "static_src": row["static_src"],
        "vip_level": current_vip_level(row),
        "wealth_xp": _decimal_text(row["wealth_xp"]),
        "charm_xp": _decimal_text(row["charm_xp"]),
        "room_xp": _decimal_text(row["room_xp"]),
        "wealth_level": row["wealth_level"],
        "charm_level": row["charm_level"],
        "is_blocked": row["is_blocked"],
        "created_at": legacy_date(row["created_at"]),
    }


def private_user(row: dict[str, Any], balances: dict[str, int]) -> dict[str, Any]:
    """The legacy `GET /api/user` object: every column but the hidden ones, dates as YYYY-MM-DD."""
    return {
        **public_user(row),
        "email": row["email"],
        "phone": row["phone"],
        "dob": legacy_date(row["dob"]),
        "status": row["status"],
        "suspended_until": iso_timestamp(row["suspended_until"]),
        "blocked_at": legacy_date(row["blocked_at"]),
        "block_reason": row["block_reason"],
        "social_provider": row["social_provider"],
        "social_provider_id": row["social_provider_id"],
        "coin_balance": balances.get("coins", 0),
        "diamond_balance": balances.get("diamonds", 0),
        "updated_at": legacy_date(row["updated_at"]),
        "deleted_at": legacy_date(row["deleted_at"]),
        "bio": row["bio"],
        "interests": list(row["interests"] or []),
        "social_links": row["social_links"] or [],
        "birthday_visibility": row["birthday_visibility"],
    }


def legacy_room(row: dict[str, Any]) -> dict[str, Any]:
    """A room as the legacy API showed it; the password hash is never included."""
    return {
        "id": row["id"],
        "user_id": row["user_id"],
        "theme_id": row["theme_id"],
        "popularity_index": row["popularity_index"],
        "country": row["country"],
        "name": row["name"],
        "greetings": row["greetings"],
        "logo": row["logo"],
        "can_tourists_speak": row["can_tourists_speak"],
        "can_tourists_send_text": row["can_tourists_send_text"],
        "can_tourists_send_files": row["can_tourists_send_files"],
        "is_hidden": row["is_hidden"],
        "type": row["type"],
        "created_at": iso_timestamp(row["created_at"]),
        "updated_at": iso_timestamp(row["updated_at"]),
        "deleted_at": iso_timestamp(row["deleted_at"]),
    }


def legacy_active_frame(user_id: int, frame: dict[str, Any]) -> dict[str, Any]:
    return {
        "animated_src": frame["animated_src"],
        "static_src": frame["static_src"],
        "pivot": {"user_id": user_id, "frame_id": frame["id"], "expires_at": iso_timestamp(frame["expires_at"]),
                  "quantity": frame["quantity"], "is_active": frame["is_active"],
                  "created_at": iso_timestamp(frame["purchased_at"]), "updated_at": iso_timestamp(frame["updated_at"])},
    }  # fmt: skip


def token_claims_profile(row: dict[str, Any]) -> dict[str, Any]:
    """Display claims the realtime contract reads from the JWT (`id` and `name` are required)."""
    return {
        "name": row["name"],
        "signature": row["signature"],
        "avatar": row["avatar_image"] or "",
        "gender": row["gender"] or 0,
        "country": row["country"] or "",
        "vip_level": current_vip_level(row),
    }
