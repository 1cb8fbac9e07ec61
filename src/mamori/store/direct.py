"""Statements sent to the database driver as written, for the few that every login runs.

Through SQLAlchemy's execution layer a statement costs about 120 us of CPU on the machines we
measure on (execution context, result metadata, type processing, a greenlet switch each way),
ten times what SQLite takes to run it; a login runs about fourteen, and that was a third of what
the service spent on a login besides the password hash (docs/benchmarks.md). The statements on
that path are written here once as SQL that both databases accept (SQLite >= 3.35 and
PostgreSQL: `INSERT ... ON CONFLICT ... DO UPDATE ... RETURNING`), with `:name` parameters, and
run in the transaction's own connection, so they commit or roll back with everything else in it:

- SQLite: straight to `sqlite3` through `store/sqlite_driver.py` (the statement runs on the event
  loop or, when it must wait for another process's writer, in a worker thread, as every SQLite
  statement does); rows come back as tuples.
- PostgreSQL: `exec_driver_sql` with the parameters renumbered `$1, $2, ...` once per statement;
  the network round trip costs more than SQLAlchemy there, so nothing is gained by going lower.

What SQLAlchemy's types did, the callers do with `Direct.time` (a timezone-aware datetime as
each database stores it: naive UTC, as text on SQLite in SQLAlchemy's own format so that both
paths write and compare the same strings) and `utc` (back to aware UTC). Booleans come back as
0/1 from SQLite: wrap them in `bool()`. The statements' results are checked against the
SQLAlchemy-built ones in tests/test_direct.py on both databases.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from mamori.store.sqlite_driver import Connection as SQLiteConnection

__all__ = ["Direct", "columns", "in_list", "insert", "select_all", "utc", "utc_required"]

# a quoted literal or name (left as it is), or a `:name` parameter (not a `::type` cast)
_PARAM: Final = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|(?<![:\w]):(\w+)")


def columns(table: Table, *, prefix: str = "") -> str:
    """The table's columns, in schema order, for a SELECT or RETURNING list."""
    return ", ".join(f'{prefix}"{c.name}"' for c in table.columns)


# The builders below put only names from the schema (tables.py) into SQL; every value is a
# bound parameter.


def select_all(table: Table, where: str) -> str:
    """SELECT every column (schema order) of `table` WHERE `where`."""
    return f"SELECT {columns(table)} FROM {table.name} WHERE {where}"  # noqa: S608


def insert(table: Table, names: Sequence[str], *, then: str = "", returning: str = "") -> str:
    """INSERT INTO `table` the `:name` parameter of each of `names`; `then` (ON CONFLICT ...)
    and RETURNING `returning` follow when given."""
    names_sql = ", ".join(f'"{name}"' for name in names)
    params = ", ".join(":" + name for name in names)
    sql = f"INSERT INTO {table.name} ({names_sql}) VALUES ({params})"  # noqa: S608
    if then:
        sql += f" {then}"
    if returning:
        sql += f" RETURNING {returning}"
    return sql


def in_list(name: str, count: int) -> str:
    """`:name0, :name1, ...` for an IN list of `count` values (see `Direct.expand`)."""
    return ", ".join(f":{name}{i}" for i in range(count))


@lru_cache(maxsize=512)
def _numbered(sql: str) -> tuple[str, tuple[str, ...]]:
    """`:name` parameters as PostgreSQL's `$n`, and the names in their order."""
    order: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:  # a quoted literal or name
            return match.group(0)
        if name not in order:
            order.append(name)
        return f"${order.index(name) + 1}"

    return _PARAM.sub(number, sql), tuple(order)


@lru_cache(maxsize=64)  # a login stores the same `now` several times
def _stored_time(value: datetime, as_text: bool) -> Any:
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the database")
    naive = value.astimezone(UTC).replace(tzinfo=None)
    # "YYYY-MM-DD HH:MM:SS.ffffff": SQLAlchemy's SQLite DATETIME format
    return naive.isoformat(" ", "microseconds") if as_text else naive


def utc(value: Any) -> datetime | None:
    """A stored time (text on SQLite, a naive datetime on PostgreSQL) as aware UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC)


def utc_required(value: Any) -> datetime:
    """`utc` of a NOT NULL column."""
    result = utc(value)
    assert result is not None
    return result


class Direct:
    """The driver of one open transaction's connection (see the module docstring)."""

    __slots__ = ("_conn", "_sqlite", "dialect")

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self.dialect = conn.dialect.name
        self._sqlite: SQLiteConnection | None = None
        if self.dialect == "sqlite":
            # the connection of the transaction that is already open on `conn`
            driver = conn.sync_connection.connection.driver_connection  # type: ignore[union-attr]
            assert isinstance(driver, SQLiteConnection)
            self._sqlite = driver

    def time(self, value: datetime | None) -> Any:
        """A timezone-aware datetime as a parameter (naive UTC; text on SQLite)."""
        if value is None:
            return None
        return _stored_time(value, self._sqlite is not None)

    @staticmethod
    def expand(params: dict[str, Any], name: str, values: Sequence[Any]) -> str:
        """Bind `values` as `name0, name1, ...` in `params`; returns the IN list's SQL."""
        for i, value in enumerate(values):
            params[f"{name}{i}"] = value
        return in_list(name, len(values))

    async def rows(self, sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run one statement; its rows (none for a statement without a result)."""
        if self._sqlite is not None:
            cursor = await self._sqlite.cursor().execute(sql, params)
            return await cursor.fetchall()
        numbered, names = _numbered(sql)
        result = await self._conn.exec_driver_sql(numbered, tuple(params[n] for n in names))
        return [tuple(row) for row in result.fetchall()] if result.returns_rows else []

    async def row(self, sql: str, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        rows = await self.rows(sql, params)
        return rows[0] if rows else None

    async def run(self, sql: str, params: Mapping[str, Any]) -> int:
        """Run one statement without a result; the number of rows it changed."""
        if self._sqlite is not None:
            cursor = await self._sqlite.cursor().execute(sql, params)
            return int(cursor.rowcount)
        numbered, names = _numbered(sql)
        result = await self._conn.exec_driver_sql(numbered, tuple(params[n] for n in names))
        return int(result.rowcount)
