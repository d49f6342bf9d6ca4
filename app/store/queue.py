"""Atomic claiming of durable queue rows, shared by the inbox and delivery queues.

A claim moves rows from ``pending`` (due now) or from an expired ``processing`` lease (a worker
that died) to ``processing`` with a new lease, in one statement: ``BEGIN IMMEDIATE`` on SQLite,
``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several processes can share one queue.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Table, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.session import IMMEDIATE


async def claim_rows(
    engine: AsyncEngine, table: Table, *, now: datetime, lease: timedelta, limit: int
) -> list[int]:
    """Claim up to ``limit`` due rows of ``table``; return their ids (attempts incremented)."""
    sqlite = engine.dialect.name == "sqlite"
    due = or_(
        and_(table.c.state == "pending", table.c.next_attempt_at <= now),
        and_(table.c.state == "processing", table.c.locked_until < now),
    )
    candidates = select(table.c.id).where(due).order_by(table.c.next_attempt_at, table.c.id)
    candidates = candidates.limit(limit)
    if not sqlite:
        candidates = candidates.with_for_update(skip_locked=True)
    stmt = (
        update(table)
        .where(table.c.id.in_(candidates.scalar_subquery()))
        .values(state="processing", locked_until=now + lease, attempts=table.c.attempts + 1)
        .returning(table.c.id)
    )
    async with engine.connect() as conn:
        if sqlite:
            conn = await conn.execution_options(**{IMMEDIATE: True})
        async with conn.begin():
            result = await conn.execute(stmt)
            return sorted(row[0] for row in result)
