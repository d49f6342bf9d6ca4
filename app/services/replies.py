"""Replies to mentions: off by default (``MYNA_REPLY_TO_MENTIONS=1`` turns them on).

``maybe_reply(rt, post)`` is called by the inbox after a note that mentions the owner was
stored. It answers only when every rule allows it:

- the note mentions the owner (a Mention tag or direct addressing), is public or unlisted
  (followers-only and direct messages are never answered: a reply could widen their
  audience), and no reply to it was drafted before;
- its author is not marked ``#nobot`` (name, summary or profile hashtags);
- at most ``MYNA_REPLIES_PER_ACTOR_PER_HOUR`` reply drafts per remote actor in any hour;
- an author that looks like a bot (actor type ``Service`` or ``Application``, ``bot`` /
  ``isBot`` true, or ``#bot`` in its profile) gets at most one reply per thread, so two bots
  cannot talk to each other forever;
- the thread is the context: up to ``MAX_DEPTH`` ancestors (stored, else fetched with a signed
  GET), public or unlisted only, each cut to ``MAX_ITEM_CHARS``, oldest dropped first beyond
  ``MAX_CONTEXT_CHARS``;
- the reply mentions only the author it answers: any other ``@user@host`` the model wrote
  loses its ``@`` (so nobody is notified unasked), and the text starts with the author's handle.

The reply is a draft (state "candidate") for review with ``myna drafts`` / ``myna approve``.
With ``MYNA_REPLY_AUTO_PUBLISH=1`` it is published at once, under the same daily budgets.
Its visibility is the persona's, but never wider than the note it answers (unlisted stays
unlisted).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from app.db.models import Post, RemoteActor
from app.db.models_ai import Draft
from app.errors import UserError
from app.runtime import Runtime
from app.services import drafting
from app.services.following import owner
from app.services.prompts import strip_disclosure
from app.store.actors import get_remote_actor
from federation.client import fetch_object
from federation.content import find_mentions
from federation.errors import FetchError, ParseError
from federation.note_parse import parse_note
from federation.sanitize import html_to_text
from federation.vocab import PUBLIC
from generation import GenerationError

log = logging.getLogger("myna.replies")

MAX_DEPTH = 8  # ancestors read above the mention
MAX_ITEM_CHARS = 500
MAX_CONTEXT_CHARS = 3000
BOT_TYPES = ("Service", "Application")
_NOBOT = re.compile(r"#nobot\b", re.IGNORECASE)
_BOT = re.compile(r"#bot\b", re.IGNORECASE)


@dataclass(frozen=True)
class ThreadItem:
    """One post of a thread, reduced to what the model is shown."""

    uri: str
    author: str  # "you" for the owner, else a handle or actor id
    text: str


# -- rules ------------------------------------------------------------------------------------


def _profile_text(document: dict[str, Any]) -> str:
    parts = [str(document.get("name") or ""), html_to_text(str(document.get("summary") or ""))]
    tags = document.get("tag")
    for tag in tags if isinstance(tags, list) else [tags]:
        if isinstance(tag, dict) and isinstance(tag.get("name"), str):
            parts.append(tag["name"])
    return " ".join(parts)


def _document(actor: RemoteActor) -> dict[str, Any]:
    try:
        parsed = json.loads(actor.document)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def opted_out(actor: RemoteActor) -> bool:
    """True when the actor asks bots to leave it alone (``#nobot`` in its profile)."""
    return bool(_NOBOT.search(_profile_text(_document(actor))))


def looks_like_bot(actor: RemoteActor) -> bool:
    """True for a Service/Application actor, ``bot``/``isBot`` true, or ``#bot`` in the profile."""
    document = _document(actor)
    if actor.type in BOT_TYPES or document.get("type") in BOT_TYPES:
        return True
    if document.get("bot") is True or document.get("isBot") is True:
        return True
    return bool(_BOT.search(_profile_text(document)))


def mentions_owner(post: Post, actor_url: str) -> bool:
    """True when ``post`` tags the owner with a Mention or addresses the owner directly."""
    tags = json.loads(post.tags_json or "[]")
    if any(t.get("type") == "Mention" and t.get("href") == actor_url for t in tags):
        return True
    return actor_url in (*json.loads(post.to_json or "[]"), *json.loads(post.cc_json or "[]"))


def handle_of(actor: RemoteActor) -> str | None:
    """``user@host`` of a remote actor, or None when it has no username."""
    return f"{actor.username}@{actor.domain}" if actor.username else None


def only_mention(text: str, allowed: str | None) -> str:
    """Return ``text`` where every ``@user@host`` but ``allowed`` lost its ``@`` (so it is no
    longer a mention), starting with ``@allowed`` when given."""
    keep = allowed.lower() if allowed else None
    for _ in range(20):
        extra = [h for h in find_mentions(text) if h.lower() != keep]
        if not extra:
            break
        for handle in extra:
            pattern = r"(?<![\w@])@(" + re.escape(handle) + r")(?![\w-]|\.\w)"
            text = re.sub(pattern, r"\1", text, flags=re.IGNORECASE)
    else:  # pragma: no cover - a spelling find_mentions sees but the pattern does not
        text = text.replace("@", "")
    text = text.strip()
    if allowed and allowed.lower() not in (h.lower() for h in find_mentions(text)):
        text = f"@{allowed} {text}"
    return text


# -- the thread -------------------------------------------------------------------------------


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


async def _author_label(rt: Runtime, uri: str, me_url: str) -> str:
    if uri == me_url:
        return "you"
    async with rt.sessions() as session:
        actor = await get_remote_actor(session, uri)
    handle = handle_of(actor) if actor is not None else None
    return f"@{handle}" if handle else uri


async def _ancestor(rt: Runtime, uri: str, me_url: str) -> tuple[ThreadItem, str | None] | None:
    """The post ``uri`` (stored, else fetched) and its parent's id; None when it cannot be
    read or is not public/unlisted."""
    async with rt.sessions() as session:
        stored = await session.scalar(select(Post).where(Post.uri == uri))
    if stored is not None:
        if stored.deleted_at is not None or stored.visibility not in ("public", "unlisted"):
            return None
        text = html_to_text(stored.content)
        if stored.author_uri == me_url:
            text = strip_disclosure(stored.source or text)
        label = await _author_label(rt, stored.author_uri, me_url)
        return ThreadItem(uri, label, text), stored.in_reply_to
    if uri.startswith(rt.settings.base_url + "/"):
        return None
    try:
        note = parse_note(await fetch_object(rt.http, uri, auth=rt.signed_get_auth()))
    except (FetchError, ParseError) as exc:
        log.info("reply.context_unavailable uri=%s error=%s", uri, exc)
        return None
    if PUBLIC not in (*note.to, *note.cc):
        return None
    label = await _author_label(rt, note.attributed_to, me_url)
    return ThreadItem(note.id, label, html_to_text(note.content)), note.in_reply_to


async def thread_of(rt: Runtime, post: Post, me_url: str) -> list[ThreadItem]:
    """The thread above ``post`` and ``post`` itself, oldest first (at most MAX_DEPTH
    ancestors; the walk stops at the first post that cannot be read or is not public)."""
    label = await _author_label(rt, post.author_uri, me_url)
    items = [ThreadItem(post.uri, label, html_to_text(post.content))]
    parent, seen = post.in_reply_to, {post.uri}
    while parent is not None and parent not in seen and len(items) <= MAX_DEPTH:
        seen.add(parent)
        found = await _ancestor(rt, parent, me_url)
        if found is None:
            break
        item, parent = found
        items.append(item)
    items.reverse()
    return items


def context_text(items: list[ThreadItem]) -> str:
    """The thread as text for the prompt: ``author: text`` lines, oldest first, capped."""
    lines = [f"{item.author}: {_cut(item.text, MAX_ITEM_CHARS)}" for item in items]
    kept: list[str] = []
    total = 0
    for line in reversed(lines):  # the newest (the mention itself) always stays
        if kept and total + len(line) + 1 > MAX_CONTEXT_CHARS:
            break
        kept.append(line)
        total += len(line) + 1
    return "\n".join(reversed(kept))


# -- counting earlier replies -------------------------------------------------------------------


async def _replies_since(rt: Runtime, actor_uri: str, since: Any) -> int:
    async with rt.sessions() as session:
        count = await session.scalar(
            select(func.count(Draft.id)).where(
                Draft.reply_to_actor == actor_uri, Draft.created_at >= since
            )
        )
    return int(count or 0)


async def _replied_in(rt: Runtime, actor_uri: str, uris: list[str]) -> bool:
    async with rt.sessions() as session:
        found = await session.scalar(
            select(Draft.id)
            .where(Draft.reply_to_actor == actor_uri, Draft.in_reply_to.in_(uris))
            .limit(1)
        )
    return found is not None


# -- the entry point ----------------------------------------------------------------------------


async def maybe_reply(rt: Runtime, post: Post) -> Draft | None:
    """Draft (or, with ``reply_auto_publish``, publish) a reply to a stored note that mentions
    the owner, when the rules of the module docstring allow it; return the draft, or None.

    Never raises (the inbox must not retry a stored note because a reply failed): refusals,
    a used-up budget and provider failures are logged, anything else is logged with its
    traceback.
    """
    if not rt.settings.reply_to_mentions:
        return None
    try:
        return await _reply(rt, post)
    except Exception:
        log.exception("reply.error post=%s", post.uri)
        return None


async def _reply(rt: Runtime, post: Post) -> Draft | None:
    settings = rt.settings
    me = await owner(rt)
    me_url = rt.urls.actor(me.username)
    why = await _refusal(rt, post, me_url)
    if why is not None:
        log.info("reply.skipped post=%s reason=%s", post.uri, why)
        return None
    async with rt.sessions() as session:
        author = await get_remote_actor(session, post.author_uri)
    assert author is not None  # checked by _refusal
    items = await thread_of(rt, post, me_url)
    if looks_like_bot(author) and await _replied_in(rt, author.uri, [i.uri for i in items]):
        log.info("reply.skipped post=%s reason=bot thread answered once", post.uri)
        return None
    request = drafting.GenerateRequest(
        in_reply_to=post.uri,
        reply_to_actor=author.uri,
        context=context_text(items),
        candidates=1,
    )
    try:
        drafts = await drafting.generate(rt, request)
    except (UserError, GenerationError) as exc:  # BudgetExceeded is a UserError
        log.warning("reply.failed post=%s error=%s", post.uri, exc)
        return None
    if not drafts:
        return None
    draft = await _tidy(rt, drafts[0], handle_of(author), post.visibility)
    if settings.reply_auto_publish and draft.state == "candidate":
        try:
            draft = await drafting.approve(rt, draft.id)
        except UserError as exc:
            log.warning("reply.not_published draft=%d error=%s", draft.id, exc)
    log.info("reply.drafted post=%s draft=%d state=%s", post.uri, draft.id, draft.state)
    return draft


async def _refusal(rt: Runtime, post: Post, me_url: str) -> str | None:
    """Why ``post`` gets no reply, or None when it may get one."""
    if post.local_actor_id is not None or post.deleted_at is not None:
        return "not a remote note"
    if post.visibility not in ("public", "unlisted"):
        return f"{post.visibility} note"
    if not mentions_owner(post, me_url):
        return "the owner is not mentioned"
    async with rt.sessions() as session:
        author = await get_remote_actor(session, post.author_uri)
        answered = await session.scalar(select(Draft.id).where(Draft.in_reply_to == post.uri))
    if author is None or author.gone_at is not None:
        return "unknown author"
    if answered is not None:
        return "already answered"
    if opted_out(author):
        return "the author is #nobot"
    since = rt.clock() - timedelta(hours=1)
    limit = rt.settings.replies_per_actor_per_hour
    if await _replies_since(rt, author.uri, since) >= limit:
        return f"rate limit ({limit} replies per actor per hour)"
    return None


async def _tidy(rt: Runtime, draft: Draft, author: str | None, parent_visibility: str) -> Draft:
    """Keep only the author's mention and do not widen the parent's audience."""
    text = only_mention(draft.text, author)
    visibility = draft.visibility
    if parent_visibility == "unlisted" and visibility == "public":
        visibility = "unlisted"
    if text == draft.text and visibility == draft.visibility:
        return draft
    async with rt.writes.begin() as session:
        row = await session.get(Draft, draft.id)
        assert row is not None
        row.text, row.visibility, row.updated_at = text, visibility, rt.clock()
    return row
