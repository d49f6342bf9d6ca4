"""What remote actors do to themselves or to the owner: ``Update`` and ``Delete`` of the
actor, ``Block`` (and its ``Undo``) and ``Move``.

Rules (Mastodon's update.rb, delete.rb, block.rb, move.rb, interop.md 4.13-4.16):

- An actor may update or delete only itself (``object`` == ``actor``).
- A Block of the owner marks the blocker (``blocked_us_at``: nothing is delivered to it any
  more) and ends follows both ways, without notifying; its Undo clears the mark.
- A Move is recorded only when the target lists the old account in ``alsoKnownAs`` (fetched
  afresh); when the owner follows the old account they are notified, and when the owner
  enabled it (``follow_moves``) the new account is followed and the old one unfollowed.
"""

from __future__ import annotations

import logging

from sqlalchemy import delete, select, update

from app.db.models import Follower, Following, Interaction, Post, RemoteActor, RemoteKey
from app.errors import UserError
from app.handlers.base import HandlerContext, Ignored
from app.services import following as following_service
from app.services.remote import actor_document_json, resolve_actor, store_actor
from app.store import follows as follow_store
from app.store import timeline
from app.store.actors import get_remote_actor
from app.store.notifications import add_notification
from federation.errors import FetchStatusError
from federation.parse import Activity, as_list, id_of, parse_actor

log = logging.getLogger("myna.inbox")


async def update_actor(activity: Activity, ctx: HandlerContext) -> None:
    """Refresh the cached actor from the embedded document of its own ``Update``."""
    if activity.object_id != activity.actor:
        raise Ignored("Update of another actor")
    if activity.object is None:
        # By reference: ask the origin for the current document.
        await resolve_actor(ctx.rt, activity.actor, refresh=True)
    else:
        actor = parse_actor(activity.object)
        await store_actor(ctx.rt, actor)
    log.info("actor.updated uri=%s", activity.actor)


async def delete_actor(activity: Activity, ctx: HandlerContext) -> None:
    """The actor deleted itself: mark it gone, end follows both ways, tombstone its posts,
    drop its interactions and cached keys."""
    rt, actor = ctx.rt, activity.actor
    now = rt.clock()
    async with rt.writes.begin() as session:
        row = await get_remote_actor(session, actor)
        if row is None:
            raise Ignored("Delete of an actor we do not know")
        row.gone_at = now
        await session.execute(delete(Follower).where(Follower.remote_actor_id == row.id))
        await session.execute(delete(Following).where(Following.remote_actor_id == row.id))
        await timeline.remove_actor(session, actor)
        await session.execute(
            update(Post)
            .where(
                Post.author_uri == actor, Post.local_actor_id.is_(None), Post.deleted_at.is_(None)
            )
            .values(deleted_at=now, content="", summary=None, raw=None)
        )
        await session.execute(delete(Interaction).where(Interaction.actor_uri == actor))
        await session.execute(delete(RemoteKey).where(RemoteKey.owner_uri == actor))
    log.info("actor.deleted uri=%s", actor)


async def handle_block(activity: Activity, ctx: HandlerContext) -> None:
    """The actor blocked the owner: stop delivering to it, end follows both ways."""
    if activity.object_id != ctx.actor_url:
        raise Ignored("Block of an actor that is not hosted here")
    remote = await resolve_actor(ctx.rt, activity.actor)
    now = ctx.rt.clock()
    async with ctx.rt.writes.begin() as session:
        row = await session.get(RemoteActor, remote.id)
        if row is None:
            raise Ignored("the blocking actor is not stored")
        row.blocked_us_at = row.blocked_us_at or now
        await follow_store.remove_follower(session, ctx.owner.id, row.id)
        await session.execute(
            delete(Following).where(
                Following.local_actor_id == ctx.owner.id, Following.remote_actor_id == row.id
            )
        )
    log.info("actor.blocked_us uri=%s", activity.actor)


async def undo_block(activity: Activity, ctx: HandlerContext) -> None:
    """The actor lifted its block of the owner (follows are not restored)."""
    inner = activity.object
    if inner is not None and id_of(inner.get("object")) not in (None, ctx.actor_url):
        raise Ignored("Undo of a Block of another actor")
    async with ctx.rt.writes.begin() as session:
        row = await get_remote_actor(session, activity.actor)
        if row is None or row.blocked_us_at is None:
            raise Ignored("Undo of a Block we do not know of")
        row.blocked_us_at = None
    log.info("actor.unblocked_us uri=%s", activity.actor)


async def handle_move(activity: Activity, ctx: HandlerContext) -> None:
    """Record that the actor moved to ``target`` (which must list it in ``alsoKnownAs``)."""
    rt, me, old = ctx.rt, ctx.owner, activity.actor
    if activity.object_id != old:
        raise Ignored("Move of another actor")
    target = id_of(activity.raw.get("target"))
    if target is None or target == old or ctx.is_local(target):
        raise Ignored("Move without a usable target")
    try:
        new = await resolve_actor(rt, target, refresh=True)
    except FetchStatusError as exc:
        if 400 <= exc.status < 500:
            raise Ignored(f"the Move target answered {exc.status}") from exc
        raise
    aliases = {id_of(a) for a in as_list(actor_document_json(new).get("alsoKnownAs"))}
    if old not in aliases:
        raise Ignored("the Move target does not list the old account in alsoKnownAs")
    async with rt.writes.begin() as session:
        row = await get_remote_actor(session, old)
        if row is None:
            raise Ignored("Move of an actor we do not know")
        if row.moved_to == new.uri:
            raise Ignored("Move already recorded")
        row.moved_to = new.uri
        follows_old = await session.scalar(
            select(Following.id).where(
                Following.local_actor_id == me.id,
                Following.remote_actor_id == row.id,
                Following.state.in_(("pending", "accepted")),
            )
        )
        if follows_old is not None:
            await add_notification(
                session,
                local_actor_id=me.id,
                kind="move",
                actor_uri=old,
                object_uri=new.uri,
                activity_id=activity.id,
                now=rt.clock(),
            )
    log.info("actor.moved from=%s to=%s", old, new.uri)
    if follows_old is not None and rt.settings.follow_moves:
        try:
            await following_service.follow(rt, new.uri)
            await following_service.unfollow(rt, old)
        except UserError as exc:
            log.warning("actor.move_follow_failed from=%s to=%s error=%s", old, new.uri, exc)
