"""ActivityPub endpoints: actors, collections, activities and the inboxes."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from app.errors import BadRequest, NotFound, PayloadTooLarge
from app.services import inbox as inbox_service
from app.services.profile import actor_document, instance_actor_document
from app.store import follows as follow_store
from app.store.deliveries import get_outgoing
from app.web.negotiation import as2_response, prefers_as2
from app.web.pages import profile_page
from app.web.security import raw_headers, request_url, require_signed_get
from app.web.state import inbox_writer_of, keys_of, owner_of, runtime_of
from federation.builders import build_collection_page, build_ordered_collection

MAX_INBOX_BODY = inbox_service.MAX_BODY
PAGE_SIZE = 40


async def actor(request: Request) -> Response:
    owner = await owner_of(request, request.path_params["username"])
    if not prefers_as2(request):
        return await profile_page(request)
    return as2_response(actor_document(runtime_of(request), owner))


async def instance_actor(request: Request) -> Response:
    rt = runtime_of(request)
    if not prefers_as2(request):
        return RedirectResponse(rt.urls.profile(), status_code=302)
    # Never requires a signature: servers fetch it to verify our signed GETs (interop.md 2.5).
    return as2_response(instance_actor_document(rt))


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BadRequest("invalid Content-Length")
        if int(declared) > MAX_INBOX_BODY:
            raise PayloadTooLarge("body larger than 1 MiB")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_INBOX_BODY:
            raise PayloadTooLarge("body larger than 1 MiB")
        chunks.append(chunk)
    return b"".join(chunks)


async def inbox(request: Request) -> Response:
    """Personal and shared inbox: verify, bound, store, 202; processing happens in a worker."""
    if "username" in request.path_params:
        await owner_of(request, request.path_params["username"])
    rt = runtime_of(request)
    body = await _read_body(request)
    received = await inbox_service.receive(
        rt,
        keys_of(request),
        inbox_writer_of(request),
        method=request.method,
        url=request_url(request),
        headers=raw_headers(request),
        body=body,
    )
    return Response(
        json.dumps({"status": received.reason}), status_code=202, media_type="application/json"
    )


async def _paged(
    request: Request, collection_id: str, total: int, items: list[Any] | None
) -> Response:
    """A collection with ``totalItems``; ``?page=N`` returns one page of ``items``. With
    ``items=None`` only the count is shown (no ``first``: Mastodon reads that as hidden)."""
    page = request.query_params.get("page")
    if items is None:
        return as2_response(build_ordered_collection(collection_id=collection_id, total=total))
    if page is None:
        return as2_response(
            build_ordered_collection(
                collection_id=collection_id, total=total, first=f"{collection_id}?page=1"
            )
        )
    if not page.isdigit() or int(page) < 1:
        raise BadRequest("page must be a positive number")
    number = int(page)
    chunk = items[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]
    more = number * PAGE_SIZE < len(items)
    return as2_response(
        build_collection_page(
            page_id=f"{collection_id}?page={number}",
            part_of=collection_id,
            items=chunk,
            next_page=f"{collection_id}?page={number + 1}" if more else None,
            prev_page=f"{collection_id}?page={number - 1}" if number > 1 else None,
        )
    )


async def followers(request: Request) -> Response:
    owner = await owner_of(request, request.path_params["username"])
    await require_signed_get(request)
    rt = runtime_of(request)
    async with rt.sessions() as session:
        rows = await follow_store.list_followers(session, owner.id)
    items = [a.uri for _, a in rows] if rt.settings.show_follows else None
    return await _paged(request, rt.urls.followers(owner.username), len(rows), items)


async def following(request: Request) -> Response:
    owner = await owner_of(request, request.path_params["username"])
    await require_signed_get(request)
    rt = runtime_of(request)
    async with rt.sessions() as session:
        rows = await follow_store.list_following(session, owner.id, state="accepted")
    items = [a.uri for _, a in rows] if rt.settings.show_follows else None
    return await _paged(request, rt.urls.following(owner.username), len(rows), items)


async def featured_tags(request: Request) -> Response:
    owner = await owner_of(request, request.path_params["username"])
    await require_signed_get(request)
    rt = runtime_of(request)
    return as2_response(
        build_ordered_collection(
            collection_id=rt.urls.featured_tags(owner.username), total=0, items=[]
        )
    )


async def activity(request: Request) -> Response:
    rt = runtime_of(request)
    await require_signed_get(request)
    uri = rt.urls.activity(request.path_params["token"])
    async with rt.sessions() as session:
        row = await get_outgoing(session, uri)
    if row is None:
        raise NotFound("no such activity")
    document = json.loads(row.payload)
    if not prefers_as2(request):
        return RedirectResponse(rt.urls.profile(), status_code=302)
    return as2_response(document)
