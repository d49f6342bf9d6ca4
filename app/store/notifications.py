"""Notifications for the owner."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Notification


async def add_notification(
    session: AsyncSession,
    *,
    local_actor_id: int,
    kind: str,
    actor_uri: str,
    now: datetime,
    object_uri: str | None = None,
    activity_id: str | None = None,
) -> Notification:
    row = Notification(
        local_actor_id=local_actor_id,
        kind=kind,
        actor_uri=actor_uri,
        object_uri=object_uri,
        activity_id=activity_id,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def list_notifications(
    session: AsyncSession, local_actor_id: int, limit: int = 40
) -> Sequence[Notification]:
    stmt = (
        select(Notification)
        .where(Notification.local_actor_id == local_actor_id)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(limit)
    )
    return (await session.scalars(stmt)).all()
