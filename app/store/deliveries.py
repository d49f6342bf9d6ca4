"""Outgoing activities and the durable delivery queue (one row per target inbox)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Delivery, OutgoingActivity, RemoteHost


async def enqueue_activity(
    session: AsyncSession,
    *,
    local_actor_id: int,
    activity: Mapping[str, Any],
    inboxes: Iterable[str],
    now: datetime,
) -> OutgoingActivity:
    """Store ``activity`` as sent by the local actor and queue one delivery per distinct inbox."""
    row = OutgoingActivity(
        uri=str(activity["id"]),
        type=str(activity["type"]),
        local_actor_id=local_actor_id,
        payload=json.dumps(activity, separators=(",", ":")),
        created_at=now,
    )
    session.add(row)
    await session.flush()
    for inbox in dict.fromkeys(inboxes):
        session.add(
            Delivery(
                activity_id=row.id,
                inbox_url=inbox,
                state="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
                updated_at=now,
            )
        )
    await session.flush()
    return row


async def get_outgoing(session: AsyncSession, uri: str) -> OutgoingActivity | None:
    return await session.scalar(select(OutgoingActivity).where(OutgoingActivity.uri == uri))


async def list_deliveries(
    session: AsyncSession,
    *,
    state: str | None = None,
    activity_uri: str | None = None,
    limit: int = 100,
) -> Sequence[tuple[Delivery, OutgoingActivity]]:
    stmt = (
        select(Delivery, OutgoingActivity)
        .join(OutgoingActivity, OutgoingActivity.id == Delivery.activity_id)
        .order_by(Delivery.id.desc())
        .limit(limit)
    )
    if state is not None:
        stmt = stmt.where(Delivery.state == state)
    if activity_uri is not None:
        stmt = stmt.where(OutgoingActivity.uri == activity_uri)
    return [(d, a) for d, a in (await session.execute(stmt)).all()]


async def count_outgoing(session: AsyncSession, activity_type: str) -> int:
    stmt = (
        select(func.count())
        .select_from(OutgoingActivity)
        .where(OutgoingActivity.type == activity_type)
    )
    return int(await session.scalar(stmt) or 0)


async def last_activity_at(session: AsyncSession) -> datetime | None:
    return await session.scalar(select(func.max(OutgoingActivity.created_at)))


async def get_host_scheme(session: AsyncSession, host: str) -> str | None:
    row = await session.get(RemoteHost, host)
    return row.signature_scheme if row else None


async def set_host_scheme(session: AsyncSession, host: str, scheme: str, now: datetime) -> None:
    row = await session.get(RemoteHost, host)
    if row is None:
        session.add(RemoteHost(host=host, signature_scheme=scheme, updated_at=now))
    else:
        row.signature_scheme, row.updated_at = scheme, now
    await session.flush()
