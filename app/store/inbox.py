"""The durable incoming-activity queue."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import InboxItem


@dataclass(frozen=True)
class NewInboxItem:
    """A verified activity to store."""

    activity_id: str
    activity_type: str
    actor_uri: str
    signer_key_id: str
    payload: str
    now: datetime


async def insert_inbox_items(session: AsyncSession, items: Sequence[NewInboxItem]) -> list[bool]:
    """Store verified activities once each, in one statement; return, per item, whether it was
    newly stored (False for an id already stored, or earlier in ``items``)."""
    first: dict[str, int] = {}
    for index, item in enumerate(items):
        first.setdefault(item.activity_id, index)
    rows = [
        {
            "activity_id": item.activity_id,
            "activity_type": item.activity_type,
            "actor_uri": item.actor_uri,
            "signer_key_id": item.signer_key_id,
            "payload": item.payload,
            "state": "pending",
            "attempts": 0,
            "next_attempt_at": item.now,
            "received_at": item.now,
        }
        for index, item in enumerate(items)
        if first[item.activity_id] == index
    ]
    if not rows:
        return []
    table = InboxItem.__table__
    insert: Any = (
        postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    )
    stmt = (
        insert(table)
        .on_conflict_do_nothing(index_elements=[table.c.activity_id])
        .returning(table.c.activity_id)
    )
    stored = set((await session.execute(stmt, rows)).scalars().all())
    return [
        first[item.activity_id] == index and item.activity_id in stored
        for index, item in enumerate(items)
    ]
