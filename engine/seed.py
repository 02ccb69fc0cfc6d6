"""Demo data for `make serve`: the legacy seed accounts, so a newcomer can log in at once.

Idempotent: accounts that exist (by phone) are left alone, so a second run changes nothing.
"""

from __future__ import annotations

import datetime as dt
import logging

import asyncpg

from engine.accounts import store
from engine.auth.passwords import PasswordHasher
from engine.config import Config

log = logging.getLogger("flylive.seed")

DEMO_PASSWORD = "password"
# (name, phone, signature, country, gender, role) — the legacy seeders' accounts (backend-contract §2.5).
DEMO_USERS = [
    ("Admin user", "+923005274302", "@admin", "pk", 1, "super_admin"),
    ("Reseller user", "+923005274303", "@reseller", "gb", 1, "reseller"),
    ("Admin Irfan", "+923005274304", "@AdminIrfanTheOGReseller", "pk", 1, "reseller"),
    ("Demo Listener", "+923005274305", "@demo_listener", "pk", 2, "user"),
]


# (name, category, price in coins, static image, animation, animation type, rarity): the legacy
# repository's SVGA assets.
DEMO_GIFTS = [
    ("Rose", "normal", 1, "gifts/rose.webp", "gifts/rose.svga", "svga", "common"),
    ("Kaola", "normal", 10, "gifts/kaola.webp", "gifts/kaola.svga", "svga", "common"),
    ("Angel", "normal", 99, "gifts/angel.webp", "gifts/angel.svga", "svga", "rare"),
    ("Castle", "lucky", 520, "gifts/castel_gift.webp", "gifts/castel_gift.svga", "svga", "epic"),
    ("Dragon", "vip", 1314, "gifts/dragon.webp", "gifts/dragon.svga", "svga", "legendary"),
    ("Kingset", "country", 5200, "gifts/kingset.webp", "gifts/kingset.mp4", "mp4", "legendary"),
]


# The legacy seeded frames (backend-contract §2.5): name, price, static, animated, seconds, status.
DEMO_FRAMES = [
    ("Default", 0, "ladies-frame.webp", "ladies-frame", None, 1),
    ("Test With Expiry", 150, "default-frame.webp", "1", 985016, 1),
    ("Test Without Expiry", 500, "1.webp", "2", 985016, 2),
]
# (name, coins, bonus coins, price in cents): "1700 coins for $0.99" (backend-contract §3.10).
DEMO_PACKAGES = [("Starter", 1700, 0, 99), ("Popular", 9000, 500, 499), ("Big", 19000, 2000, 999)]


async def seed_demo(pool: asyncpg.Pool, config: Config) -> int:
    hasher = PasswordHasher(config.argon2_memory_kib, config.argon2_time_cost)
    password_hash = await hasher.hash(DEMO_PASSWORD)
    created = 0
    async with pool.acquire() as conn:
        for name, phone, signature, country, gender, role in DEMO_USERS:
            if await store.get_user_by_phone(conn, phone) is not None:
                continue
            async with conn.transaction():
                user = await store.insert_user_txn(
                    conn,
                    name=name,
                    phone=phone,
                    signature=signature,
                    password_hash=password_hash,
                    country=country,
                    gender=gender,
                    dob=dt.date(1999, 1, 1),
                    email=f"{signature}@flylive.com",
                )
                await store.grant_role_txn(conn, user["id"], role, None)
                if role != "user":
                    await store.grant_role_txn(conn, user["id"], "user", None)
                await store.insert_owned_room_txn(conn, user["id"], signature, country)
            created += 1
        if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM recharge_packages)"):
            await conn.executemany(
                "INSERT INTO recharge_packages (name, coins, bonus_coins, price_cents) VALUES ($1, $2, $3, $4)",
                DEMO_PACKAGES,
            )
        if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM mall_items)"):
            await conn.executemany(
                """INSERT INTO mall_items (category, name, price, static_src, animated_src, valid_duration, status)
                   VALUES ('frame', $1, $2, $3, $4, $5, $6)""",
                DEMO_FRAMES,
            )
        if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM gifts)"):
            await conn.executemany(
                """INSERT INTO gifts (name, category, price, static_src, animated_src, animated_file_type, rarity)
                   VALUES ($1, $2, $3, $4, $5, $6, $7)""",
                DEMO_GIFTS,
            )
    if created:
        log.info("demo accounts created", extra={"count": created, "password": DEMO_PASSWORD})
    return created
