"""A connection's `sqlite_utils.Database`, made only when something needs more than a SELECT.

Importing sqlite_utils costs about 0.2 s (it loads numpy and dateutil): most of `digestbot
ask` and a cached `digest`, which only read. `LazyDatabase` runs plain SELECTs itself, on
the connection, exactly as sqlite_utils would (a SELECT never opens a transaction, so its
auto-commit and savepoint guards have nothing to do), and hands every other call (writes,
tables, upserts, PRAGMAs, statements it does not recognise) to the real `Database`, built
on first need. Callers see the `sqlite_utils.Database` interface either way.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlite_utils

Params = Sequence[Any] | dict[str, Any] | None


def _plain_select(sql: str) -> bool:
    """A statement that starts with SELECT (no comment or CTE before it: those, and a
    write with RETURNING, go to sqlite_utils)."""
    head = sql.lstrip()[:7]
    return head[:6].upper() == "SELECT" and (len(head) == 6 or not head[6].isalnum())


class LazyDatabase:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._full: sqlite_utils.Database | None = None
        # What sqlite_utils.Database(conn) does first: delete triggers fire on REPLACE.
        conn.execute("PRAGMA recursive_triggers=on;")

    @property
    def full(self) -> sqlite_utils.Database:
        """The real sqlite_utils Database on this connection."""
        if self._full is None:
            import sqlite_utils

            self._full = sqlite_utils.Database(self.conn)
        return self._full

    def execute(self, sql: str, parameters: Params = None) -> sqlite3.Cursor:
        if not _plain_select(sql):
            return self.full.execute(sql, parameters)
        if parameters is not None:
            return self.conn.execute(sql, parameters)
        return self.conn.execute(sql)

    def query(self, sql: str, params: Params = None) -> Iterator[dict[str, Any]]:
        if not _plain_select(sql):
            return self.full.query(sql, params)
        cursor = self.conn.execute(sql, params) if params is not None else self.conn.execute(sql)
        keys = [column[0] for column in cursor.description]
        if len(set(keys)) != len(keys):
            # sqlite_utils renames repeated column names; let it, for the same dicts.
            return self.full.query(sql, params)
        return (dict(zip(keys, row, strict=True)) for row in cursor)

    def close(self) -> None:
        if self._full is not None:
            self._full.close()
        else:
            self.conn.close()

    def __getitem__(self, table: str) -> Any:
        return self.full[table]

    def __getattr__(self, name: str) -> Any:
        # Only reached for what this class lacks: tables, upserts, enable_wal and the rest.
        return getattr(self.full, name)
