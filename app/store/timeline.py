"""The owner's home timeline: posts and boosts by the accounts the owner follows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Post, TimelineEntry


async def add_entry(
    session: AsyncSession,
    *,
    post_uri: str,
    boosted_by: str | None,
    activity_id: str | None,
    now: datetime,
) -> bool:
    """Put a post (or a boost of it by ``boosted_by``) on the timeline once; True if added.

    Checked before inserting: the unique (post_uri, boosted_by) constraint does not apply
    when ``boosted_by`` is NULL (NULLs are distinct on SQLite and PostgreSQL).
    """
    stmt = select(TimelineEntry.id).where(TimelineEntry.post_uri == post_uri)
    stmt = stmt.where(
        TimelineEntry.boosted_by.is_(None)
        if boosted_by is None
        else TimelineEntry.boosted_by == boosted_by
    )
    if await session.scalar(stmt) is not None:
        return False
    session.add(
        TimelineEntry(
            post_uri=post_uri, boosted_by=boosted_by, activity_id=activity_id, created_at=now
        )
    )
    await session.flush()
    return True


async def remove_boost(
    session: AsyncSession, *, booster: str, activity_id: str, post_uri: str | None = None
) -> int:
    """Remove ``booster``'s boost given by its Announce id (or, when given, of ``post_uri``);
    return how many entries went. Entries of other boosters are never touched."""
    match = TimelineEntry.activity_id == activity_id
    if post_uri is not None:
        match = match | (TimelineEntry.post_uri == post_uri)
    result = await session.execute(
        delete(TimelineEntry).where(TimelineEntry.boosted_by == booster, match)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def remove_post(session: AsyncSession, post_uri: str) -> None:
    """Remove every entry of ``post_uri`` (the post was deleted)."""
    await session.execute(delete(TimelineEntry).where(TimelineEntry.post_uri == post_uri))


async def remove_actor(session: AsyncSession, actor_uri: str) -> None:
    """Remove ``actor_uri``'s boosts and posts (the account was deleted)."""
    authored = select(Post.uri).where(Post.author_uri == actor_uri)
    await session.execute(
        delete(TimelineEntry).where(
            (TimelineEntry.boosted_by == actor_uri) | TimelineEntry.post_uri.in_(authored)
        )
    )


async def home_page(
    session: AsyncSession, *, before_id: int | None = None, limit: int = 40
) -> Sequence[tuple[TimelineEntry, Post]]:
    """Newest-first page of live timeline entries with their posts, keyset-paged by id."""
    stmt = (
        select(TimelineEntry, Post)
        .join(Post, Post.uri == TimelineEntry.post_uri)
        .where(Post.deleted_at.is_(None))
    )
    if before_id is not None:
        stmt = stmt.where(TimelineEntry.id < before_id)
    stmt = stmt.order_by(TimelineEntry.id.desc()).limit(limit)
    return [(entry, post) for entry, post in (await session.execute(stmt)).all()]
