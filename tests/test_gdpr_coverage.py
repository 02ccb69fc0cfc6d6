"""The GDPR registry (engine/gdpr/registry.py) covers every user column of the migrated schema, and
each of its tables says what the purge does to its rows.

A migration that adds a table with a user column (a foreign key to users(id), or an integer `*_id`
column kept without a foreign key, as the ledger's account_id) fails here until the registry names
it — or NOT_USER_COLUMNS says, with a reason, why it holds no user id. The message is the line to add.
"""

from __future__ import annotations

from engine.gdpr import store
from engine.gdpr.registry import NOT_USER_COLUMNS, TABLES, Anonymise, Delete, Keep, covered_columns
from tests.helpers import db


def missing_lines(found: set[tuple[str, str]]) -> list[str]:
    """What to add to engine/gdpr/registry.py TABLES for the user columns it does not name."""
    missing = sorted(found - covered_columns() - set(NOT_USER_COLUMNS))
    by_table: dict[str, list[str]] = {}
    for table, column in missing:
        by_table.setdefault(table, []).append(column)
    known = {t.name for t in TABLES}
    lines = []
    for table, columns in sorted(by_table.items()):
        refs = ", ".join(f'by("{c}", DELETE)' for c in columns)
        if table in known:
            lines.append(f'in Table("{table}", ...) add: {refs}')
        else:
            lines.append(f'Table("{table}", {refs}),')
    return lines


def failure(lines: list[str]) -> str:
    return (
        "user columns the GDPR export does not cover; add to engine/gdpr/registry.py TABLES (choose each "
        'rule: DELETE, anonymise(column="SQL"), or keep("why")), or to NOT_USER_COLUMNS with a reason:\n  '
        + "\n  ".join(lines)
    )


async def test_every_user_column_is_covered(database_url: str) -> None:
    async with db(database_url) as conn:
        found = await store.user_columns(conn)
    lines = missing_lines(found)
    assert not lines, failure(lines)
    # The introspection sees what it must: foreign keys, and the ledger's ids kept without one.
    assert {("user_followers", "follower_id"), ("ledger_entries", "account_id"),
            ("ledger_transactions", "initiator_id"), ("rooms", "theme_id")} <= found  # fmt: skip


async def test_a_new_user_table_fails_the_check_with_the_line_to_add(database_url: str) -> None:
    async with db(database_url) as conn:
        await conn.execute(
            """CREATE TABLE dm_probe (id bigint PRIMARY KEY, sender_id bigint NOT NULL REFERENCES users (id),
                                      peer_user_id bigint, room_id bigint)"""
        )
        await conn.execute("ALTER TABLE user_blocks ADD COLUMN moderator_id bigint")
        found = await store.user_columns(conn)
    lines = missing_lines(found)
    assert lines == [
        'Table("dm_probe", by("peer_user_id", DELETE), by("room_id", DELETE), by("sender_id", DELETE)),',
        'in Table("user_blocks", ...) add: by("moderator_id", DELETE)',
    ], lines
    assert "engine/gdpr/registry.py" in failure(lines)


async def test_every_registry_table_and_column_exists_and_has_a_rule(database_url: str) -> None:
    async with db(database_url) as conn:
        columns = await store.table_columns(conn)
        names = [t.name for t in TABLES]
        assert len(names) == len(set(names)), "a table listed twice"
        for table in TABLES:
            assert table.name in columns, f"{table.name}: no such table"
            assert table.refs, f"{table.name}: no user column"
            for ref in table.refs:
                assert ref.column in columns[table.name], f"{table.name}.{ref.column}: no such column"
                assert ref.kind_column is None or ref.kind_column in columns[table.name]
                assert isinstance(ref.rule, Delete | Anonymise | Keep), f"{table.name}.{ref.column}: no rule"
                if isinstance(ref.rule, Keep):
                    assert len(ref.rule.reason) > 10, f"{table.name}.{ref.column}: keep needs a reason"
                if isinstance(ref.rule, Anonymise):
                    unknown = set(ref.rule.set) - columns[table.name]
                    assert not unknown, f"{table.name}: anonymises unknown columns {unknown}"
            assert set(table.omit) <= columns[table.name], f"{table.name}: omits unknown columns"
            # Every export and every rule is valid SQL for this schema (run on an empty user).
            async with conn.transaction():
                await store.export_rows(conn, table, 0)
                for ref in table.refs:
                    await store.apply_rule_txn(conn, table, ref, 0)
    # What the purge must anonymise on the account itself.
    users = next(t for t in TABLES if t.name == "users").refs[0].rule
    assert isinstance(users, Anonymise)
    assert {"name", "phone", "email", "avatar_image", "bio", "social_links"} <= set(users.set)
