"""``Like``, emoji reactions and ``Announce`` of posts, and their ``Undo``.

Rules (Mastodon's like.rb / announce.rb / undo.rb, interop.md 4.5, 4.6):

- A Like or reaction counts only for the owner's own live post; a duplicate (same actor,
  post and emoji) is ignored.
- An Announce of the owner's public or unlisted post is recorded and notified; an Announce by
  an account the owner follows puts the boosted post on the timeline (fetched from its origin
  when not stored; its ``attributedTo`` must be on that origin). Only the object's id is
  used: an embedded copy of the object is never trusted.
- An Undo removes only interactions whose actor is the Undo's actor: by the undone
  activity's id, or by (actor, post) when the Undo embeds the activity.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Interaction, Notification
from app.handlers.base import (
    HandlerContext,
    Ignored,
    first_type,
    fits,
    our_post,
    owner_blocks,
    owner_follows,
)
from app.handlers.notes import fetch_document, followers_url_of, insert_remote_post
from app.services.remote import resolve_actor
from app.store import posts as post_store
from app.store import timeline
from app.store.notifications import add_notification
from federation.errors import ParseError
from federation.note_parse import NoteView, parse_note
from federation.notes import visibility_of
from federation.parse import Activity, id_of, same_origin

log = logging.getLogger("myna.inbox")
MAX_REACTION = 256
BOOSTABLE = ("public", "unlisted")


def _reaction(activity: Activity) -> tuple[str, str | None]:
    """``("like", None)`` or ``("react", emoji)``.

    Interop: Misskey sends reactions as ``Like`` with ``_misskey_reaction`` (and ``content``);
    Pleroma/Akkoma send ``EmojiReact`` with ``content``.
    """
    raw = activity.raw
    for key in ("_misskey_reaction", "content"):
        value = raw.get(key)
        if isinstance(value, str) and value.strip():
            return "react", value.strip()[:MAX_REACTION]
    if activity.type == "EmojiReact":
        raise Ignored("EmojiReact without an emoji")
    return "like", None


async def handle_like(activity: Activity, ctx: HandlerContext) -> None:
    """Record a Like or emoji reaction of the owner's post and notify the owner."""
    kind, emoji = _reaction(activity)
    rt, me = ctx.rt, ctx.owner
    now = rt.clock()
    async with rt.writes.begin() as session:
        post = await our_post(session, ctx, activity.object_id)
        if post is None:
            raise Ignored(f"{activity.type} of a post that is not ours")
        if await owner_blocks(session, ctx, activity.actor):
            raise Ignored("the owner blocks the actor")
        same = select(Interaction.id).where(
            Interaction.kind == kind,
            Interaction.actor_uri == activity.actor,
            Interaction.object_uri == post.uri,
        )
        if emoji is not None:
            same = same.where(Interaction.content == emoji)
        if await session.scalar(same) is not None:
            raise Ignored(f"duplicate {kind}")
        session.add(
            Interaction(
                kind=kind,
                actor_uri=activity.actor,
                object_uri=post.uri,
                activity_id=activity.id,
                content=emoji,
                created_at=now,
            )
        )
        await add_notification(
            session,
            local_actor_id=me.id,
            kind=kind,
            actor_uri=activity.actor,
            object_uri=post.uri,
            activity_id=activity.id,
            now=now,
        )
    log.info("post.%s actor=%s post=%s", kind, activity.actor, post.uri)


async def handle_announce(activity: Activity, ctx: HandlerContext) -> None:
    """A boost of the owner's post is recorded and notified; a boost by a followed account
    goes on the timeline."""
    object_id = activity.object_id
    if object_id is None or fits(object_id) is None:
        raise Ignored("Announce without a usable object")
    if ctx.is_local(object_id):
        await _boost_of_ours(activity, ctx, object_id)
    else:
        await _boost_by_followed(activity, ctx, object_id)


async def _boost_of_ours(activity: Activity, ctx: HandlerContext, object_id: str) -> None:
    rt, me = ctx.rt, ctx.owner
    now = rt.clock()
    async with rt.writes.begin() as session:
        post = await our_post(session, ctx, object_id)
        if post is None:
            raise Ignored("Announce of a post that is not ours")
        if post.visibility not in BOOSTABLE:
            raise Ignored("Announce of a post that cannot be boosted")
        if await owner_blocks(session, ctx, activity.actor):
            raise Ignored("the owner blocks the actor")
        duplicate = await session.scalar(
            select(Interaction.id).where(
                Interaction.kind == "announce",
                Interaction.actor_uri == activity.actor,
                Interaction.object_uri == post.uri,
            )
        )
        if duplicate is not None:
            raise Ignored("duplicate announce")
        session.add(
            Interaction(
                kind="announce",
                actor_uri=activity.actor,
                object_uri=post.uri,
                activity_id=activity.id,
                created_at=now,
            )
        )
        await add_notification(
            session,
            local_actor_id=me.id,
            kind="boost",
            actor_uri=activity.actor,
            object_uri=post.uri,
            activity_id=activity.id,
            now=now,
        )
        if await owner_follows(session, ctx, activity.actor):
            await timeline.add_entry(
                session,
                post_uri=post.uri,
                boosted_by=activity.actor,
                activity_id=activity.id,
                now=now,
            )
    log.info("post.boosted actor=%s post=%s", activity.actor, post.uri)


