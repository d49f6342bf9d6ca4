"""Following others, and answering others' follow requests."""

from __future__ import annotations

import ipaddress
import json
import logging
from typing import Any

from app.db.models import Following, LocalActor, RemoteActor
from app.errors import UserError
from app.runtime import Runtime
from app.services.outbox import new_activity_id, queue_activity
from app.services.remote import resolve_actor
from app.store import actors as actor_store
from app.store import follows as follow_store
from app.store.notifications import add_notification
from federation.builders import build_accept, build_follow, build_reject, build_undo
from federation.errors import FetchError, ParseError, WebFingerError
from federation.webfinger import resolve_handle

log = logging.getLogger("myna.following")


async def owner(rt: Runtime) -> LocalActor:
    async with rt.sessions() as session:
        actor = await actor_store.get_local_actor(session, rt.settings.username)
    if actor is None:
        raise UserError("the database has no owner account: run `myna init` first")
    return actor


def _webfinger_scheme(rt: Runtime, host: str) -> str:
    bare = host.rsplit(":", 1)[0].strip("[]") if host.count(":") <= 1 else host.strip("[]")
    if bare == "localhost":
        return "http" if rt.settings.allow_private_network else "https"
    try:
        ipaddress.ip_address(bare)
    except ValueError:
        return "https"
    return "http" if rt.settings.allow_private_network else "https"


async def resolve_target(rt: Runtime, target: str) -> RemoteActor:
    """Resolve a handle (``user@host``, ``@user@host``) or an actor URL to a cached actor."""
    target = target.strip()
    try:
        if target.startswith(("http://", "https://")):
            uri = target
        else:
            handle = target.removeprefix("acct:").lstrip("@")
            if "@" not in handle:
                raise UserError(f"not a handle or URL: {target!r} (expected user@host)")
            host = handle.split("@", 1)[1]
            uri = await resolve_handle(rt.http, handle, scheme=_webfinger_scheme(rt, host))
        if uri.startswith(rt.settings.base_url + "/"):
            raise UserError("that is an account on this server")
        return await resolve_actor(rt, uri)
    except (FetchError, ParseError, WebFingerError) as exc:
        raise UserError(f"cannot resolve {target}: {exc}") from exc


async def follow(rt: Runtime, target: str) -> tuple[Following, RemoteActor]:
    """Send a Follow to ``target`` (idempotent: an existing follow is returned as it is)."""
    me = await owner(rt)
    remote = await resolve_target(rt, target)
    now = rt.clock()
    async with rt.writes.begin() as session:
        existing = await follow_store.get_following(session, me.id, remote.id)
        if existing is not None and existing.state in ("pending", "accepted"):
            return existing, remote
        follow_id = new_activity_id(rt)
        activity = build_follow(
            follow_id=follow_id, actor=rt.urls.actor(me.username), target=remote.uri
        )
        if existing is None:
            existing = Following(
                local_actor_id=me.id,
                remote_actor_id=remote.id,
                created_at=now,
                follow_activity_id=follow_id,
                state="pending",
                updated_at=now,
            )
            session.add(existing)
        else:
            existing.follow_activity_id, existing.state, existing.updated_at = (
                follow_id,
                "pending",
                now,
            )
        await queue_activity(
            rt, session, local_actor_id=me.id, activity=activity, inboxes=[remote.inbox]
        )
    rt.wakeups.delivery.set()
    log.info("follow.sent target=%s id=%s", remote.uri, follow_id)
    return existing, remote


async def unfollow(rt: Runtime, target: str) -> RemoteActor:
    """Send ``Undo{Follow}`` and forget the follow; UserError if we do not follow them."""
    me = await owner(rt)
    remote = await resolve_target(rt, target)
    async with rt.writes.begin() as session:
        row = await follow_store.get_following(session, me.id, remote.id)
        if row is None:
            raise UserError(f"not following {remote.uri}")
        original = build_follow(
            follow_id=row.follow_activity_id, actor=rt.urls.actor(me.username), target=remote.uri
        )
        undo = build_undo(
            undo_id=new_activity_id(rt), actor=rt.urls.actor(me.username), activity=original
        )
        await queue_activity(
            rt, session, local_actor_id=me.id, activity=undo, inboxes=[remote.inbox]
        )
        await session.delete(row)
    rt.wakeups.delivery.set()
    return remote


async def answer_follow_request(rt: Runtime, target: str, *, accept: bool) -> RemoteActor:
    """Accept or reject a pending follow request from ``target`` (manual approval)."""
    me = await owner(rt)
    remote = await resolve_target(rt, target)
    async with rt.writes.begin() as session:
        row = await follow_store.get_follower(session, me.id, remote.id)
        if row is None or row.state != "pending":
            raise UserError(f"no pending follow request from {remote.uri}")
        follow_doc: dict[str, Any] = json.loads(row.follow_activity)
        actor_url = rt.urls.actor(me.username)
        if accept:
            answer = build_accept(accept_id=new_activity_id(rt), actor=actor_url, follow=follow_doc)
            row.state, row.updated_at = "accepted", rt.clock()
        else:
            answer = build_reject(reject_id=new_activity_id(rt), actor=actor_url, follow=follow_doc)
            await session.delete(row)
        await queue_activity(
            rt, session, local_actor_id=me.id, activity=answer, inboxes=[remote.inbox]
        )
        if accept:
            await add_notification(
                session,
                local_actor_id=me.id,
                kind="follow",
                actor_uri=remote.uri,
                now=rt.clock(),
                activity_id=row.follow_activity_id,
            )
    rt.wakeups.delivery.set()
    return remote
