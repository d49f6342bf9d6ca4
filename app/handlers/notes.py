"""``Create``, ``Update`` and ``Delete`` of notes (and the dispatch of actor Updates/Deletes).

Rules (Mastodon's create.rb / update.rb / delete.rb, interop.md 4.1, 4.2, 4.7, 4.11, 4.12):

- The receive pipeline already made sure the signer owns ``activity.actor`` and that the
  object id lives on the actor's origin; here the note's ``attributedTo`` must also be the
  actor, and a stored post may only be changed or deleted by its author.
- A ``Create`` is kept only when it concerns the owner: it replies to, mentions or quotes
  the owner, its author is followed by the owner, or it replies to a followed account's
  stored post. Anything else is ignored (the inbox still answered 202).
- A deleted post stays as a tombstone row, so a later ``Create`` of the same id is refused.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Interaction, Media, Notification, Post, PostHashtag, RemoteActor
from app.handlers.base import (
    HandlerContext,
    Ignored,
    Unhandled,
    first_type,
    fits,
    our_post,
    owner_blocks,
    owner_follows,
)
from app.handlers.moderation import delete_actor, update_actor
from app.services.remote import actor_document_json, contains_nul, resolve_actor
from app.services.replies import maybe_reply
from app.store import posts as post_store
from app.store import timeline
from app.store.notifications import add_notification
from federation.client import fetch_object
from federation.errors import (
    BlockedAddress,
    FetchStatusError,
    InvalidDocument,
    ResponseTooLarge,
)
from federation.note_parse import NOTE_TYPES, NoteView, parse_note
from federation.notes import visibility_of
from federation.parse import Activity, as_list, id_of, same_origin
from federation.vocab import ACTOR_TYPES

log = logging.getLogger("myna.inbox")
KEPT_TAG_TYPES = ("Mention", "Hashtag", "Emoji")
MAX_TAGS = 100


# -- reading remote notes -----------------------------------------------------------------------


async def fetch_document(ctx: HandlerContext, url: str) -> dict[str, Any]:
    """GET ``url`` signed by the instance actor.

    Ignored when the answer will not get better (a 4xx such as 404/410 or a private post, a
    refused address, a wrong or oversized document, a NUL character); other FetchErrors
    (network, 5xx) propagate so the item is retried.
    """
    rt = ctx.rt
    try:
        doc = await fetch_object(rt.http, url, auth=rt.signed_get_auth())
    except FetchStatusError as exc:
        if 400 <= exc.status < 500:
            raise Ignored(f"{url} answered {exc.status}") from exc
        raise
    except (BlockedAddress, InvalidDocument, ResponseTooLarge) as exc:
        raise Ignored(f"{url} cannot be used: {exc}") from exc
    if contains_nul(json.dumps(doc)):  # as the inbox refuses such bodies (PostgreSQL text)
        raise Ignored(f"{url} holds a NUL character")
    return doc


async def note_of(activity: Activity, ctx: HandlerContext) -> NoteView:
    """The activity's note, embedded or fetched by id, whose author must be the actor.

    Raises Unhandled for objects that are not status-like, Ignored when the note is not the
    actor's own, ParseError when it is malformed.
    """
    doc: Any = activity.object
    if doc is None or set(doc) <= {"id", "type"}:  # a bare id (or a stub): ask its origin
        if activity.object_id is None:
            raise Ignored(f"{activity.type} without an object")
        doc = await fetch_document(ctx, activity.object_id)
    kind = first_type(doc)
    if kind not in NOTE_TYPES:
        raise Unhandled(f"{activity.type} of {kind or 'an untyped object'}")
    note = parse_note(doc)
    if note.attributed_to != activity.actor:
        raise Ignored(f"{activity.type} of a note attributed to someone else")
    if not same_origin(note.id, activity.actor) or ctx.is_local(note.id):
        raise Ignored(f"{activity.type} of a note that is not on the actor's origin")
    if fits(note.id) is None:
        raise Ignored("note id too long")
    return note


def _audience(activity: Activity, note: NoteView) -> tuple[list[str], list[str]]:
    """The note's ``to``/``cc``; the activity's when the note has none (the object's values
    take priority, interop.md 4.7)."""
    if note.to or note.cc:
        return list(note.to), list(note.cc)
    raw = activity.raw

    def ids(key: str) -> list[str]:
        return [i for i in (id_of(v) for v in as_list(raw.get(key))) if i is not None]

    return ids("to"), ids("cc")


def followers_url_of(author: RemoteActor) -> str | None:
    """The followers collection named in the cached actor document (for visibility)."""
    return id_of(actor_document_json(author).get("followers"))


def tags_of(raw: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The Mention, Hashtag and Emoji tags of a remote note, reduced to plain fields."""
    kept: list[dict[str, Any]] = []
    for tag in as_list(raw.get("tag"))[:MAX_TAGS]:
        kind = first_type(tag)
        if kind not in KEPT_TAG_TYPES:
            continue
        entry: dict[str, Any] = {"type": kind}
        for key in ("href", "name", "id"):
            if isinstance(tag.get(key), str):
                entry[key] = tag[key]
        icon = tag.get("icon")
        if kind == "Emoji" and isinstance(icon, Mapping) and isinstance(icon.get("url"), str):
            entry["icon"] = {"type": "Image", "url": icon["url"]}
        if kind == "Mention" and "href" not in entry:
            continue
        kept.append(entry)
    return kept


