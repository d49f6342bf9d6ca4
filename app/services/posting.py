"""Writing posts: publish, edit, delete, pin. Each change is stored and queued in one
transaction, after everything that needs the network (mentions, the replied-to post) resolved."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.db.models import LocalActor, Media, Post, RemoteActor
from app.errors import UserError
from app.runtime import Runtime
from app.services.audience import inboxes
from app.services.following import owner, resolve_target
from app.services.media import store_image
from app.services.outbox import queue_activity
from app.services.remote import resolve_actor
from app.store import posts as post_store
from federation.activities import build_add, build_create, build_delete, build_remove, build_update
from federation.client import fetch_object
from federation.content import MentionRef, find_hashtags, find_mentions, render_text
from federation.errors import FetchError, ParseError
from federation.note_parse import parse_note
from federation.notes import (
    Attachment,
    NoteData,
    Visibility,
    addressing,
    build_note,
    hashtag_tag,
    mention_tag,
)

log = logging.getLogger("myna.posting")
VISIBILITIES: tuple[Visibility, ...] = ("public", "unlisted", "followers", "direct")
MAX_CHARS = 5000
MAX_IMAGES = 4


@dataclass(frozen=True)
class ImageInput:
    data: bytes
    description: str | None


@dataclass(frozen=True)
class Draft:
    """What the owner wants to publish."""

    text: str
    visibility: Visibility = "public"
    summary: str | None = None
    in_reply_to: str | None = None
    language: str | None = None
    images: Sequence[ImageInput] = field(default_factory=tuple)
    generator: dict[str, Any] | None = None


def read_image(path: str, description: str | None) -> ImageInput:
    try:
        return ImageInput(Path(path).read_bytes(), description)
    except OSError as exc:
        raise UserError(f"cannot read image {path}: {exc.strerror}") from exc


def _token() -> str:
    # Time-ordered so ids sort by creation; random tail so they cannot be guessed.
    import time

    return f"{int(time.time() * 1000):011x}{secrets.token_hex(4)}"


@dataclass(frozen=True)
class _Resolved:
    mentions: dict[str, MentionRef]
    actors: list[RemoteActor]
    parent_uri: str | None
    parent_author: str | None


async def _resolve(
    rt: Runtime, me: LocalActor, text: str, reply_to: str | None, visibility: Visibility
) -> _Resolved:
    mentions: dict[str, MentionRef] = {}
    actors: list[RemoteActor] = []
    for handle in find_mentions(text):
        try:
            actor = await resolve_target(rt, handle)
        except UserError:
            if visibility == "direct":
                raise
            log.info("post.mention_unresolved handle=%s", handle)
            continue
        mentions[handle.lower()] = MentionRef(handle, actor.uri, actor.url)
        actors.append(actor)
    parent_uri = parent_author = None
    if reply_to:
        async with rt.sessions() as session:
            local = await post_store.get_post_by_uri_or_url(session, reply_to)
        if local is not None:
            parent_uri, parent_author = local.uri, local.author_uri
            if local.local_actor_id is None and all(a.uri != local.author_uri for a in actors):
                # A stored remote post: its author is mentioned and addressed like a fetched one.
                try:
                    actors.append(await resolve_actor(rt, local.author_uri))
                except (FetchError, ParseError) as exc:
                    log.info("post.parent_author_unresolved uri=%s error=%s", local.uri, exc)
        else:
            try:
                note = parse_note(await fetch_object(rt.http, reply_to, auth=rt.signed_get_auth()))
                author = await resolve_actor(rt, note.attributed_to)
            except (FetchError, ParseError) as exc:
                raise UserError(f"cannot fetch the post to reply to: {exc}") from exc
            parent_uri, parent_author = note.id, author.uri
            if all(a.uri != author.uri for a in actors):
                actors.append(author)
    return _Resolved(mentions, actors, parent_uri, parent_author)


def _tags(rt: Runtime, resolved: _Resolved, text: str) -> list[dict[str, Any]]:
    tags = [mention_tag(ref.href, "@" + ref.handle) for ref in resolved.mentions.values()]
    mentioned = {ref.href for ref in resolved.mentions.values()}
    for actor in resolved.actors:
        if actor.uri not in mentioned and actor.username:
            tags.append(mention_tag(actor.uri, f"@{actor.username}@{actor.domain}"))
    tags += [hashtag_tag(name, rt.urls.tag(name)) for name in find_hashtags(text)]
    return tags


def note_document(rt: Runtime, post: Post, media: Sequence[Media]) -> dict[str, Any]:
    """The Note of a local post, as served and delivered."""
    attachments = [
        Attachment(
            url=rt.urls.media(m.file_name or ""),
            media_type=m.media_type,
            name=m.description,
            width=m.width,
            height=m.height,
            blurhash=m.blurhash,
        )
        for m in media
        if m.file_name
    ]
    return build_note(
        NoteData(
            id=post.uri,
            url=post.url or post.uri,
            attributed_to=post.author_uri,
            content=post.content,
            summary=post.summary,
            sensitive=post.sensitive,
            language=post.language,
            published=post.published_at,
            updated=post.edited_at,
            in_reply_to=post.in_reply_to,
            to=json.loads(post.to_json),
            cc=json.loads(post.cc_json),
            tags=json.loads(post.tags_json),
            attachments=attachments,
            replies=f"{post.uri}/replies",
            source=post.source,
            generator=json.loads(post.generator_json) if post.generator_json else None,
        )
    )


def _check(draft: Draft) -> None:
    if draft.visibility not in VISIBILITIES:
        raise UserError(f"visibility must be one of {', '.join(VISIBILITIES)}")
    if not draft.text.strip() and not draft.images:
        raise UserError("a post needs text or an image")
    if len(draft.text) > MAX_CHARS:
        raise UserError(f"a post may have at most {MAX_CHARS} characters")
    if len(draft.images) > MAX_IMAGES:
        raise UserError(f"a post may have at most {MAX_IMAGES} images")


async def publish(rt: Runtime, draft: Draft) -> Post:
    """Store and deliver a new post; UserError for bad input (nothing stored then)."""
    _check(draft)
    me = await owner(rt)
    if draft.visibility == "direct" and not find_mentions(draft.text):
        raise UserError("a direct post must mention at least one account")
    resolved = await _resolve(rt, me, draft.text, draft.in_reply_to, draft.visibility)
    stored = [store_image(image.data, rt.settings.media_dir) for image in draft.images]
    urls, now, token = rt.urls, rt.clock(), _token()
    to, cc = addressing(
        draft.visibility,
        followers_url=urls.followers(me.username),
        mentioned=[a.uri for a in resolved.actors],
    )
    post = Post(
        uri=f"{urls.actor(me.username)}/statuses/{token}",
        url=f"{urls.profile(me.username)}/{token}",
        local_actor_id=me.id,
        author_uri=urls.actor(me.username),
        visibility=draft.visibility,
        summary=draft.summary or None,
        sensitive=bool(draft.summary),
        content=render_text(draft.text, mentions=resolved.mentions, tag_url=urls.tag),
        source=draft.text,
        language=draft.language,
        in_reply_to=resolved.parent_uri,
        to_json=json.dumps(to),
        cc_json=json.dumps(cc),
        tags_json=json.dumps(_tags(rt, resolved, draft.text)),
        generator_json=json.dumps(draft.generator) if draft.generator else None,
        published_at=now,
    )
    async with rt.writes.begin() as session:
        session.add(post)
        await session.flush()
        await post_store.set_hashtags(session, post.id, find_hashtags(draft.text))
        media = []
        for position, (image, saved) in enumerate(zip(draft.images, stored, strict=True)):
            row = Media(
                post_id=post.id,
                position=position,
                file_name=saved.file_name,
                media_type=saved.media_type,
                width=saved.width,
                height=saved.height,
                blurhash=saved.blurhash,
                description=image.description,
                created_at=now,
            )
            session.add(row)
            media.append(row)
        await session.flush()
        note = note_document(rt, post, media)
        create = build_create(activity_id=f"{post.uri}/activity", actor=post.author_uri, note=note)
        targets = await inboxes(
            session,
            me.id,
            include_followers=draft.visibility != "direct",
            actor_uris=[a.uri for a in resolved.actors],
        )
        await queue_activity(rt, session, local_actor_id=me.id, activity=create, inboxes=targets)
    rt.wakeups.delivery.set()
    log.info(
        "post.published uri=%s visibility=%s inboxes=%d", post.uri, post.visibility, len(targets)
    )
    return post


async def _own_post(rt: Runtime, me: LocalActor, ref: str) -> Post:
    async with rt.sessions() as session:
        post = await post_store.get_post_by_uri_or_url(session, ref.strip())
    if post is None or post.local_actor_id != me.id:
        raise UserError(f"no post of yours at {ref}")
    if post.deleted_at is not None:
        raise UserError(f"{ref} was deleted")
    return post


def _mentioned(post: Post) -> list[str]:
    return [t["href"] for t in json.loads(post.tags_json) if t.get("type") == "Mention"]


async def edit(rt: Runtime, ref: str, text: str, summary: str | None = None) -> Post:
    """Change a post's text; followers and mentioned accounts get an ``Update``."""
    me = await owner(rt)
    post = await _own_post(rt, me, ref)
    _check(Draft(text=text, visibility=post.visibility))  # type: ignore[arg-type]
    resolved = await _resolve(rt, me, text, None, post.visibility)  # type: ignore[arg-type]
    old_mentions = _mentioned(post)
    async with rt.writes.begin() as session:
        row = await post_store.get_post(session, post.uri)
        assert row is not None
        row.source = text
        row.content = render_text(text, mentions=resolved.mentions, tag_url=rt.urls.tag)
        if summary is not None:
            row.summary, row.sensitive = summary or None, bool(summary)
        # The audience of a delivered post does not shrink on edit (as on Mastodon): mentions
        # dropped from the text, and the implicit mention of a replied-to author, stay tagged.
        tags = _tags(rt, resolved, text)
        present = {t["href"] for t in tags if t.get("type") == "Mention"}
        kept = [
            t
            for t in json.loads(post.tags_json)
            if t.get("type") == "Mention" and t["href"] not in present
        ]
        row.tags_json = json.dumps(tags + kept)
        row.edited_at = rt.clock()
        await post_store.set_hashtags(session, row.id, find_hashtags(text))
        note = note_document(rt, row, await post_store.media_of(session, row.id))
        update = build_update(
            activity_id=f"{row.uri}#updates/{_token()}", actor=row.author_uri, obj=note
        )
        targets = await inboxes(
            session,
            me.id,
            include_followers=row.visibility != "direct",
            actor_uris=[*old_mentions, *_mentioned(row)],
        )
        await queue_activity(rt, session, local_actor_id=me.id, activity=update, inboxes=targets)
    rt.wakeups.delivery.set()
    return row


