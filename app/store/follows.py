"""Who follows the local actors, and whom they follow."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Follower, Following, RemoteActor


async def get_follower(
    session: AsyncSession, local_actor_id: int, remote_actor_id: int
) -> Follower | None:
    return await session.scalar(
        select(Follower).where(
            Follower.local_actor_id == local_actor_id, Follower.remote_actor_id == remote_actor_id
        )
    )


async def upsert_follower(
    session: AsyncSession,
    *,
    local_actor_id: int,
    remote_actor_id: int,
    follow_id: str,
    follow_json: str,
    state: str,
    now: datetime,
) -> Follower:
    """Record a Follow; a repeated Follow (new id) refreshes the row, keeping an accepted state."""
    row = await get_follower(session, local_actor_id, remote_actor_id)
    if row is None:
        row = Follower(
            local_actor_id=local_actor_id,
            remote_actor_id=remote_actor_id,
            created_at=now,
            state=state,
        )
        session.add(row)
    elif row.state != "accepted":
        row.state = state
    row.follow_activity_id = follow_id
    row.follow_activity = follow_json
    row.updated_at = now
    await session.flush()
    return row


async def remove_follower(
    session: AsyncSession, local_actor_id: int, remote_actor_id: int, follow_id: str | None = None
) -> bool:
    """Delete the follow (only the one with ``follow_id`` when given); True if a row went."""
    stmt = delete(Follower).where(
        Follower.local_actor_id == local_actor_id, Follower.remote_actor_id == remote_actor_id
    )
    if follow_id is not None:
        stmt = stmt.where(Follower.follow_activity_id == follow_id)
    result = await session.execute(stmt)
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def list_followers(
    session: AsyncSession, local_actor_id: int, state: str | None = "accepted"
) -> Sequence[tuple[Follower, RemoteActor]]:
    stmt = (
        select(Follower, RemoteActor)
        .join(RemoteActor, RemoteActor.id == Follower.remote_actor_id)
        .where(Follower.local_actor_id == local_actor_id)
        .order_by(Follower.created_at.desc(), Follower.id.desc())
    )
    if state is not None:
        stmt = stmt.where(Follower.state == state)
    return [(f, a) for f, a in (await session.execute(stmt)).all()]


async def count_followers(session: AsyncSession, local_actor_id: int) -> int:
    stmt = (
        select(func.count())
        .select_from(Follower)
        .where(Follower.local_actor_id == local_actor_id, Follower.state == "accepted")
    )
    return int(await session.scalar(stmt) or 0)


async def get_following(
    session: AsyncSession, local_actor_id: int, remote_actor_id: int
) -> Following | None:
    return await session.scalar(
        select(Following).where(
            Following.local_actor_id == local_actor_id,
            Following.remote_actor_id == remote_actor_id,
        )
    )


async def get_following_by_activity(session: AsyncSession, follow_id: str) -> Following | None:
    return await session.scalar(select(Following).where(Following.follow_activity_id == follow_id))


async def list_following(
    session: AsyncSession, local_actor_id: int, state: str | None = None
) -> Sequence[tuple[Following, RemoteActor]]:
    stmt = (
        select(Following, RemoteActor)
        .join(RemoteActor, RemoteActor.id == Following.remote_actor_id)
        .where(Following.local_actor_id == local_actor_id)
        .order_by(Following.created_at.desc(), Following.id.desc())
    )
    if state is not None:
        stmt = stmt.where(Following.state == state)
    return [(f, a) for f, a in (await session.execute(stmt)).all()]


async def count_following(session: AsyncSession, local_actor_id: int) -> int:
    stmt = (
        select(func.count())
        .select_from(Following)
        .where(Following.local_actor_id == local_actor_id, Following.state == "accepted")
    )
    return int(await session.scalar(stmt) or 0)