def _language(note: NoteView) -> str | None:
    return note.language if note.language and len(note.language) <= 16 else None


def _edited(note: NoteView) -> datetime | None:
    if note.updated is None or note.updated == note.published:
        return None
    return note.updated


async def _replace_media(session: AsyncSession, post: Post, note: NoteView, now: datetime) -> None:
    await session.execute(delete(Media).where(Media.post_id == post.id))
    position = 0
    for attachment in note.attachments:
        if fits(attachment.url) is None:
            continue
        session.add(
            Media(
                post_id=post.id,
                position=position,
                remote_url=attachment.url,
                media_type=attachment.media_type[:64],
                width=attachment.width,
                height=attachment.height,
                blurhash=attachment.blurhash,
                description=attachment.name,
                created_at=now,
            )
        )
        position += 1
    await session.flush()


async def insert_remote_post(
    session: AsyncSession,
    note: NoteView,
    *,
    visibility: str,
    to: Sequence[str],
    cc: Sequence[str],
    now: datetime,
) -> Post:
    """Store a remote note as a Post row with its hashtags and media (by remote URL)."""
    post = Post(
        uri=note.id,
        url=fits(note.url),
        local_actor_id=None,
        author_uri=note.attributed_to,
        visibility=visibility,
        summary=note.summary,
        sensitive=note.sensitive,
        content=note.content,
        language=_language(note),
        in_reply_to=fits(note.in_reply_to),
        quote_of=fits(note.quote),
        to_json=json.dumps(list(to)),
        cc_json=json.dumps(list(cc)),
        tags_json=json.dumps(tags_of(note.raw)),
        raw=json.dumps(note.raw, separators=(",", ":")),
        published_at=note.published or now,
        edited_at=_edited(note),
    )
    session.add(post)
    await session.flush()
    await post_store.set_hashtags(session, post.id, [h for h in note.hashtags if len(h) <= 255])
    await _replace_media(session, post, note, now)
    return post


async def tombstone(session: AsyncSession, post: Post, now: datetime) -> None:
    """Delete a remote post's content but keep its row (and id) as a tombstone."""
    post.deleted_at = now
    post.content, post.summary, post.raw = "", None, None
    await session.execute(delete(Media).where(Media.post_id == post.id))
    await session.execute(delete(PostHashtag).where(PostHashtag.post_id == post.id))
    await session.execute(delete(Interaction).where(Interaction.activity_id == post.uri))
    await session.execute(delete(Notification).where(Notification.object_uri == post.uri))
    await timeline.remove_post(session, post.uri)


# -- Create -------------------------------------------------------------------------------------


async def _replies_to_followed(session: AsyncSession, ctx: HandlerContext, uri: str) -> bool:
    parent = await session.scalar(
        select(Post.author_uri).where(
            Post.uri == uri, Post.local_actor_id.is_(None), Post.deleted_at.is_(None)
        )
    )
    return parent is not None and await owner_follows(session, ctx, parent)


