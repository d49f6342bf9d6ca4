"""Fresh databases for tests: a SQLite file per test, or a new PostgreSQL database per test."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from urllib.parse import urlsplit, urlunsplit

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def postgres_admin_url() -> str:
    return os.environ.get("MYNA_TEST_POSTGRES_URL", DEFAULT_POSTGRES)


@cache
def postgres_available() -> bool:
    """True when a PostgreSQL server answers at MYNA_TEST_POSTGRES_URL (checked once)."""
    parts = urlsplit(postgres_admin_url())
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), 1):
            pass
    except OSError:
        return False
    try:
        _run_admin("SELECT 1")
    except Exception:
        return False
    return True


def _run_admin(sql: str, url: str | None = None) -> None:
    import asyncio

    import asyncpg

    async def go() -> None:
        conn = await asyncpg.connect(url or postgres_admin_url(), timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(go())


def _with_database(url: str, name: str, driver: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((driver, parts.netloc, "/" + name, parts.query, ""))


@contextmanager
def fresh_postgres_url(template: str | None = None) -> Iterator[str]:
    """Create a database (empty, or a copy of ``template``), yield its ``postgresql+asyncpg://``
    URL, and drop it afterwards."""
    name = f"myna_test_{uuid.uuid4().hex[:12]}"
    _run_admin(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    try:
        yield _with_database(postgres_admin_url(), name, "postgresql+asyncpg")
    finally:
        _run_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def reset_postgres(url: str, keep: tuple[str, ...]) -> None:
    """Empty every table of the database at ``url`` except those in ``keep``."""
    plain = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    keep_list = ", ".join(f"'{name}'" for name in keep)
    _run_admin(
        "DO $$ DECLARE names text; BEGIN "
        "SELECT string_agg(format('%I', tablename), ', ') INTO names FROM pg_tables "
        f"WHERE schemaname = 'public' AND tablename NOT IN ({keep_list}); "
        "IF names IS NOT NULL THEN EXECUTE 'TRUNCATE ' || names || ' RESTART IDENTITY CASCADE'; "
        "END IF; END $$;",
        plain,
    )
