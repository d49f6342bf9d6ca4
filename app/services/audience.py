"""Who receives an activity: follower inboxes (shared inboxes deduplicated) and mentioned actors."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Block, Follower, RemoteActor


def preferred_inbox(actor: RemoteActor) -> str:
    """The shared inbox when the server has one (Mastodon sends everything there), else the
    actor's own inbox."""
    return actor.shared_inbox or actor.inbox


async def blocked_targets(session: AsyncSession, local_actor_id: int) -> set[str]:
    rows = await session.scalars(select(Block.target).where(Block.local_actor_id == local_actor_id))
    return set(rows.all())


def _reachable(actor: RemoteActor, blocked: set[str]) -> bool:
    return (
        actor.gone_at is None
        and actor.blocked_us_at is None
        and actor.uri not in blocked
        and actor.domain not in blocked
        and actor.domain.split(":")[0] not in blocked
    )


async def follower_actors(
    session: AsyncSession, local_actor_id: int, blocked: set[str] | None = None
) -> Sequence[RemoteActor]:
    """Accepted followers that can be delivered to (not blocked, gone, or blocking us)."""
    stmt = (
        select(RemoteActor)
        .join(Follower, Follower.remote_actor_id == RemoteActor.id)
        .where(Follower.local_actor_id == local_actor_id, Follower.state == "accepted")
    )
    if blocked is None:
        blocked = await blocked_targets(session, local_actor_id)
    return [a for a in (await session.scalars(stmt)).all() if _reachable(a, blocked)]


async def actors_by_uri(session: AsyncSession, uris: Iterable[str]) -> Sequence[RemoteActor]:
    wanted = list(dict.fromkeys(uris))
    if not wanted:
        return []
    return (await session.scalars(select(RemoteActor).where(RemoteActor.uri.in_(wanted)))).all()


async def inboxes(
    session: AsyncSession,
    local_actor_id: int,
    *,
    include_followers: bool,
    actor_uris: Iterable[str] = (),
) -> list[str]:
    """Deduplicated inboxes of the followers (when asked) and of the given actors, skipping
    blocked actors and domains, actors that are gone and actors that blocked us."""
    blocked = await blocked_targets(session, local_actor_id)
    targets: list[RemoteActor] = []
    if include_followers:
        targets.extend(await follower_actors(session, local_actor_id, blocked))
    targets.extend(a for a in await actors_by_uri(session, actor_uris) if _reachable(a, blocked))
    return list(dict.fromkeys(preferred_inbox(actor) for actor in targets))
