"""Post URLs: the Note (or its Tombstone), its Create, its replies, the outbox, pins and tags."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from app.db.models import Post
from app.errors import AppError, BadRequest, NotFound
from app.runtime import Runtime
from app.services.inbox import verify
from app.services.posting import note_document
from app.store import follows as follow_store
from app.store import posts as post_store
from app.web.negotiation import as2_response, prefers_as2
from app.web.pages import render
from app.web.security import raw_headers, request_url, require_signed_get
from app.web.state import keys_of, owner_of, runtime_of
from federation.activities import build_create, build_tombstone
from federation.builders import build_collection_page, build_ordered_collection
from federation.sanitize import html_to_text

PAGE_SIZE = 20


async def _may_see(request: Request, rt: Runtime, post: Post) -> bool:
    """Public and unlisted posts are for everyone; followers-only and direct posts only for a
    signed GET by a follower or an addressed actor (as Mastodon)."""
    if post.visibility in ("public", "unlisted"):
        return True
    if not any(
        name.lower() in ("signature", "signature-input") for name, _ in raw_headers(request)
    ):
        return False
    try:
        verified = await verify(
            rt, keys_of(request), request.method, request_url(request), raw_headers(request), None
        )
    except AppError:
        return False
    signer = verified.key.owner
    if signer in json.loads(post.to_json) + json.loads(post.cc_json):
        return True
    if post.visibility == "followers" and post.local_actor_id is not None:
        async with rt.sessions() as session:
            rows = await follow_store.list_followers(session, post.local_actor_id)
        return any(actor.uri == signer for _, actor in rows)
    return False


async def _load(request: Request) -> tuple[Runtime, Post]:
    owner = await owner_of(request, request.path_params["username"])
    rt = runtime_of(request)
    uri = f"{rt.urls.actor(owner.username)}/statuses/{request.path_params['token']}"
    async with rt.sessions() as session:
        post = await post_store.get_post(session, uri)
    if post is None:
        raise NotFound("no such post")
    # A tombstone reveals nothing, so deleted posts answer 410 whatever their visibility.
    if post.deleted_at is None and not await _may_see(request, rt, post):
        raise NotFound("no such post")
    return rt, post


async def _note(rt: Runtime, post: Post) -> dict[str, Any]:
    async with rt.sessions() as session:
        media = await post_store.media_of(session, post.id)
    return note_document(rt, post, media)


async def _html(request: Request, rt: Runtime, post: Post) -> Response:
    async with rt.sessions() as session:
        media = await post_store.media_of(session, post.id)
        counts = await post_store.interaction_counts(session, post.uri)
    return render(
        request,
        "post.html",
        settings=rt.settings,
        urls=rt.urls,
        post=post,
        media=media,
        counts=counts,
        excerpt=html_to_text(post.content)[:200],
    )


async def status(request: Request) -> Response:
    """The Note at its id (410 with a Tombstone once deleted); HTML for browsers."""
    rt, post = await _load(request)
    if post.deleted_at is not None:
        return as2_response(build_tombstone(post.uri, post.deleted_at), status=410)
    if not prefers_as2(request):
        return await _html(request, rt, post)
    await require_signed_get(request)
    return as2_response(await _note(rt, post))


async def status_page(request: Request) -> Response:
    """``/@user/TOKEN``: the post's page (or the Note for AS2 clients)."""
    rt, post = await _load(request)
    if post.deleted_at is not None:
        raise NotFound("this post was deleted") if not prefers_as2(request) else NotFound("gone")
    if prefers_as2(request):
        return as2_response(await _note(rt, post))
    return await _html(request, rt, post)


async def status_activity(request: Request) -> Response:
    rt, post = await _load(request)
    if post.deleted_at is not None:
        return as2_response(build_tombstone(f"{post.uri}/activity", post.deleted_at), status=410)
    await require_signed_get(request)
    note = await _note(rt, post)
    return as2_response(
        build_create(activity_id=f"{post.uri}/activity", actor=post.author_uri, note=note)
    )


async def status_replies(request: Request) -> Response:
    rt, post = await _load(request)
    await require_signed_get(request)
    async with rt.sessions() as session:
        replies = await post_store.replies_to(session, post.uri)
    collection_id = f"{post.uri}/replies"
    return as2_response(
        build_ordered_collection(
            collection_id=collection_id, total=len(replies), items=[r.uri for r in replies]
        )
    )


async def outbox(request: Request) -> Response:
    """The whole public history as a paged OrderedCollection of Create activities."""
    owner = await owner_of(request, request.path_params["username"])
    await require_signed_get(request)
    rt = runtime_of(request)
    outbox_id = rt.urls.outbox(owner.username)
    params = request.query_params
    async with rt.sessions() as session:
        total = await post_store.count_local_posts(session, owner.id)
        if "page" not in params:
            return as2_response(
                build_ordered_collection(
                    collection_id=outbox_id, total=total, first=f"{outbox_id}?page=true"
                )
            )
        max_id = params.get("max_id")
        if max_id is not None and not max_id.isdigit():
            raise BadRequest("max_id must be a number")
        posts = await post_store.local_posts_page(
            session, owner.id, before_id=int(max_id) if max_id else None, limit=PAGE_SIZE
        )
        items = []
        for post in posts:
            note = note_document(rt, post, await post_store.media_of(session, post.id))
            items.append(
                build_create(activity_id=f"{post.uri}/activity", actor=post.author_uri, note=note)
            )
    page_id = f"{outbox_id}?page=true" + (f"&max_id={max_id}" if max_id else "")
    next_page = f"{outbox_id}?page=true&max_id={posts[-1].id}" if len(posts) == PAGE_SIZE else None
    return as2_response(
        build_collection_page(page_id=page_id, part_of=outbox_id, items=items, next_page=next_page)
    )


async def featured(request: Request) -> Response:
    owner = await owner_of(request, request.path_params["username"])
    await require_signed_get(request)
    rt = runtime_of(request)
    async with rt.sessions() as session:
        pinned = await post_store.pinned_posts(session, owner.id)
        notes = [note_document(rt, p, await post_store.media_of(session, p.id)) for p in pinned]
    return as2_response(
        build_ordered_collection(
            collection_id=rt.urls.featured(owner.username), total=len(notes), items=notes
        )
    )


async def tag_page(request: Request) -> Response:
    rt = runtime_of(request)
    name = request.path_params["name"].lower()
    async with rt.sessions() as session:
        posts = await post_store.tagged_posts(session, name)
    return render(request, "tag.html", settings=rt.settings, urls=rt.urls, tag=name, posts=posts)
