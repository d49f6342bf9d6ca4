"""Alembic migrations produce exactly the schema the models declare, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.db import models, models_ai  # noqa: F401 - registers the tables
from app.db.base import Base
from app.db.migrate import upgrade_to_head_async
from app.db.session import create_engine


async def test_upgrade_head_matches_models(database_url: str) -> None:
    await upgrade_to_head_async(database_url)
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}), Base.metadata
                )
            )
    finally:
        await engine.dispose()
    assert diff == []


async def test_upgrade_is_idempotent(database_url: str) -> None:
    await upgrade_to_head_async(database_url)
    await upgrade_to_head_async(database_url)