async def _boost_by_followed(activity: Activity, ctx: HandlerContext, object_id: str) -> None:
    rt = ctx.rt
    async with rt.sessions() as session:
        if not await owner_follows(session, ctx, activity.actor):
            raise Ignored("Announce of another's post by an account the owner does not follow")
        stored = await post_store.get_post(session, object_id)
    if stored is not None and (stored.deleted_at is not None or stored.visibility not in BOOSTABLE):
        raise Ignored("Announce of a deleted or private post")
    fetched: _Boosted | None = None
    if stored is None:
        fetched = await _fetch_boosted(ctx, object_id)
        post_uri, author = fetched.note.id, fetched.note.attributed_to
    else:
        post_uri, author = stored.uri, stored.author_uri
    now = rt.clock()
    async with rt.writes.begin() as session:
        if await owner_blocks(session, ctx, activity.actor, author):
            raise Ignored("the owner blocks the booster or the author")
        if fetched is not None and await post_store.get_post(session, post_uri) is None:
            await insert_remote_post(
                session,
                fetched.note,
                visibility=fetched.visibility,
                to=fetched.note.to,
                cc=fetched.note.cc,
                now=now,
            )
        added = await timeline.add_entry(
            session, post_uri=post_uri, boosted_by=activity.actor, activity_id=activity.id, now=now
        )
    log.info("timeline.boost actor=%s post=%s added=%s", activity.actor, post_uri, added)


@dataclass(frozen=True)
class _Boosted:
    note: NoteView
    visibility: str


async def _fetch_boosted(ctx: HandlerContext, object_id: str) -> _Boosted:
    """Fetch a boosted note from its origin; Ignored unless it is a public or unlisted note
    whose author lives on the note's origin."""
    doc = await fetch_document(ctx, object_id)
    try:
        note = parse_note(doc)
    except ParseError as exc:
        raise Ignored(f"the boosted object is not a note: {exc}") from exc
    if not same_origin(note.id, note.attributed_to) or ctx.is_local(note.id):
        raise Ignored("the boosted note's author is not on its origin")
    if fits(note.id) is None:
        raise Ignored("note id too long")
    author = await resolve_actor(ctx.rt, note.attributed_to)
    visibility = visibility_of(note.to, note.cc, followers_url_of(author))
    if visibility not in BOOSTABLE:
        raise Ignored("the boosted note is not public")
    return _Boosted(note, visibility)


# -- Undo ---------------------------------------------------------------------------------------

_KINDS_OF = {"Like": ("like", "react"), "EmojiReact": ("react",), "Announce": ("announce",)}


async def _remove_interactions(
    session: AsyncSession, actor: str, undone_id: str, inner: Any
) -> list[str]:
    """Delete ``actor``'s interactions undone by this Undo; return their activity ids."""
    by_id = select(Interaction).where(
        Interaction.activity_id == undone_id, Interaction.actor_uri == actor
    )
    found = list((await session.scalars(by_id)).all())
    inner_type, target = first_type(inner), id_of(inner.get("object")) if inner else None
    if not found and inner_type in _KINDS_OF and target is not None:
        # Interop: ids of Likes differ across retries on some servers; Mastodon's undo_like
        # also matches the (actor, status) pair.
        by_pair = select(Interaction).where(
            Interaction.kind.in_(_KINDS_OF[inner_type]),
            Interaction.actor_uri == actor,
            Interaction.object_uri == target,
        )
        content = inner.get("content") or inner.get("_misskey_reaction")
        if inner_type == "EmojiReact" and isinstance(content, str):
            by_pair = by_pair.where(Interaction.content == content.strip())
        found = list((await session.scalars(by_pair)).all())
    for row in found:
        await session.delete(row)
    return [row.activity_id for row in found]


async def undo_reaction(activity: Activity, ctx: HandlerContext, undone_id: str) -> None:
    """Undo a Like, reaction or Announce (embedded, or by id) made by the Undo's actor."""
    rt, inner = ctx.rt, activity.object
    target = id_of(inner.get("object")) if inner is not None else None
    async with rt.writes.begin() as session:
        removed = await _remove_interactions(session, activity.actor, undone_id, inner)
        boosts = 0
        if first_type(inner) in (None, "Announce"):
            boosts = await timeline.remove_boost(
                session,
                booster=activity.actor,
                activity_id=undone_id,
                post_uri=target if inner is not None else None,
            )
        if not removed and not boosts:
            raise Ignored("Undo of an activity that is not recorded for this actor")
        if removed:
            await session.execute(
                delete(Notification).where(
                    Notification.actor_uri == activity.actor,
                    Notification.activity_id.in_(removed),
                )
            )
    log.info("reaction.undone actor=%s id=%s", activity.actor, undone_id)
