"""`LazyDatabase` answers as sqlite_utils' Database does, on a real SQLite file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlite_utils

from storage.lazydb import LazyDatabase


@pytest.fixture
def pair(tmp_path: Path) -> tuple[LazyDatabase, sqlite_utils.Database, sqlite3.Connection]:
    path = tmp_path / "t.db"
    seed = sqlite3.connect(path)
    seed.executescript(
        "CREATE TABLE a (id INTEGER PRIMARY KEY, name TEXT);"
        "INSERT INTO a VALUES (1, 'one'), (2, 'two');"
    )
    seed.close()
    return (
        LazyDatabase(sqlite3.connect(path)),
        sqlite_utils.Database(sqlite3.connect(path)),
        sqlite3.connect(path),
    )


QUERIES = [
    ("SELECT id, name FROM a ORDER BY id", None),
    ("select name FROM a WHERE id = ?", [2]),
    ("SELECT name FROM a WHERE id = :id", {"id": 1}),
    ("SELECT a.id, b.id FROM a JOIN a AS b ON a.id = b.id ORDER BY a.id", None),  # same names
    ("WITH x AS (SELECT id FROM a) SELECT * FROM x ORDER BY id", None),
    ("  SELECT count(*) AS n FROM a", None),
]


@pytest.mark.parametrize(("sql", "params"), QUERIES)
def test_query_returns_what_sqlite_utils_returns(
    pair: tuple[LazyDatabase, sqlite_utils.Database, sqlite3.Connection],
    sql: str,
    params: object,
) -> None:
    lazy, full, _ = pair
    assert list(lazy.query(sql, params)) == list(full.query(sql, params))  # type: ignore[arg-type]
    assert lazy.execute(sql, params).fetchall() == full.execute(sql, params).fetchall()  # type: ignore[arg-type]


def test_a_select_does_not_build_the_full_database(
    pair: tuple[LazyDatabase, sqlite_utils.Database, sqlite3.Connection],
) -> None:
    lazy, _, _ = pair
    assert [r["name"] for r in lazy.query("SELECT name FROM a ORDER BY id")] == ["one", "two"]
    assert lazy.execute("SELECT 1").fetchone() == (1,)
    assert lazy._full is None
    assert lazy.conn.execute("PRAGMA recursive_triggers").fetchone() == (1,)


def test_writes_go_through_sqlite_utils_and_commit(
    pair: tuple[LazyDatabase, sqlite_utils.Database, sqlite3.Connection],
) -> None:
    lazy, _, other = pair
    lazy.execute("INSERT INTO a VALUES (3, 'three')")
    assert lazy._full is not None
    # sqlite_utils commits a write made outside a transaction: another connection sees it.
    assert other.execute("SELECT name FROM a WHERE id = 3").fetchone() == ("three",)
    rows = list(lazy.query("INSERT INTO a VALUES (4, 'four') RETURNING id"))
    assert rows == [{"id": 4}]
    assert lazy["a"].count == 4  # tables come from the real Database


def test_query_rejects_a_statement_without_rows_as_sqlite_utils_does(
    pair: tuple[LazyDatabase, sqlite_utils.Database, sqlite3.Connection],
) -> None:
    lazy, _, _ = pair
    with pytest.raises(ValueError):
        lazy.query("DELETE FROM a")
    assert lazy.execute("SELECT count(*) FROM a").fetchone() == (2,)


def test_close_closes_the_connection(
    pair: tuple[LazyDatabase, sqlite_utils.Database, sqlite3.Connection],
) -> None:
    lazy, _, _ = pair
    lazy.close()
    with pytest.raises(sqlite3.ProgrammingError):
        lazy.conn.execute("SELECT 1")
