"""What every inbox handler shares: its context, the two outcomes besides success, and the
checks most handlers make (is this our post, does the owner follow or block that actor).

Handlers follow one shape: check the actor may do this -> resolve what is needed over the
network, outside any transaction (on SQLite a write transaction must not wait on the network
or on another connection) -> persist in one ``rt.writes.begin()`` -> side effects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Following, LocalActor, Post, RemoteActor
from app.runtime import Runtime
from app.services.audience import blocked_targets
from federation.errors import ParseError
from federation.parse import as_list, origin_of

MAX_URI = 2048  # the width of every URI column


class Ignored(Exception):
    """The activity is valid but has nothing to do here; the item is closed with the reason."""


class Unhandled(Exception):
    """No handler covers this form of the activity yet; it is recorded as ``unhandled``."""


@dataclass(frozen=True)
class HandlerContext:
    rt: Runtime
    owner: LocalActor

    @property
    def actor_url(self) -> str:
        """The owner's actor id."""
        return self.rt.urls.actor(self.owner.username)

    def is_local(self, uri: str) -> bool:
        """True for an id this server minted."""
        return uri.startswith(self.rt.settings.base_url + "/")


def first_type(doc: Any) -> str | None:
    """The first string ``type`` of an embedded object (None for a bare id or no type)."""
    if not isinstance(doc, Mapping):
        return None
    return next((t for t in as_list(doc.get("type")) if isinstance(t, str)), None)


def fits(uri: str | None) -> str | None:
    """``uri`` when it fits a URI column, else None (an over-long optional link is dropped)."""
    return uri if uri is not None and len(uri) <= MAX_URI else None


def _domains_of(uri: str) -> set[str]:
    try:
        authority = origin_of(uri).split("://", 1)[1]
    except ParseError:
        return set()
    return {authority, authority.split(":")[0]}


async def owner_blocks(session: AsyncSession, ctx: HandlerContext, *uris: str) -> bool:
    """True when the owner blocked any of these actors, or the domain of any of them."""
    blocked = await blocked_targets(session, ctx.owner.id)
    if not blocked:
        return False
    return any(uri in blocked or _domains_of(uri) & blocked for uri in uris)


async def owner_follows(session: AsyncSession, ctx: HandlerContext, actor_uri: str) -> bool:
    """True when the owner follows ``actor_uri`` and the follow was accepted."""
    found = await session.scalar(
        select(Following.id)
        .join(RemoteActor, RemoteActor.id == Following.remote_actor_id)
        .where(
            Following.local_actor_id == ctx.owner.id,
            Following.state == "accepted",
            RemoteActor.uri == actor_uri,
        )
    )
    return found is not None


async def our_post(session: AsyncSession, ctx: HandlerContext, uri: str | None) -> Post | None:
    """The owner's live (not deleted) post with id ``uri``, or None."""
    if uri is None or not ctx.is_local(uri):
        return None
    return await session.scalar(
        select(Post).where(
            Post.uri == uri, Post.local_actor_id == ctx.owner.id, Post.deleted_at.is_(None)
        )
    )
