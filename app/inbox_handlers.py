"""Handlers of incoming activities, registered on an ``InboxRouter``.

Each handler: check the actor may do this -> resolve what it needs over the network (outside
any transaction) -> persist in one transaction -> queue side effects (Accept, notifications).
Follow, Undo, Accept and Reject live here; notes, reactions and moderation in
``app/handlers/``. Types without a handler are recorded as ``unhandled`` for later handlers.
"""

from __future__ import annotations

import json
import logging

from app.handlers.base import HandlerContext, Ignored, Unhandled, first_type
from app.handlers.moderation import handle_block, handle_move, undo_block
from app.handlers.notes import handle_create, handle_delete, handle_update
from app.handlers.reactions import handle_announce, handle_like, undo_reaction
from app.services.outbox import new_activity_id, queue_activity
from app.services.remote import resolve_actor
from app.store import follows as follow_store
from app.store.actors import get_remote_actor
from app.store.notifications import add_notification
from federation.builders import build_accept
from federation.inbox import InboxRouter
from federation.parse import Activity, id_of

__all__ = ["HandlerContext", "Ignored", "Unhandled", "build_router"]

log = logging.getLogger("myna.inbox")


def build_router() -> InboxRouter[HandlerContext]:
    router: InboxRouter[HandlerContext] = InboxRouter()
    router.on("Follow")(handle_follow)
    router.on("Undo")(handle_undo)
    router.on("Accept")(handle_accept)
    router.on("Reject")(handle_reject)
    router.on("Create")(handle_create)
    router.on("Update")(handle_update)
    router.on("Delete")(handle_delete)
    router.on("Like")(handle_like)
    # Interop: Pleroma/Akkoma emoji reactions; Misskey sends them as Like (reactions.py).
    router.on("EmojiReact")(handle_like)
    router.on("Announce")(handle_announce)
    router.on("Block")(handle_block)
    router.on("Move")(handle_move)
    return router


async def handle_follow(activity: Activity, ctx: HandlerContext) -> None:
    """Record the follower; auto-accept (an Accept embedding the Follow) unless locked."""
    rt, me = ctx.rt, ctx.owner
    if activity.object_id != rt.urls.actor(me.username):
        raise Ignored("Follow of an actor that is not hosted here")
    remote = await resolve_actor(rt, activity.actor)
    manual = rt.settings.manually_approves_followers
    now = rt.clock()
    async with rt.writes.begin() as session:
        existing = await follow_store.get_follower(session, me.id, remote.id)
        previous = existing.state if existing is not None else None
        already = previous == "accepted"
        state = "accepted" if (already or not manual) else "pending"
        await follow_store.upsert_follower(
            session,
            local_actor_id=me.id,
            remote_actor_id=remote.id,
            follow_id=activity.id,
            follow_json=json.dumps(activity.raw, separators=(",", ":")),
            state=state,
            now=now,
        )
        if state == "accepted":
            # Interop: Mastodon keeps a follow pending until an Accept arrives, even for
            # unlocked accounts, and re-sends Follow with a new id on refollow (interop.md 4.3).
            accept = build_accept(
                accept_id=new_activity_id(rt), actor=rt.urls.actor(me.username), follow=activity.raw
            )
            await queue_activity(
                rt, session, local_actor_id=me.id, activity=accept, inboxes=[remote.inbox]
            )
        if state != previous:  # a repeated request (new id) is not news to the owner
            await add_notification(
                session,
                local_actor_id=me.id,
                kind="follow" if state == "accepted" else "follow_request",
                actor_uri=remote.uri,
                activity_id=activity.id,
                now=now,
            )
    rt.wakeups.delivery.set()
    log.info("follow.received actor=%s state=%s", remote.uri, state)


async def handle_undo(activity: Activity, ctx: HandlerContext) -> None:
    """Undo of a Follow, Like, reaction, Announce or Block, embedded or by id; only the
    undone activity's own actor may undo it (others' activities are never matched)."""
    inner = activity.object
    if inner is not None and id_of(inner.get("actor")) not in (None, activity.actor):
        raise Ignored("Undo of another actor's activity")
    undone_id = activity.object_id
    if undone_id is None:
        raise Ignored("Undo without an object")
    inner_type = first_type(inner)
    if inner_type in ("Like", "EmojiReact", "Announce"):
        await undo_reaction(activity, ctx, undone_id)
    elif inner_type == "Block":
        await undo_block(activity, ctx)
    elif inner_type == "Follow" or (inner_type is None and await _is_follow_of(ctx, activity)):
        await _undo_follow(activity, ctx)
    elif inner_type is None:
        await undo_reaction(activity, ctx, undone_id)
    else:
        raise Unhandled(f"Undo of {inner_type}")


async def _is_follow_of(ctx: HandlerContext, activity: Activity) -> bool:
    """True when the Undo names, by id, the actor's current Follow of the owner."""
    async with ctx.rt.sessions() as session:
        remote = await get_remote_actor(session, activity.actor)
        if remote is None:
            return False
        row = await follow_store.get_follower(session, ctx.owner.id, remote.id)
    return row is not None and activity.object_id == row.follow_activity_id


async def _undo_follow(activity: Activity, ctx: HandlerContext) -> None:
    """``Undo{Follow}`` removes the follower; the Undo's actor must be the Follow's actor."""
    rt, me = ctx.rt, ctx.owner
    inner = activity.object
    if inner is not None and id_of(inner.get("object")) not in (None, ctx.actor_url):
        raise Ignored("Undo of a Follow of another actor")
    async with rt.writes.begin() as session:
        remote = await get_remote_actor(session, activity.actor)
        if remote is None:
            raise Ignored("Undo from an actor we do not know")
        removed = await follow_store.remove_follower(session, me.id, remote.id)
        if removed:
            await add_notification(
                session,
                local_actor_id=me.id,
                kind="unfollow",
                actor_uri=remote.uri,
                activity_id=activity.id,
                now=rt.clock(),
            )
    log.info("follow.undone actor=%s removed=%s", activity.actor, removed)


async def _answer(activity: Activity, ctx: HandlerContext, state: str) -> None:
    rt, me = ctx.rt, ctx.owner
    follow_id = activity.object_id
    if follow_id is None:
        raise Ignored(f"{activity.type} without an object")
    async with rt.writes.begin() as session:
        row = await follow_store.get_following_by_activity(session, follow_id)
        if row is None or row.local_actor_id != me.id:
            raise Ignored(f"{activity.type} of a Follow we did not send")
        remote = await get_remote_actor(session, activity.actor)
        if remote is None or remote.id != row.remote_actor_id:
            raise Ignored(f"{activity.type} by an actor other than the one we followed")
        row.state, row.updated_at = state, rt.clock()
        await add_notification(
            session,
            local_actor_id=me.id,
            kind="follow_accepted" if state == "accepted" else "follow_rejected",
            actor_uri=activity.actor,
            activity_id=activity.id,
            now=rt.clock(),
        )
    log.info("follow.answered actor=%s state=%s", activity.actor, state)


async def handle_accept(activity: Activity, ctx: HandlerContext) -> None:
    await _answer(activity, ctx, "accepted")


async def handle_reject(activity: Activity, ctx: HandlerContext) -> None:
    await _answer(activity, ctx, "rejected")
