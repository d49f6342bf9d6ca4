"""Posts, their hashtags and media, and the interactions others made with them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Interaction, Media, Post, PostHashtag

PUBLIC_VISIBILITIES = ("public", "unlisted")


async def get_post(session: AsyncSession, uri: str) -> Post | None:
    return await session.scalar(select(Post).where(Post.uri == uri))


async def get_post_by_uri_or_url(session: AsyncSession, ref: str) -> Post | None:
    return await session.scalar(select(Post).where(or_(Post.uri == ref, Post.url == ref)))


async def set_hashtags(session: AsyncSession, post_id: int, names: Sequence[str]) -> None:
    await session.execute(delete(PostHashtag).where(PostHashtag.post_id == post_id))
    for name in dict.fromkeys(n.lower() for n in names):
        session.add(PostHashtag(post_id=post_id, name=name))
    await session.flush()


async def media_of(session: AsyncSession, post_id: int) -> Sequence[Media]:
    stmt = select(Media).where(Media.post_id == post_id).order_by(Media.position, Media.id)
    return (await session.scalars(stmt)).all()


async def local_posts_page(
    session: AsyncSession,
    local_actor_id: int,
    *,
    before_id: int | None,
    limit: int,
    visibilities: Sequence[str] = PUBLIC_VISIBILITIES,
) -> Sequence[Post]:
    """Newest-first page of a local actor's live posts, keyset-paged by id."""
    stmt = select(Post).where(
        Post.local_actor_id == local_actor_id,
        Post.deleted_at.is_(None),
        Post.visibility.in_(visibilities),
    )
    if before_id is not None:
        stmt = stmt.where(Post.id < before_id)
    return (await session.scalars(stmt.order_by(Post.id.desc()).limit(limit))).all()


async def count_local_posts(
    session: AsyncSession,
    local_actor_id: int,
    visibilities: Sequence[str] = PUBLIC_VISIBILITIES,
) -> int:
    stmt = (
        select(func.count())
        .select_from(Post)
        .where(
            Post.local_actor_id == local_actor_id,
            Post.deleted_at.is_(None),
            Post.visibility.in_(visibilities),
        )
    )
    return int(await session.scalar(stmt) or 0)


async def pinned_posts(session: AsyncSession, local_actor_id: int) -> Sequence[Post]:
    stmt = (
        select(Post)
        .where(
            Post.local_actor_id == local_actor_id,
            Post.pinned_at.is_not(None),
            Post.deleted_at.is_(None),
        )
        .order_by(Post.pinned_at.desc())
    )
    return (await session.scalars(stmt)).all()


async def replies_to(session: AsyncSession, uri: str, limit: int = 100) -> Sequence[Post]:
    stmt = (
        select(Post)
        .where(
            Post.in_reply_to == uri,
            Post.deleted_at.is_(None),
            Post.visibility.in_(PUBLIC_VISIBILITIES),
        )
        .order_by(Post.published_at)
        .limit(limit)
    )
    return (await session.scalars(stmt)).all()


async def tagged_posts(session: AsyncSession, name: str, limit: int = 40) -> Sequence[Post]:
    stmt = (
        select(Post)
        .join(PostHashtag, PostHashtag.post_id == Post.id)
        .where(
            PostHashtag.name == name.lower(),
            Post.deleted_at.is_(None),
            Post.visibility == "public",
            Post.local_actor_id.is_not(None),
        )
        .order_by(Post.id.desc())
        .limit(limit)
    )
    return (await session.scalars(stmt)).all()


async def interaction_actors(session: AsyncSession, object_uri: str) -> Sequence[str]:
    """Actors who liked, boosted, reacted to or quoted ``object_uri``."""
    stmt = select(Interaction.actor_uri).where(Interaction.object_uri == object_uri).distinct()
    return (await session.scalars(stmt)).all()


async def interaction_counts(session: AsyncSession, object_uri: str) -> dict[str, int]:
    stmt = (
        select(Interaction.kind, func.count())
        .where(Interaction.object_uri == object_uri)
        .group_by(Interaction.kind)
    )
    return {kind: int(n) for kind, n in (await session.execute(stmt)).all()}


async def last_local_post_at(session: AsyncSession, local_actor_id: int) -> datetime | None:
    return await session.scalar(
        select(func.max(Post.published_at)).where(Post.local_actor_id == local_actor_id)
    )
