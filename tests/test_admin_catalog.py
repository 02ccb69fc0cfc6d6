"""The catalog section (issue 15 §7) in a real Chromium against the real server: a gift created
with a sale window and switched off, a frame and a recharge package edited, a badge created, a VIP
tier and a level ladder changed through their own actions, an asset uploaded to (a stand-in for)
ImageKit with a signed upload and put in a gift's form; a role without catalog.manage refused; a
CSRF-less POST refused with nothing changed."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from engine.appkeys import CONFIG
from tests.browser import shot, sign_in
from tests.helpers import PASSWORD, db, new_user
from tests.sockets import url_of

PRIVATE, PUBLIC = "private_test_key", "public_test_key"


def _url(client: Any) -> str:
    return str(client.app[CONFIG].database_url)


def _accept_dialogs(page: Any) -> None:
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))


async def test_a_gift_is_created_with_a_window_then_switched_off(client: Any, page: Any) -> None:
    base = url_of(client)
    admin = await new_user(client, "Ada Admin", role="admin")
    await sign_in(page, base, admin.phone, PASSWORD)
    await page.goto(f"{base}/admin/catalog")
    await shot(page, "catalog-index")
    await page.get_by_role("link", name=re.compile(r"^Gifts \(0\)")).click()
    await page.get_by_role("link", name="New gift").click()
    await page.get_by_label("Name", exact=True).fill("Rocket")
    await page.get_by_label("Price (coins)").fill("500")
    await page.get_by_label("Rarity").select_option("epic")
    await page.get_by_label("On sale from (UTC, empty: at once)").fill("2030-01-01T10:00")
    await page.get_by_label("On sale until (UTC, empty: no end)").fill("2030-01-08T10:00")
    await page.get_by_label("On sale (active)").check()
    await shot(page, "catalog-item-new")
    await page.get_by_role("button", name="Create").click()
    await page.get_by_text("Rocket created.").wait_for()
    async with db(_url(client)) as conn:
        gift = await conn.fetchrow("SELECT id, price, rarity, is_active, starts_at, ends_at FROM gifts WHERE name = "
                                   "'Rocket'")  # fmt: skip
        audit = await conn.fetchval("SELECT details FROM audit_log WHERE action = 'catalog.gift.create'")
    assert (gift["price"], gift["rarity"], gift["is_active"]) == (500, "epic", True)
    assert gift["starts_at"].isoformat() == "2030-01-01T10:00:00+00:00"
    assert json.loads(audit)["after"]["name"] == "Rocket"
    # Not on sale before its window: the app's gift list leaves it out.
    listing = await (await client.get("/api/v1/gifts")).json()
    assert "Rocket" not in json.dumps(listing)

    await page.goto(f"{base}/admin/catalog/gift")
    assert "scheduled" in await page.locator("tbody").inner_text()
    await shot(page, "catalog-gifts")
    await page.get_by_role("button", name="Switch off Rocket").click()
    await page.get_by_text("Rocket switched off.").wait_for()
    # An end before the start is refused with the reason.
    await page.goto(f"{base}/admin/catalog/gift/{gift['id']}")
    await page.get_by_label("On sale until (UTC, empty: no end)").fill("2029-01-01T10:00")
    await page.get_by_role("button", name="Save").click()
    assert "The window must end after it starts." in await page.locator("main").inner_text()
    async with db(_url(client)) as conn:
        row = await conn.fetchrow("SELECT is_active, ends_at FROM gifts WHERE id = $1", gift["id"])
        changes = await conn.fetch("SELECT action FROM audit_log WHERE target_type = 'gift' ORDER BY id")
    assert row["is_active"] is False and row["ends_at"].year == 2030
    assert [c["action"] for c in changes] == ["catalog.gift.create", "catalog.gift.deactivate"]


async def test_a_frame_and_a_package_are_edited(client: Any, page: Any) -> None:
    base = url_of(client)
    admin = await new_user(client, role="admin")
    await sign_in(page, base, admin.phone, PASSWORD)
    await page.goto(f"{base}/admin/catalog/frame/new")
    await page.get_by_label("Name", exact=True).fill("Golden frame")
    await page.get_by_label("Price (coins)").fill("1200")
    await page.get_by_label("Lasts (seconds; empty: permanent)").fill("604800")
    await page.get_by_label("On sale (active)").check()
    await page.get_by_role("button", name="Create").click()
    await page.get_by_text("Golden frame created.").wait_for()
    await page.get_by_label("Price (coins)").fill("900")
    await page.get_by_role("button", name="Save").click()
    await page.get_by_text("Golden frame saved.").wait_for()
    await shot(page, "catalog-item-edit")

    await page.goto(f"{base}/admin/catalog/package/new")
    await page.get_by_label("Name", exact=True).fill("Starter")
    await page.get_by_label("Coins", exact=True).fill("1000")
    await page.get_by_label("Bonus coins").fill("100")
    await page.get_by_label("Price (cents)").fill("199")
    await page.get_by_label("Currency (three letters)").fill("usd")
    await page.get_by_label("On sale (active)").check()
    await page.get_by_role("button", name="Create").click()
    await page.get_by_text("Starter created.").wait_for()
    await page.goto(f"{base}/admin/catalog/package")
    assert "live" in await page.locator("tbody").inner_text()
    await shot(page, "catalog-packages")
    async with db(_url(client)) as conn:
        frame = await conn.fetchrow("SELECT category, price, valid_duration FROM mall_items "
                                    "WHERE name = 'Golden frame'")  # fmt: skip
        package = await conn.fetchrow("SELECT coins, bonus_coins, price_cents, currency FROM recharge_packages "
                                      "WHERE name = 'Starter'")  # fmt: skip
    assert dict(frame) == {"category": "frame", "price": 900, "valid_duration": 604800}
    assert dict(package) == {"coins": 1000, "bonus_coins": 100, "price_cents": 199, "currency": "USD"}


async def test_badges_vip_tiers_and_levels(client: Any, page: Any) -> None:
    base = url_of(client)
    admin = await new_user(client, role="admin")
    await sign_in(page, base, admin.phone, PASSWORD)
    _accept_dialogs(page)
    await page.goto(f"{base}/admin/catalog/badges")
    await page.get_by_label("Code (a–z, 0–9, _; never changes)").fill("big_giver")
    await page.get_by_label("Name", exact=True).fill("Big giver")
    await page.get_by_label(re.compile(r"^Rule")).fill('{"kind": "gifts_sent", "count": 100}')
    await page.get_by_role("button", name="Create the badge").click()
    await page.get_by_text("Badge big_giver created.").wait_for()
    await shot(page, "catalog-badges")
    await page.get_by_role("link", name="big_giver").click()
    await page.get_by_label("Name", exact=True).fill("Bigger giver")
    await page.get_by_role("button", name="Save").click()
    await page.get_by_text("Badge big_giver saved.").wait_for()
    await shot(page, "catalog-badge-edit")

    await page.goto(f"{base}/admin/catalog/vip")
    await page.get_by_label("Monthly price (coins)").first.fill("3500")
    await shot(page, "catalog-vip")
    await page.get_by_role("button", name="Save VIP 1").click()
    await page.get_by_text("VIP 1 saved.").wait_for()

    await page.goto(f"{base}/admin/catalog/levels?type=charm")
    await shot(page, "catalog-levels")
    ladder = {"levels": [{"level": 1, "min_xp": 0}, {"level": 2, "min_xp": 100},
                         {"level": 3, "min_xp": 500, "rewards": [{"kind": "coins", "amount": 50}]}]}  # fmt: skip
    await page.get_by_label("The charm ladder (JSON)").fill(json.dumps(ladder))
    await page.get_by_role("button", name="Replace the charm ladder").click()
    await page.get_by_text(re.compile(r"The charm ladder is saved \(3 levels")).wait_for()
    async with db(_url(client)) as conn:
        badge = await conn.fetchrow("SELECT name, rule FROM badges WHERE code = 'big_giver'")
        price = await conn.fetchval("SELECT price_coins FROM vip_tiers WHERE level = 1")
        levels = await conn.fetch("SELECT level, min_xp FROM levels WHERE type = 'charm' ORDER BY level")
    assert badge["name"] == "Bigger giver" and json.loads(badge["rule"]) == {"kind": "gifts_sent", "count": 100}
    assert price == 3500
    assert [(r["level"], int(r["min_xp"])) for r in levels] == [(1, 0), (2, 100), (3, 500)]


@asynccontextmanager
async def _imagekit() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """A stand-in for ImageKit's upload API: checks the signature as ImageKit does."""
    got: list[dict[str, Any]] = []

    async def upload(request: web.Request) -> web.Response:
        fields = await request.post()
        expected = hmac.new(PRIVATE.encode(), f"{fields['token']}{fields['expire']}".encode(), hashlib.sha1)
        file = fields["file"]
        assert isinstance(file, web.FileField)
        got.append({**{k: v for k, v in fields.items() if isinstance(v, str)}, "bytes": file.file.read()})
        if fields["signature"] != expected.hexdigest() or fields["publicKey"] != PUBLIC:
            return web.json_response({"message": "Your request contains invalid signature"}, status=403)
        return web.json_response({"url": f"https://ik.imagekit.io/demo/catalog/{fields['fileName']}"})

    app = web.Application(client_max_size=25 * 1024 * 1024)  # ImageKit takes files up to 25 MB
    app.router.add_post("/api/v1/files/upload", upload)
    server = TestServer(app)
    await server.start_server()
    try:
        yield str(server.make_url("/api/v1/files/upload")), got
    finally:
        await server.close()


