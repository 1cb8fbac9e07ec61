"""Migrations: one history for both databases, matching the tables the code uses."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection

from mamori.store import migrate
from mamori.store.engine import create_engine
from mamori.store.tables import metadata


def _diff(conn: Connection) -> list[object]:
    ctx = MigrationContext.configure(conn, opts={"compare_type": False})
    return list(compare_metadata(ctx, metadata))


async def check_no_drift(url: str) -> None:
    engine = create_engine(url)
    async with engine.connect() as conn:
        diff = await conn.run_sync(_diff)
    await engine.dispose()
    assert diff == [], diff


async def test_migrated_schema_matches_tables(database_url: str) -> None:
    await check_no_drift(database_url)


def test_downgrade_and_upgrade_again(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    migrate.upgrade(url)
    migrate.downgrade(url, "base")
    migrate.upgrade(url)


async def test_sqlite_pragmas(tmp_path: Path) -> None:
    from sqlalchemy import text

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}")
    async with engine.connect() as conn:
        assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
    await engine.dispose()


@pytest.mark.parametrize("bad", ["mysql://x", "sqlite:///plain-driver.db"])
def test_check_rejects_unsupported_database_urls(bad: str) -> None:
    from mamori.checks import check_settings
    from mamori.settings import Settings

    problems = check_settings(Settings(database_url=bad, secret_key="k" * 40))
    assert [p.code for p in problems] == ["database_url"]
