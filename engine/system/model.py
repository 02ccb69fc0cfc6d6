"""System announcements and maintenance pushes: checks and the event payloads. No I/O."""

from __future__ import annotations

import datetime as dt
from typing import Any

from engine.errors import validation_error
from engine.flags.model import Maintenance

LEVELS = ("info", "warning", "critical")
MAX_MESSAGE = 500


def iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if value is not None else None


def check_announcement(message: str, level: str) -> None:
    errors: dict[str, list[str]] = {}
    if not message.strip():
        errors["message"] = ["Write the announcement."]
    elif len(message) > MAX_MESSAGE:
        errors["message"] = [f"At most {MAX_MESSAGE} characters."]
    if level not in LEVELS:
        errors["level"] = [f"One of {', '.join(LEVELS)}."]
    if errors:
        raise validation_error(errors)


def maintenance_event(state: Maintenance) -> dict[str, Any]:
    return {"active": state.active, "message": state.message if state.active else "",
            "started_at": iso(state.started_at), "ends_at": iso(state.ends_at)}  # fmt: skip


def announcement_event(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "message": row["message"], "level": row["level"], "sent_at": iso(row["sent_at"])}
