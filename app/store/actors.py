"""Local and remote actors, and the cache of remote keys."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import LocalActor, RemoteActor, RemoteKey
from federation.parse import Actor, origin_of


async def get_local_actor(session: AsyncSession, username: str) -> LocalActor | None:
    return await session.scalar(select(LocalActor).where(LocalActor.username == username))


async def ensure_local_actor(session: AsyncSession, username: str, now: datetime) -> LocalActor:
    """Return the local actor named ``username``, creating it when absent."""
    actor = await get_local_actor(session, username)
    if actor is None:
        actor = LocalActor(username=username, created_at=now)
        session.add(actor)
        await session.flush()
    return actor


async def get_remote_actor(session: AsyncSession, uri: str) -> RemoteActor | None:
    return await session.scalar(select(RemoteActor).where(RemoteActor.uri == uri))


async def upsert_remote_actor(session: AsyncSession, actor: Actor, now: datetime) -> RemoteActor:
    """Insert or refresh the cached copy of ``actor`` and return the row."""
    row = await get_remote_actor(session, actor.id)
    if row is None:
        row = RemoteActor(uri=actor.id)
        session.add(row)
    row.type = actor.type
    row.username = actor.preferred_username
    row.domain = origin_of(actor.id).split("://", 1)[1]  # host[:port], as in handles
    row.name = actor.name
    row.inbox = actor.inbox
    row.shared_inbox = actor.shared_inbox
    row.url = actor.url
    row.document = json.dumps(actor.raw, separators=(",", ":"))
    row.fetched_at = now
    row.gone_at = None
    await session.flush()
    return row


async def get_remote_key(session: AsyncSession, key_id: str) -> RemoteKey | None:
    return await session.get(RemoteKey, key_id)


async def put_remote_keys(
    session: AsyncSession, keys: list[tuple[str, str, str]], now: datetime
) -> None:
    """Store ``(key_id, owner_uri, public_key)`` triples, replacing older copies."""
    for key_id, owner, public_key in keys:
        row = await session.get(RemoteKey, key_id)
        if row is None:
            session.add(
                RemoteKey(key_id=key_id, owner_uri=owner, public_key=public_key, fetched_at=now)
            )
        else:
            row.owner_uri, row.public_key, row.fetched_at = owner, public_key, now
    await session.flush()
