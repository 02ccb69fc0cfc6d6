"""Dashboard Rooms (issue 15 §6) in a real Chromium against the real server: the live rooms with
their members and seats, removing a user (heard on their live socket), editing a room, closing it
(every member told), lifting a room ban, a permission denial and a CSRF-less refusal."""

from __future__ import annotations

import re
from typing import Any

from engine.appkeys import CONFIG
from tests.browser import shot, sign_in
from tests.helpers import PASSWORD, db, join, new_user
from tests.sockets import first, url_of


def accept_dialogs(page: Any) -> None:
    async def accept(dialog: Any) -> None:
        await dialog.accept()

    page.on("dialog", accept)


async def _room(client: Any, room_id: int) -> Any:
    async with db(client.app[CONFIG].database_url) as conn:
        sql = "SELECT name, description, seat_count, is_hidden, is_closed FROM rooms WHERE id = $1"
        return await conn.fetchrow(sql, room_id)


async def _audit(client: Any, room_id: int) -> list[str]:
    async with db(client.app[CONFIG].database_url) as conn:
        rows = await conn.fetch("SELECT action FROM audit_log WHERE target_type = 'room' AND target_id = $1 "
                                "AND action <> 'room.create' ORDER BY id", str(room_id))  # fmt: skip
    return [r["action"] for r in rows]


async def test_live_rooms_members_seats_and_removing_a_user(client: Any, page: Any, connect: Any) -> None:
    base = url_of(client)
    moderator = await new_user(client, "Mo Moderator", role="moderator")
    host = await new_user(client, "Hana Host")
    guest = await new_user(client, "Gus Guest")
    h, g = await connect(client, host), await connect(client, guest)
    await join(h, host.room)
    await join(g, host.room)
    assert (await h.call("seat:take", {"roomId": host.room, "seatIndex": 2}))["success"]
    await sign_in(page, base, moderator.phone, PASSWORD)
    accept_dialogs(page)
    await page.goto(f"{base}/admin/rooms")
    live = page.locator("section", has_text="Live now")
    row = live.locator("tbody tr", has_text=str(host.room))
    assert await row.count() == 1
    cells = await row.locator("td").all_inner_texts()
    assert cells[3:5] == ["2", "1 / 15"]  # two members, one on a seat
    await shot(page, "rooms-list")
    await row.get_by_role("link").first.click()
    await page.wait_for_url(f"{base}/admin/rooms/{host.room}")
    seats = page.locator("section", has_text="Seats")
    assert "Hana Host" in await seats.locator("tbody tr").nth(2).inner_text()  # seat 3 (index 2)
    assert "live, 2 members" in await page.locator("#room-state").inner_text()
    await shot(page, "rooms-detail")
    # Remove the guest: a kick for 30 minutes; their socket hears it at once.
    await page.get_by_label("Minutes (kick; ban: empty for ever)").nth(1).fill("30")
    member_row = page.locator("tbody tr", has_text="Gus Guest")
    await member_row.get_by_label("Reason").fill("shouting")
    await member_row.get_by_role("button", name="Remove Gus Guest").click()
    await page.get_by_text(f"User {guest.id} kicked for 30 minutes.").wait_for()
    kicked = await first(g, "room:kicked")
    assert kicked.roomId == str(host.room) and kicked.reason == "shouting"
    assert await page.locator("tbody tr", has_text="Gus Guest").count() == 0
    # Joining again is refused while the block lasts.
    assert (await join(g, host.room, must_succeed=False))["success"] is False
    assert await _audit(client, host.room) == ["room.kick"]


async def test_edit_ban_unban_and_close(client: Any, page: Any, connect: Any) -> None:
    base = url_of(client)
    admin = await new_user(client, "Ada Admin", role="admin")
    host = await new_user(client, "Hana Host")
    guest = await new_user(client, "Gus Guest")
    h, g = await connect(client, host), await connect(client, guest)
    await join(h, host.room)
    await join(g, host.room)
    await sign_in(page, base, admin.phone, PASSWORD)
    accept_dialogs(page)
    await page.goto(f"{base}/admin/rooms?q={host.room}")
    found = page.locator("section", has_text="matching").locator("tbody tr").first
    assert "Hana Host" in await found.inner_text()  # the room with that id first, then names containing it
    await found.get_by_role("link").first.click()
    await page.wait_for_url(f"{base}/admin/rooms/{host.room}")
    # Edit.
    await page.get_by_label("Name", exact=True).fill("Renamed By Staff")
    await page.get_by_label("Description").fill("tidied up")
    await page.get_by_label(re.compile("^Seats")).fill("8")
    await page.get_by_label("Hidden from the room lists").check()
    await page.get_by_role("button", name="Save the room").click()
    await page.get_by_text("Room saved.").wait_for()
    room = await _room(client, host.room)
    assert (room["name"], room["description"], room["seat_count"], room["is_hidden"]) == (
        "Renamed By Staff", "tidied up", 8, True)  # fmt: skip
    # Another room's name: refused by the rooms' own rule, with the reason.
    await page.get_by_label("Name", exact=True).fill((await _room(client, guest.room))["name"])
    await page.get_by_label(re.compile("^Seats")).fill("5")
    await page.get_by_role("button", name="Save the room").click()
    assert "already been taken" in await page.get_by_role("alert").inner_text()
    assert (await _room(client, host.room))["seat_count"] == 8
    # Ban the guest from the room, then lift it.
    member_row = page.locator("tbody tr", has_text="Gus Guest")
    await member_row.get_by_label("How").select_option("ban")
    await member_row.get_by_label("Minutes (kick; ban: empty for ever)").fill("")
    await member_row.get_by_role("button", name="Remove Gus Guest").click()
    await page.get_by_text(f"User {guest.id} banned from the room.").wait_for()
    assert (await first(g, "room:kicked")).permanent is True
    await page.get_by_role("button", name="Lift the ban of Gus Guest").click()
    await page.get_by_text(f"Ban of user {guest.id} lifted.").wait_for()
    # Close: the host's socket is told.
    await page.get_by_label("Reason", exact=True).last.fill("breaks the rules")
    await page.get_by_role("button", name="Close the room").click()
    await page.get_by_text(f"Room {host.room} closed").wait_for()
    closed = await first(h, "room:closed")
    assert closed.reason == "breaks the rules"
    assert (await _room(client, host.room))["is_closed"] is True
    assert "closed" in await page.locator("#room-state").inner_text()
    assert await _audit(client, host.room) == ["room.update", "room.ban", "room.unban", "room.close"]


async def test_permission_and_csrf(client: Any, page: Any) -> None:
    base = url_of(client)
    support = await new_user(client, "Sue Support", role="support")
    host = await new_user(client, "Hana Host")
    await sign_in(page, base, support.phone, PASSWORD)
    await page.goto(f"{base}/admin/rooms/{host.room}")
    assert "rooms.moderate" in await page.locator("main").inner_text()
    await shot(page, "rooms-denied")
    nav = page.get_by_role("navigation", name="Sections")
    assert await nav.get_by_role("link", name="Rooms").count() == 0
    moderator = await new_user(client, "Mo Moderator", role="moderator")
    await page.context.clear_cookies()
    await sign_in(page, base, moderator.phone, PASSWORD)
    resp = await page.request.post(f"{base}/admin/rooms/{host.room}/close", form={"reason": "forged close"},
                                   max_redirects=0)  # fmt: skip
    assert resp.status == 403 and "CSRF" in await resp.text()
    assert (await _room(client, host.room))["is_closed"] is False
    assert await _audit(client, host.room) == []
