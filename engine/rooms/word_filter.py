"""Editing the chat word filter (the moderation dashboard, issue 15 §5). The filter is the config's
CHAT_BLOCKED_WORDS plus the words kept in PostgreSQL (sql/0039); a change there NOTIFYs every engine
process, whose hot cache forgets the list (engine/rooms/cache.py `blocked_words`), so the next chat
message in any room or agency chat is checked against it. Each edit is audited."""

from __future__ import annotations

import logging
import re
from typing import Any

from engine.audit.store import record_txn
from engine.errors import validation_error
from engine.rooms import word_filter_store as store
from engine.rooms.cache import CHAT_WORDS_TOPIC
from engine.services import Services

log = logging.getLogger("flylive.rooms.word_filter")
MAX_WORD = 64
MAX_WORDS_PER_EDIT = 200
_SPLIT = re.compile(r"[\s,;]+")


def parse_words(text: str) -> list[str]:
    """Words from what a moderator typed (commas, semicolons, spaces or lines between them), lower
    case, without repeats; a word longer than MAX_WORD or too many at once is refused (422)."""
    words = sorted({w.lower() for w in _SPLIT.split(text) if w})
    if not words:
        raise validation_error({"words": ["Enter at least one word."]})
    if len(words) > MAX_WORDS_PER_EDIT:
        raise validation_error({"words": [f"At most {MAX_WORDS_PER_EDIT} words at once."]})
    if too_long := [w for w in words if len(w) > MAX_WORD]:
        raise validation_error({"words": [f"Words are at most {MAX_WORD} characters: {too_long[0][:20]}…"]})
    return words


async def words(svc: Services) -> dict[str, Any]:
    """The edited words (with who added them) and the configured ones (read-only here)."""
    async with svc.pool.acquire() as conn:
        rows = await store.word_rows(conn)
    return {"items": rows, "configured": sorted(svc.config.chat_blocked_words)}


async def do_add(svc: Services, actor_id: int, text: str, ip: str | None) -> list[str]:
    wanted = parse_words(text)
    async with svc.pool.acquire() as conn, conn.transaction():
        added = await store.add_words_txn(conn, wanted, actor_id)
        if added:
            await record_txn(conn, actor_id=actor_id, action="word_filter.add", target_type="word_filter",
                             target_id=CHAT_WORDS_TOPIC, ip=ip, details={"before": None, "after": added})  # fmt: skip
    svc.metrics.word_filter_edits.labels("add").inc(len(added))
    log.info("word filter words added", extra={"by": actor_id, "count": len(added)})
    return added


async def do_remove(svc: Services, actor_id: int, text: str, ip: str | None) -> list[str]:
    wanted = parse_words(text)
    async with svc.pool.acquire() as conn, conn.transaction():
        removed = await store.remove_words_txn(conn, wanted)
        if removed:
            await record_txn(conn, actor_id=actor_id, action="word_filter.remove", target_type="word_filter",
                             target_id=CHAT_WORDS_TOPIC, ip=ip, details={"before": removed, "after": None})  # fmt: skip
    svc.metrics.word_filter_edits.labels("remove").inc(len(removed))
    log.info("word filter words removed", extra={"by": actor_id, "count": len(removed)})
    return removed
