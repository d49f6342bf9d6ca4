"""The durable incoming-activity queue."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import InboxItem


async def insert_inbox_item(
    session: AsyncSession,
    *,
    activity_id: str,
    activity_type: str,
    actor_uri: str,
    signer_key_id: str,
    payload: str,
    now: datetime,
) -> bool:
    """Store a verified activity once; return False (and store nothing) for a duplicate id."""
    if await session.scalar(select(InboxItem.id).where(InboxItem.activity_id == activity_id)):
        return False
    item = InboxItem(
        activity_id=activity_id,
        activity_type=activity_type,
        actor_uri=actor_uri,
        signer_key_id=signer_key_id,
        payload=payload,
        state="pending",
        attempts=0,
        next_attempt_at=now,
        received_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(item)
    except IntegrityError:
        return False  # the same activity arrived concurrently (shared and personal inbox)
    return True


async def count_by_state(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(select(InboxItem.state, func.count()).group_by(InboxItem.state))
    return {state: int(count) for state, count in rows.all()}