async def handle_create(activity: Activity, ctx: HandlerContext) -> None:
    """Store a note that concerns the owner; notify replies, mentions and quotes; put posts of
    followed accounts on the timeline. Idempotent by note id; a tombstone refuses the id."""
    rt, me = ctx.rt, ctx.owner
    note = await note_of(activity, ctx)
    author = await resolve_actor(rt, note.attributed_to)
    to, cc = _audience(activity, note)
    visibility = visibility_of(to, cc, followers_url_of(author))
    now = rt.clock()
    async with rt.writes.begin() as session:
        existing = await post_store.get_post(session, note.id)
        if existing is not None:
            raise Ignored("a deleted note" if existing.deleted_at else "note already stored")
        if await owner_blocks(session, ctx, note.attributed_to):
            raise Ignored("the owner blocks the author")
        replies = await our_post(session, ctx, note.in_reply_to) is not None
        quotes = await our_post(session, ctx, note.quote) is not None
        mentions = ctx.actor_url in (*note.mentions, *to, *cc)
        followed = await owner_follows(session, ctx, note.attributed_to)
        in_thread = note.in_reply_to is not None and await _replies_to_followed(
            session, ctx, note.in_reply_to
        )
        if not (replies or quotes or mentions or followed or in_thread):
            raise Ignored("not related to anyone here")
        post = await insert_remote_post(session, note, visibility=visibility, to=to, cc=cc, now=now)
        if followed and visibility != "direct":
            await timeline.add_entry(
                session, post_uri=note.id, boosted_by=None, activity_id=activity.id, now=now
            )
        if quotes and note.quote is not None:
            session.add(
                Interaction(
                    kind="quote",
                    actor_uri=note.attributed_to,
                    object_uri=note.quote,
                    activity_id=note.id,
                    created_at=now,
                )
            )
        kinds = [k for k, yes in (("reply", replies), ("quote", quotes)) if yes]
        if mentions and not kinds:
            kinds.append("mention")
        for kind in kinds:
            await add_notification(
                session,
                local_actor_id=me.id,
                kind=kind,
                actor_uri=note.attributed_to,
                object_uri=note.id,
                activity_id=activity.id,
                now=now,
            )
    log.info(
        "note.stored id=%s visibility=%s notified=%s timeline=%s",
        note.id,
        visibility,
        ",".join(kinds) or "-",
        followed,
    )
    if mentions:  # after the notification is stored; off unless MYNA_REPLY_TO_MENTIONS=1
        await maybe_reply(rt, post)


# -- Update -------------------------------------------------------------------------------------


async def handle_update(activity: Activity, ctx: HandlerContext) -> None:
    """``Update`` of an actor (by itself) refreshes the cached copy; of a note (by its author,
    with a newer ``updated``) changes the stored post."""
    obj = activity.object
    if activity.object_id == activity.actor or first_type(obj) in ACTOR_TYPES:
        await update_actor(activity, ctx)
        return
    note = await note_of(activity, ctx)
    rt = ctx.rt
    now = rt.clock()
    async with rt.writes.begin() as session:
        post = await post_store.get_post(session, note.id)
        if post is None or post.deleted_at is not None:
            raise Ignored("Update of a note that is not stored")
        if post.local_actor_id is not None or post.author_uri != activity.actor:
            raise Ignored("Update of a note by someone other than its author")
        if note.updated is None:
            # Interop: without a newer ``updated`` Mastodon ignores content changes (4.12).
            raise Ignored("Update without an updated timestamp")
        if note.updated <= (post.edited_at or post.published_at):
            raise Ignored("Update older than the stored version")
        post.content, post.summary, post.sensitive = note.content, note.summary, note.sensitive
        post.language = _language(note)
        post.tags_json = json.dumps(tags_of(note.raw))
        post.raw = json.dumps(note.raw, separators=(",", ":"))
        post.edited_at = note.updated
        await post_store.set_hashtags(session, post.id, [h for h in note.hashtags if len(h) <= 255])
        await _replace_media(session, post, note, now)
    log.info("note.updated id=%s", note.id)


# -- Delete -------------------------------------------------------------------------------------


async def handle_delete(activity: Activity, ctx: HandlerContext) -> None:
    """``Delete`` of the actor itself marks it gone; of a note, only by its author, turns the
    stored post into a tombstone."""
    target = activity.object_id
    if target is None:
        raise Ignored("Delete without an object")
    if target == activity.actor:
        await delete_actor(activity, ctx)
        return
    rt = ctx.rt
    async with rt.writes.begin() as session:
        post = await post_store.get_post(session, target)
        if post is None:
            raise Ignored("Delete of an object that is not stored")
        if post.local_actor_id is not None or post.author_uri != activity.actor:
            raise Ignored("Delete of a note by someone other than its author")
        if post.deleted_at is not None:
            raise Ignored("note already deleted")
        await tombstone(session, post, rt.clock())
    log.info("note.deleted id=%s", target)
