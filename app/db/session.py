"""Engine and session factory. SQLite gets WAL, foreign keys and a busy timeout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession

IMMEDIATE = "sqlite_immediate"


def create_engine(database_url: str) -> AsyncEngine:
    """Return an async engine for ``database_url``; SQLite files get their directory created."""
    if database_url.startswith("sqlite"):
        path = database_url.split(":///", 1)[1] if ":///" in database_url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(database_url, connect_args={"timeout": 30})
        _configure_sqlite(engine)
        return engine
    return create_async_engine(database_url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def _configure_sqlite(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over transaction control so claims can BEGIN IMMEDIATE (pysqlite's own
        # implicit BEGIN is deferred, which lets two processes claim the same row).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get(IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def create_sessionmaker(
    engine: AsyncEngine, *, immediate: bool = False
) -> async_sessionmaker[AsyncSession]:
    """Sessions for reads, or (``immediate``) for write transactions.

    On SQLite a write transaction must take the write lock when it begins: a deferred one that
    read first fails at once with "database is locked" when another connection wrote meanwhile
    (WAL snapshot conflict), without waiting for the busy timeout.
    """
    bind = engine.execution_options(**{IMMEDIATE: True}) if immediate else engine
    return async_sessionmaker(bind, expire_on_commit=False)