async def test_an_asset_is_uploaded_into_a_gift(make_client: Any, page: Any, tmp_path: Any) -> None:
    async with _imagekit() as (upload_url, got):
        client = await make_client(imagekit_private_key=PRIVATE, imagekit_public_key=PUBLIC,
                                   imagekit_upload_url=upload_url)  # fmt: skip
        base = url_of(client)
        admin = await new_user(client, role="super_admin")
        async with db(_url(client)) as conn:
            gift_id = await conn.fetchval("INSERT INTO gifts (name, price) VALUES ('Rose', 10) RETURNING id")
        await sign_in(page, base, admin.phone, PASSWORD)
        await page.goto(f"{base}/admin/catalog/gift/{gift_id}")
        await page.get_by_role("link", name="upload a file for this").first.click()
        await page.get_by_role("heading", name="Upload an asset").wait_for()
        picture = tmp_path / "rose.png"
        asset = b"\x89PNG\r\n\x1a\nrose" + bytes(3 * 1024 * 1024)  # over MAX_BODY_BYTES: an animation's size
        picture.write_bytes(asset)
        await page.get_by_label(re.compile(r"^File")).set_input_files(str(picture))
        await shot(page, "catalog-upload")
        await page.get_by_role("button", name="Upload to ImageKit").click()
        await page.get_by_text("Uploaded: the URL is in the form. Save it.").wait_for()
        value = await page.get_by_label("Image URL").input_value()
        assert re.fullmatch(rf"https://ik\.imagekit\.io/demo/catalog/{admin.id}-image-[0-9a-f-]+\.png", value), value
        await page.get_by_role("button", name="Save").click()
        await page.get_by_text("Rose saved.").wait_for()
        async with db(_url(client)) as conn:
            assert await conn.fetchval("SELECT static_src FROM gifts WHERE id = $1", gift_id) == value
        (sent,) = got
        assert sent["bytes"] == asset and sent["folder"] == "/catalog"
        # Not an image, video or sound: refused before anything is sent.
        await page.goto(f"{base}/admin/catalog/upload")
        text = tmp_path / "notes.txt"
        text.write_text("hello")
        await page.get_by_label(re.compile(r"^File")).set_input_files(str(text))
        await page.get_by_role("button", name="Upload to ImageKit").click()
        assert "Only images" in await page.locator("main").inner_text()
        assert len(got) == 1


async def test_refusals(client: Any, page: Any) -> None:
    base = url_of(client)
    admin, moderator = await new_user(client, role="admin"), await new_user(client, role="moderator")
    await sign_in(page, base, admin.phone, PASSWORD)
    resp = await page.request.post(f"{base}/admin/catalog/gift", form={"name": "Sneaky", "price": "1"},
                                   max_redirects=0)  # fmt: skip
    assert resp.status == 403
    async with db(_url(client)) as conn:
        assert await conn.fetchval("SELECT count(*) FROM gifts WHERE name = 'Sneaky'") == 0
    await page.context.clear_cookies()
    await sign_in(page, base, moderator.phone, PASSWORD)
    for path in ("/admin/catalog", "/admin/catalog/gift", "/admin/catalog/badges", "/admin/catalog/upload"):
        answer = await page.goto(f"{base}{path}")
        assert answer is not None and answer.status == 403, path
    assert "catalog.manage" in await page.get_by_role("alert").inner_text()
    await shot(page, "catalog-denied-moderator")
