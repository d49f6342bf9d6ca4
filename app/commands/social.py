"""Follows, follow requests and notifications."""

from __future__ import annotations

import argparse
from typing import Any

from app.commands.base import Result, iso
from app.config import Settings
from app.errors import UserError
from app.runtime import open_runtime
from app.services import following as following_service
from app.store import follows as follow_store
from app.store.notifications import list_notifications


def _actor_row(actor: Any, state: str, since: Any) -> dict[str, Any]:
    handle = f"@{actor.username}@{actor.domain}" if actor.username else None
    return {
        "actor": actor.uri,
        "handle": handle,
        "name": actor.name,
        "state": state,
        "since": iso(since),
    }


def _table(rows: list[dict[str, Any]], empty: str) -> str:
    if not rows:
        return empty
    return "\n".join(f"{r['handle'] or r['actor']}  {r['state']}  {r['actor']}" for r in rows)


async def cmd_followers(settings: Settings, args: argparse.Namespace) -> tuple[Result, str]:
    async with open_runtime(settings) as rt:
        me = await following_service.owner(rt)
        async with rt.sessions() as session:
            rows = await follow_store.list_followers(
                session, me.id, state="pending" if args.pending else "accepted"
            )
    data = [_actor_row(a, f.state, f.created_at) for f, a in rows]
    return data, _table(data, "No follow requests." if args.pending else "No followers yet.")


async def cmd_following(settings: Settings, args: argparse.Namespace) -> tuple[Result, str]:
    async with open_runtime(settings) as rt:
        me = await following_service.owner(rt)
        async with rt.sessions() as session:
            rows = await follow_store.list_following(session, me.id)
    data = [_actor_row(a, f.state, f.created_at) for f, a in rows]
    return data, _table(data, "Not following anyone.")


async def cmd_follow(settings: Settings, args: argparse.Namespace) -> tuple[Result, str]:
    async with open_runtime(settings) as rt:
        row, remote = await following_service.follow(rt, args.target)
    data = _actor_row(remote, row.state, row.created_at)
    return data, f"Follow sent to {remote.uri} ({row.state})."


async def cmd_unfollow(settings: Settings, args: argparse.Namespace) -> tuple[Result, str]:
    async with open_runtime(settings) as rt:
        remote = await following_service.unfollow(rt, args.target)
    return {"actor": remote.uri, "state": "unfollowed"}, f"Unfollowed {remote.uri}."


async def cmd_requests(settings: Settings, args: argparse.Namespace) -> tuple[Result, str]:
    if args.action is None:
        args.pending = True
        return await cmd_followers(settings, args)
    if args.target is None:
        raise UserError(f"`myna requests {args.action}` needs the requester's handle or URL")
    async with open_runtime(settings) as rt:
        remote = await following_service.answer_follow_request(
            rt, args.target, accept=args.action == "accept"
        )
    state = "accepted" if args.action == "accept" else "rejected"
    return {"actor": remote.uri, "state": state}, f"Follow request from {remote.uri} {state}."


async def cmd_notifications(settings: Settings, args: argparse.Namespace) -> tuple[Result, str]:
    async with open_runtime(settings) as rt:
        me = await following_service.owner(rt)
        async with rt.sessions() as session:
            rows = await list_notifications(session, me.id, limit=args.limit)
    data = [
        {
            "id": n.id,
            "type": n.kind,
            "actor": n.actor_uri,
            "object": n.object_uri,
            "activity": n.activity_id,
            "created_at": iso(n.created_at),
        }
        for n in rows
    ]
    text = "\n".join(f"{d['created_at']}  {d['type']}  {d['actor']}" for d in data)
    return data, text or "No notifications."
