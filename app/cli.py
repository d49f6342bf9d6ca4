"""The `myna` command line: one function per command; `--json` prints one JSON document."""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy.exc import DBAPIError, OperationalError

from app.config import ConfigError, Settings, load_settings
from app.errors import AppError, UserError
from app.keys import ensure_keys
from app.logs import configure_logging
from app.runtime import open_runtime
from app.services import following as following_service
from app.store import actors as actor_store
from app.store import deliveries as delivery_store
from app.store import follows as follow_store
from app.store.notifications import list_notifications

Result = dict[str, Any] | list[Any]
Command = Callable[[Settings, argparse.Namespace], Awaitable[tuple[Result, str]]]


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


async def cmd_init(settings: Settings, args: argparse.Namespace) -> tuple[Result, str]:
    from app.db.migrate import upgrade_to_head_async
    from app.media import write_default_images

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    created_keys = ensure_keys(settings.keys_dir)
    await upgrade_to_head_async(settings.database_url)
    images = write_default_images(settings.media_dir, settings.display_name)
    password = None
    async with open_runtime(settings) as rt:
        async with rt.writes.begin() as session:
            owner = await actor_store.ensure_local_actor(session, settings.username, rt.clock())
            if owner.password_hash is None:
                password = secrets.token_urlsafe(18)
                owner.password_hash = PasswordHasher().hash(password)
    result = {
        "actor": settings.actor_url,
        "handle": f"@{settings.username}@{settings.domain}",
        "data_dir": str(settings.data_dir),
        "created_keys": created_keys,
        "created_images": images,
        "password": password,
    }
    lines = [f"Myna is ready: {result['handle']} ({settings.actor_url})"]
    if created_keys:
        lines.append(f"Created keys in {settings.keys_dir}: {', '.join(created_keys)}")
    if password:
        lines.append(f"Owner password (shown once, keep it safe): {password}")
    return result, "\n".join(lines)


async def cmd_migrate(settings: Settings, args: argparse.Namespace) -> tuple[Result, str]:
    from app.db.migrate import upgrade_to_head_async

    await upgrade_to_head_async(settings.database_url)
    return {"database": "up to date"}, "Database is up to date."


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from app.keys import load_keys
    from app.main import create_app

    load_keys(settings.keys_dir)  # fail early, with one line, when `myna init` never ran
    configure_logging(settings.log_level)
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        lifespan="on",
        access_log=False,
        log_level="warning",
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
    )
    print(
        f"Myna serves {settings.actor_url} on http://{settings.host}:{settings.port}",
        file=sys.stderr,
    )
    uvicorn.Server(config).run()
    return 0


async def cmd_worker(settings: Settings, args: argparse.Namespace) -> tuple[Result, str]:
    from app.jobs.runner import run_workers

    configure_logging(settings.log_level)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with open_runtime(settings) as rt:
        await run_workers(rt, stop)
    return {"worker": "stopped"}, "Worker stopped."


def _actor_row(actor: Any, state: str, since: Any) -> dict[str, Any]:
    handle = f"@{actor.username}@{actor.domain}" if actor.username else None
    return {
        "actor": actor.uri,
        "handle": handle,
        "name": actor.name,
        "state": state,
        "since": _iso(since),
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
            "created_at": _iso(n.created_at),
        }
        for n in rows
    ]
    text = "\n".join(f"{d['created_at']}  {d['type']}  {d['actor']}" for d in data)
    return data, text or "No notifications."


async def cmd_deliveries(settings: Settings, args: argparse.Namespace) -> tuple[Result, str]:
    async with open_runtime(settings) as rt:
        async with rt.sessions() as session:
            rows = await delivery_store.list_deliveries(
                session, state=args.state, activity_uri=args.post, limit=args.limit
            )
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
            "next_attempt_at": _iso(d.next_attempt_at),
        }
        for d, a in rows
    ]
    text = "\n".join(
        f"{d['state']:<10} {d['attempts']:>2}x {d['last_status'] or '-':>4} "
        f"{d['type']:<8} {d['inbox']}  {d['last_error'] or ''}"
        for d in data
    )
    return data, text or "No deliveries."


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="myna", description="Myna: a single-user fediverse server for AI-assisted posting."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Any, help_text: str) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.add_argument("--json", action="store_true", help="print one JSON document")
        command.set_defaults(handler=handler)
        return command

    add("init", cmd_init, "create keys, database and owner account (idempotent)")
    add("serve", cmd_serve, "serve HTTP with the workers in-process")
    add("worker", cmd_worker, "run the inbox and delivery workers only")
    add("migrate", cmd_migrate, "apply database migrations")
    add("followers", cmd_followers, "list followers").add_argument(
        "--pending", action="store_true", help="list follow requests awaiting approval"
    )
    add("following", cmd_following, "list accounts the owner follows")
    add("follow", cmd_follow, "follow an account").add_argument("target", metavar="HANDLE_OR_URL")
    add("unfollow", cmd_unfollow, "unfollow an account").add_argument(
        "target", metavar="HANDLE_OR_URL"
    )
    requests = add("requests", cmd_requests, "list, accept or reject follow requests")
    requests.add_argument("action", nargs="?", choices=["accept", "reject"])
    requests.add_argument("target", nargs="?", metavar="HANDLE_OR_URL")
    add("notifications", cmd_notifications, "list notifications").add_argument(
        "--limit", type=int, default=40
    )
    deliveries = add("deliveries", cmd_deliveries, "show outgoing deliveries and their state")
    deliveries.add_argument("--state", choices=["pending", "processing", "sent", "failed"])
    deliveries.add_argument("--post", metavar="POST_URL")
    deliveries.add_argument("--limit", type=int, default=100)
    return parser


def _fail(message: str, code: int = 1) -> int:
    print(f"myna: {message}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        if args.handler is cmd_serve:
            return int(cmd_serve(settings, args))
        result, text = asyncio.run(args.handler(settings, args))
    except (ConfigError, UserError) as exc:
        return _fail(str(exc))
    except AppError as exc:
        return _fail(exc.reason)
    except (OperationalError, DBAPIError, OSError) as exc:
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return _fail(f"cannot use the database or data directory: {first}")
    except KeyboardInterrupt:
        return 130
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=None))
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
