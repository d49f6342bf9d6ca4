"""Posting, reacting, blocking, and reading the timeline and the delivery queue."""

from __future__ import annotations

import argparse

from sqlalchemy import select

from app.commands.base import Result, iso
from app.config import Settings
from app.db.models import Post, TimelineEntry
from app.errors import UserError
from app.runtime import open_runtime
from app.services import interactions, posting
from app.store import deliveries as delivery_store
from app.store import posts as post_store
from federation.sanitize import html_to_text


def _post_json(post: Post) -> dict[str, object]:
    return {
        "id": post.uri,
        "url": post.url,
        "visibility": post.visibility,
        "summary": post.summary,
        "text": post.source,
        "in_reply_to": post.in_reply_to,
        "published": iso(post.published_at),
        "edited": iso(post.edited_at),
        "deleted": iso(post.deleted_at),
        "pinned": post.pinned_at is not None,
    }


async def cmd_post(settings: Settings, args: argparse.Namespace) -> tuple[Result, str]:
    if len(args.alt) > len(args.image):
        raise UserError("each --alt describes the --image before it")
    images = [
        posting.read_image(path, args.alt[i] if i < len(args.alt) else None)
        for i, path in enumerate(args.image)
    ]
    draft = posting.Draft(
        text=args.text,
        visibility=args.visibility,
        summary=args.cw,
        in_reply_to=args.reply_to,
        language=args.language,
        images=images,
    )
    async with open_runtime(settings) as rt:
        post = await posting.publish(rt, draft)
    return _post_json(post), post.uri


async def cmd_edit(settings: Settings, args: argparse.Namespace) -> tuple[Result, str]:
    async with open_runtime(settings) as rt:
        post = await posting.edit(rt, args.post, args.text, summary=args.cw)
    return _post_json(post), f"Edited {post.uri}"


async def cmd_delete(settings: Settings, args: argparse.Namespace) -> tuple[Result, str]:
    async with open_runtime(settings) as rt:
        post = await posting.delete(rt, args.post)
    return _post_json(post), f"Deleted {post.uri}"


async def cmd_pin(settings: Settings, args: argparse.Namespace) -> tuple[Result, str]:
    async with open_runtime(settings) as rt:
        post = await posting.set_pinned(rt, args.post, True)
    return _post_json(post), f"Pinned {post.uri}"


async def cmd_unpin(settings: Settings, args: argparse.Namespace) -> tuple[Result, str]:
    async with open_runtime(settings) as rt:
        post = await posting.set_pinned(rt, args.post, False)
    return _post_json(post), f"Unpinned {post.uri}"


async def cmd_react(settings: Settings, args: argparse.Namespace) -> tuple[Result, str]:
    kind = "like" if args.command in ("like", "unlike") else "announce"
    async with open_runtime(settings) as rt:
        if args.command in ("like", "boost"):
            activity = await interactions.react(rt, args.post, kind)
        else:
            activity = await interactions.undo_reaction(rt, args.post, kind)
    verb = {"like": "Liked", "unlike": "Unliked", "boost": "Boosted", "unboost": "Unboosted"}
    return {"activity": activity, "post": args.post}, f"{verb[args.command]} {args.post}"


async def cmd_block(settings: Settings, args: argparse.Namespace) -> tuple[Result, str]:
    async with open_runtime(settings) as rt:
        if args.command == "block":
            result = await interactions.block(rt, args.target)
            return result, f"Blocked {result['blocked']}"
        result = await interactions.unblock(rt, args.target)
        return result, f"Unblocked {result['unblocked']}"


async def cmd_timeline(settings: Settings, args: argparse.Namespace) -> tuple[Result, str]:
    async with open_runtime(settings) as rt:
        async with rt.sessions() as session:
            rows = (
                await session.execute(
                    select(TimelineEntry, Post)
                    .join(Post, Post.uri == TimelineEntry.post_uri)
                    .where(Post.deleted_at.is_(None))
                    .order_by(TimelineEntry.created_at.desc(), TimelineEntry.id.desc())
                    .limit(args.limit)
                )
            ).all()
    data = [
        {
            "id": post.uri,
            "url": post.url,
            "author": post.author_uri,
            "boosted_by": entry.boosted_by,
            "visibility": post.visibility,
            "summary": post.summary,
            "content": post.content,
            "text": html_to_text(post.content),
            "in_reply_to": post.in_reply_to,
            "published": iso(post.published_at),
            "edited": iso(post.edited_at),
        }
        for entry, post in rows
    ]
    lines = []
    for item in data:
        boost = f" (boosted by {item['boosted_by']})" if item["boosted_by"] else ""
        lines.append(f"{item['published']}  {item['author']}{boost}\n  {item['text']}")
    return data, "\n".join(lines) or "The timeline is empty."


async def cmd_deliveries(settings: Settings, args: argparse.Namespace) -> tuple[Result, str]:
    async with open_runtime(settings) as rt:
        async with rt.sessions() as session:
            post_uri = None
            if args.post:
                post = await post_store.get_post_by_uri_or_url(session, args.post)
                if post is None:
                    raise UserError(f"no post at {args.post}")
                post_uri = post.uri
            rows = await delivery_store.list_deliveries(
                session, state=args.state, post_uri=post_uri, limit=args.limit
            )
            history = await delivery_store.attempts_of(session, [d.id for d, _ in rows])
    data = [
        {
            "id": d.id,
            "activity": a.uri,
            "type": a.type,
            "inbox": d.inbox_url,
            "state": d.state,
            "attempts": d.attempts,
            "last_status": d.last_status,
            "last_error": d.last_error,
            "next_attempt_at": iso(d.next_attempt_at),
            "history": [
                {
                    "at": iso(t.attempted_at),
                    "status": t.status,
                    "error": t.error,
                    "scheme": t.scheme,
                }
                for t in history[d.id]
            ],
        }
        for d, a in rows
    ]
    lines = []
    for d, a in rows:
        lines.append(
            f"{d.state:<10} {d.attempts:>2}x {d.last_status or '-':>4} "
            f"{a.type:<8} {d.inbox_url}  {d.last_error or ''}"
        )
        lines += [
            f"    {iso(t.attempted_at)}  {t.status or '-':>4}  {t.scheme or ''}  {t.error or ''}"
            for t in history[d.id]
        ]
    text = "\n".join(lines)
    return data, text or "No deliveries."