async def delete(rt: Runtime, ref: str) -> Post:
    """Delete a post: ``Delete{Tombstone}`` to its audience and to everyone who interacted."""
    me = await owner(rt)
    post = await _own_post(rt, me, ref)
    async with rt.writes.begin() as session:
        row = await post_store.get_post(session, post.uri)
        assert row is not None
        row.deleted_at = rt.clock()
        row.pinned_at = None
        interacted = await post_store.interaction_actors(session, row.uri)
        activity = build_delete(
            activity_id=f"{row.uri}#delete",
            actor=row.author_uri,
            object_id=row.uri,
            to=json.loads(row.to_json),
            cc=json.loads(row.cc_json),
        )
        targets = await inboxes(
            session,
            me.id,
            include_followers=row.visibility != "direct",
            actor_uris=[*_mentioned(row), *interacted],
        )
        await queue_activity(rt, session, local_actor_id=me.id, activity=activity, inboxes=targets)
    rt.wakeups.delivery.set()
    return row


async def set_pinned(rt: Runtime, ref: str, pinned: bool) -> Post:
    """Pin (``Add``) or unpin (``Remove``) a public or unlisted post on the profile."""
    me = await owner(rt)
    post = await _own_post(rt, me, ref)
    if post.visibility not in ("public", "unlisted"):
        raise UserError("only public and unlisted posts can be pinned")
    if (post.pinned_at is not None) == pinned:
        return post
    async with rt.writes.begin() as session:
        row = await post_store.get_post(session, post.uri)
        assert row is not None
        row.pinned_at = rt.clock() if pinned else None
        build = build_add if pinned else build_remove
        activity = build(
            activity_id=f"{row.uri}#{'pin' if pinned else 'unpin'}/{_token()}",
            actor=row.author_uri,
            object_id=row.uri,
            target=rt.urls.featured(me.username),
        )
        targets = await inboxes(session, me.id, include_followers=True)
        await queue_activity(rt, session, local_actor_id=me.id, activity=activity, inboxes=targets)
    rt.wakeups.delivery.set()
    return row
