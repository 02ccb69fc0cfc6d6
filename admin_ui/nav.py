"""The dashboard's sections: the nav shows a staff member only the sections they may open (each
page checks its own permission on the server too; hiding a link is a courtesy, not a guard)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Section:
    key: str
    label: str
    path: str
    permission: str


SECTIONS: tuple[Section, ...] = (
    Section("overview", "Overview", "/admin/", "dashboard.access"),
    Section("users", "Users", "/admin/users", "users.view"),
    Section("finance", "Finance", "/admin/finance", "finance.view"),
    Section("moderation", "Moderation", "/admin/moderation", "rooms.moderate"),
    Section("rooms", "Rooms", "/admin/rooms", "rooms.moderate"),
    Section("catalog", "Catalog", "/admin/catalog", "catalog.manage"),
    Section("agencies", "Agencies", "/admin/agencies", "agencies.review"),
    Section("system", "System", "/admin/system", "settings.manage"),
)


def visible_sections(permissions: frozenset[str]) -> list[Section]:
    return [section for section in SECTIONS if section.permission in permissions]
