"""GDPR: consent bodies and rules, export job views, the signed download link. No I/O."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from engine.accounts.model import RegisterBody, iso_timestamp

PolicyName = Annotated[str, Meta(min_length=1, max_length=32, pattern=r"^[a-z0-9_]+$")]
PolicyVersion = Annotated[str, Meta(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._-]+$")]
EXPORT_FORMAT = "flylive-export/1"
LINK_KEY_LABEL = b"flylive-gdpr-export-link"


class Consent(msgspec.Struct, forbid_unknown_fields=True):
    policy: PolicyName
    """A policy of CONSENT_POLICIES, e.g. `terms`, `privacy`."""
    version: PolicyVersion
    """The version accepted: the one in force."""


Consents = Annotated[
    list[Consent],
    Meta(max_length=20, extra={"msg": "The consents field must be a list of {policy, version} (at most 20)."}),
]


class V1RegisterBody(RegisterBody):
    """`POST /api/v1/auth/register`: the legacy fields, plus the policies accepted."""

    consents: Consents


class ConsentBody(Consent):
    """`POST /api/v1/me/consents`."""


class DeleteMeBody(msgspec.Struct, forbid_unknown_fields=True):
    """`DELETE /api/v1/me`: the current password, to confirm."""

    password: Annotated[str, Meta(min_length=1, max_length=128)]


class DownloadQuery(msgspec.Struct):
    user: Annotated[int, Meta(ge=1, le=2**63 - 1)]
    """Whose export (signed with the rest)."""
    expires: Annotated[int, Meta(ge=0, le=2**40)]
    """When the link stops working (Unix seconds)."""
    signature: Annotated[str, Meta(min_length=64, max_length=64, pattern=r"^[0-9a-f]+$")]


def due(policies: Iterable[tuple[str, str]], accepted: set[tuple[str, str]]) -> list[dict[str, str]]:
    """The policies in force whose current version the user has not accepted."""
    return [{"policy": p, "version": v} for p, v in policies if (p, v) not in accepted]


def consent_problem(policies: tuple[tuple[str, str], ...], given: list[Consent] | None) -> str | None:
    """Why a registration's consents do not do (None: they accept every policy in force)."""
    accepted = {(c.policy, c.version) for c in given or []}
    missing = due(policies, accepted)
    if not missing:
        return None
    wanted = ", ".join(f"{m['policy']} {m['version']}" for m in missing)
    return f"Accept the current policies: {wanted}."


def check_policy(policies: tuple[tuple[str, str], ...], consent: Consent) -> str | None:
    """Why one accepted {policy, version} is refused (None: it is a policy in force, at its version)."""
    current = dict(policies)
    if consent.policy not in current:
        return f"Unknown policy; the policies are {', '.join(current)}."
    if current[consent.policy] != consent.version:
        return f"The current version of {consent.policy} is {current[consent.policy]}."
    return None


def consent_item(row: dict[str, Any]) -> dict[str, Any]:
    return {"policy": row["policy"], "version": row["version"], "source": row["source"],
            "accepted_at": iso_timestamp(row["accepted_at"])}  # fmt: skip


# --- the signed download link -------------------------------------------------------------------


def link_key(secret: str) -> bytes:
    """The link's key, derived from a JWT secret (so rotating JWT_SECRET rotates it too)."""
    return hmac.new(secret.encode(), LINK_KEY_LABEL, hashlib.sha256).digest()


def link_signature(secret: str, export_id: int, user_id: int, expires: int) -> str:
    message = f"{export_id}:{user_id}:{expires}".encode()
    return hmac.new(link_key(secret), message, hashlib.sha256).hexdigest()


def link_valid(secrets: Iterable[str], export_id: int, user_id: int, expires: int, signature: str) -> bool:
    return any(hmac.compare_digest(link_signature(s, export_id, user_id, expires), signature) for s in secrets if s)


def download_path(secret: str, export_id: int, user_id: int, expires: int) -> str:
    signature = link_signature(secret, export_id, user_id, expires)
    return f"/api/v1/me/export/{export_id}/download?user={user_id}&expires={expires}&signature={signature}"


def export_view(row: dict[str, Any], secret: str, now: float | None = None) -> dict[str, Any]:
    """An export job as `GET /api/v1/me/export/{id}` shows it; the link only while it is valid."""
    now = time.time() if now is None else now
    total, done = row["tables_total"], row["tables_done"]
    expires = int(row["expires_at"].timestamp()) if row["expires_at"] is not None else None
    link = None
    if row["state"] == "done" and row["has_archive"] and expires is not None and expires > now:
        link = download_path(secret, row["id"], row["user_id"], expires)
    return {
        "id": row["id"], "state": row["state"],
        "progress": {"tables_done": done, "tables_total": total,
                     "percent": 100 if row["state"] == "done" else (100 * done // total if total else 0)},
        "rows_exported": row["rows_exported"], "archive_bytes": row["archive_bytes"],
        "created_at": iso_timestamp(row["created_at"]), "finished_at": iso_timestamp(row["finished_at"]),
        "download_url": link, "download_expires_at": iso_timestamp(row["expires_at"]) if link else None,
    }  # fmt: skip


def archive_json(user_id: int, generated_at: str, tables: dict[str, str]) -> bytes:
    """The archive: each table's rows (already JSON, as PostgreSQL wrote them) under its name."""
    head = msgspec.json.encode({"format": EXPORT_FORMAT, "user_id": user_id, "generated_at": generated_at})
    body = b",".join(msgspec.json.encode(name) + b":" + rows.encode() for name, rows in tables.items())
    return head[:-1] + b',"tables":{' + body + b"}}"
