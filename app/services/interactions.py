"""The owner's likes, boosts and blocks of others."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select

from app.db.models import Block, Follower, Following, OwnInteraction, RemoteActor
from app.errors import UserError
from app.runtime import Runtime
from app.services.audience import inboxes
from app.services.following import owner, resolve_target
from app.services.outbox import new_activity_id, queue_activity
from app.services.remote import resolve_actor
from app.store import posts as post_store
from federation.activities import build_announce, build_block, build_like
from federation.builders import build_undo
from federation.client import fetch_object
from federation.errors import FetchError, ParseError
from federation.note_parse import parse_note
from federation.vocab import PUBLIC

DOMAIN_RE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$", re.I)


async def _target_post(rt: Runtime, ref: str) -> tuple[str, str]:
    """(post id, author id) of a post given by URL, local or remote."""
    async with rt.sessions() as session:
        local = await post_store.get_post_by_uri_or_url(session, ref)
    if local is not None:
        if local.deleted_at is not None:
            raise UserError(f"{ref} was deleted")
        return local.uri, local.author_uri
    try:
        note = parse_note(await fetch_object(rt.http, ref, auth=rt.signed_get_auth()))
    except (FetchError, ParseError) as exc:
        raise UserError(f"cannot fetch {ref}: {exc}") from exc
    return note.id, note.attributed_to


async def _own(rt: Runtime, me_id: int, kind: str, object_uri: str) -> OwnInteraction | None:
    async with rt.sessions() as session:
        return await session.scalar(
            select(OwnInteraction).where(
                OwnInteraction.local_actor_id == me_id,
                OwnInteraction.kind == kind,
                OwnInteraction.object_uri == object_uri,
            )
        )


async def react(rt: Runtime, ref: str, kind: str) -> str:
    """Like (``kind="like"``) or boost (``"announce"``) a post; returns the activity id."""
    me = await owner(rt)
    object_uri, author_uri = await _target_post(rt, ref)
    existing = await _own(rt, me.id, kind, object_uri)
    if existing is not None:
        return existing.activity_uri
    author = (
        None
        if author_uri.startswith(rt.settings.base_url + "/")
        else (await resolve_actor(rt, author_uri))
    )
    actor_url, activity_id, now = rt.urls.actor(me.username), new_activity_id(rt), rt.clock()
    activity: dict[str, Any]
    if kind == "like":
        activity = build_like(activity_id=activity_id, actor=actor_url, object_id=object_uri)
    else:
        activity = build_announce(
            activity_id=activity_id,
            actor=actor_url,
            object_id=object_uri,
            to=[PUBLIC],
            cc=[author_uri, rt.urls.followers(me.username)],
            published=now,
        )
    async with rt.writes.begin() as session:
        session.add(
            OwnInteraction(
                local_actor_id=me.id,
                kind=kind,
                object_uri=object_uri,
                activity_uri=activity_id,
                created_at=now,
            )
        )
        targets = await inboxes(
            session,
            me.id,
            include_followers=kind == "announce",
            actor_uris=[author.uri] if author else [],
        )
        await queue_activity(rt, session, local_actor_id=me.id, activity=activity, inboxes=targets)
    rt.wakeups.delivery.set()
    return activity_id


async def undo_reaction(rt: Runtime, ref: str, kind: str) -> str:
    """Undo a like or boost, embedding the original activity; returns the Undo's id."""
    me = await owner(rt)
    object_uri, author_uri = await _target_post(rt, ref)
    row = await _own(rt, me.id, kind, object_uri)
    if row is None:
        raise UserError(f"you have not {'liked' if kind == 'like' else 'boosted'} {ref}")
    actor_url = rt.urls.actor(me.username)
    original: dict[str, Any] = {
        "id": row.activity_uri,
        "type": "Like" if kind == "like" else "Announce",
        "actor": actor_url,
        "object": object_uri,
    }
    undo = build_undo(undo_id=new_activity_id(rt), actor=actor_url, activity=original)
    async with rt.writes.begin() as session:
        await session.delete(await session.merge(row))
        targets = await inboxes(
            session, me.id, include_followers=kind == "announce", actor_uris=[author_uri]
        )
        await queue_activity(rt, session, local_actor_id=me.id, activity=undo, inboxes=targets)
    rt.wakeups.delivery.set()
    return str(undo["id"])


async def block(rt: Runtime, target: str) -> dict[str, Any]:
    """Block an actor (a ``Block`` is sent, follows both ways end) or a whole domain."""
    me = await owner(rt)
    now: datetime = rt.clock()
    target = target.strip()
    if DOMAIN_RE.match(target) and "@" not in target:
        domain = target.lower()
        async with rt.writes.begin() as session:
            if (
                await session.scalar(
                    select(Block).where(Block.local_actor_id == me.id, Block.target == domain)
                )
                is None
            ):
                session.add(
                    Block(local_actor_id=me.id, target=domain, is_domain=True, created_at=now)
                )
            ids = select(RemoteActor.id).where(
                RemoteActor.domain.in_([domain]) | RemoteActor.domain.like(f"{domain}:%")
            )
            await session.execute(delete(Follower).where(Follower.remote_actor_id.in_(ids)))
            await session.execute(delete(Following).where(Following.remote_actor_id.in_(ids)))
        return {"blocked": domain, "kind": "domain"}
    remote = await resolve_target(rt, target)
    activity = build_block(
        activity_id=new_activity_id(rt), actor=rt.urls.actor(me.username), target=remote.uri
    )
    async with rt.writes.begin() as session:
        if (
            await session.scalar(
                select(Block).where(Block.local_actor_id == me.id, Block.target == remote.uri)
            )
            is None
        ):
            session.add(
                Block(
                    local_actor_id=me.id,
                    target=remote.uri,
                    is_domain=False,
                    activity_uri=str(activity["id"]),
                    created_at=now,
                )
            )
            # The Block goes to the blocked actor directly (it is not addressed to followers).
            await queue_activity(
                rt, session, local_actor_id=me.id, activity=activity, inboxes=[remote.inbox]
            )
        await session.execute(delete(Follower).where(Follower.remote_actor_id == remote.id))
        await session.execute(delete(Following).where(Following.remote_actor_id == remote.id))
    rt.wakeups.delivery.set()
    return {"blocked": remote.uri, "kind": "actor", "activity": activity["id"]}


async def unblock(rt: Runtime, target: str) -> dict[str, Any]:
    me = await owner(rt)
    target = target.strip()
    async with rt.sessions() as session:
        row = await session.scalar(
            select(Block).where(Block.local_actor_id == me.id, Block.target == target.lower())
        )
    if row is None:
        remote = await resolve_target(rt, target)
        async with rt.sessions() as session:
            row = await session.scalar(
                select(Block).where(Block.local_actor_id == me.id, Block.target == remote.uri)
            )
    if row is None:
        raise UserError(f"{target} is not blocked")
    async with rt.writes.begin() as session:
        await session.delete(await session.merge(row))
        if row.activity_uri and not row.is_domain:
            original = {
                "id": row.activity_uri,
                "type": "Block",
                "actor": rt.urls.actor(me.username),
                "object": row.target,
            }
            undo = build_undo(
                undo_id=new_activity_id(rt), actor=rt.urls.actor(me.username), activity=original
            )
            blocked = await session.scalar(select(RemoteActor).where(RemoteActor.uri == row.target))
            if blocked is not None:
                await queue_activity(
                    rt, session, local_actor_id=me.id, activity=undo, inboxes=[blocked.inbox]
                )
    rt.wakeups.delivery.set()
    return {"unblocked": row.target}
