"""The chat word filter's edited words (sql/0039): PostgreSQL only. Every change NOTIFYs the hot
cache's channel ("chat_words"), so each engine process reads the list again."""

from __future__ import annotations

from typing import Any

from engine.db import Conn


async def blocked_words(conn: Conn) -> tuple[str, ...]:
    """The words, sorted: what the chat filter matches on top of CHAT_BLOCKED_WORDS."""
    rows = await conn.fetch("SELECT word FROM chat_blocked_words ORDER BY word")
    return tuple(r["word"] for r in rows)


async def word_rows(conn: Conn) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT w.word, w.created_by, u.name AS created_by_name, w.created_at
           FROM chat_blocked_words w LEFT JOIN users u ON u.id = w.created_by ORDER BY w.word"""
    )
    return [dict(r) for r in rows]


async def add_words_txn(conn: Conn, words: list[str], actor_id: int) -> list[str]:
    """Add the words not there yet; returns those added."""
    rows = await conn.fetch(
        """INSERT INTO chat_blocked_words (word, created_by) SELECT unnest($1::text[]), $2
           ON CONFLICT (word) DO NOTHING RETURNING word""",
        words, actor_id,
    )  # fmt: skip
    return sorted(r["word"] for r in rows)


async def remove_words_txn(conn: Conn, words: list[str]) -> list[str]:
    rows = await conn.fetch("DELETE FROM chat_blocked_words WHERE word = ANY($1::text[]) RETURNING word", words)
    return sorted(r["word"] for r in rows)
