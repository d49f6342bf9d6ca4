"""The `myna` command line: the parser and the error boundary; commands live in app/commands."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import DBAPIError, OperationalError

from app.commands import generation, posting, setup, social
from app.commands import schedules as schedule_commands
from app.config import ConfigError, load_settings
from app.errors import AppError, UserError

# Kept importable from here: tests and scripts call cmd_init directly.
cmd_init = setup.cmd_init
cmd_serve = setup.cmd_serve


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

    add("init", setup.cmd_init, "create keys, database and owner account (idempotent)")
    add("serve", setup.cmd_serve, "serve HTTP with the workers in-process")
    add("worker", setup.cmd_worker, "run the inbox and delivery workers only")
    add("migrate", setup.cmd_migrate, "apply database migrations")

    post = add("post", posting.cmd_post, "publish a post; prints its id")
    post.add_argument("text")
    post.add_argument(
        "--visibility", default="public", choices=["public", "unlisted", "followers", "direct"]
    )
    post.add_argument("--cw", metavar="TEXT", help="content warning")
    post.add_argument("--reply-to", metavar="URL")
    post.add_argument("--image", action="append", default=[], metavar="PATH")
    post.add_argument(
        "--alt",
        action="append",
        default=[],
        metavar="TEXT",
        help="alt text of the preceding --image",
    )
    post.add_argument("--language", metavar="CODE")
    edit = add("edit", posting.cmd_edit, "change a post's text (sends an Update)")
    edit.add_argument("post", metavar="POST_URL")
    edit.add_argument("text")
    edit.add_argument("--cw", metavar="TEXT")
    for name, handler, text in (
        ("delete", posting.cmd_delete, "delete a post"),
        ("pin", posting.cmd_pin, "pin a post on the profile"),
        ("unpin", posting.cmd_unpin, "unpin a post"),
    ):
        add(name, handler, text).add_argument("post", metavar="POST_URL")
    for name, text in (
        ("like", "like a post"),
        ("unlike", "undo a like"),
        ("boost", "boost a post"),
        ("unboost", "undo a boost"),
    ):
        add(name, posting.cmd_react, text).add_argument("post", metavar="POST_URL")
    add("block", posting.cmd_block, "block an account or a domain").add_argument(
        "target", metavar="HANDLE_OR_URL_OR_DOMAIN"
    )
    add("unblock", posting.cmd_block, "unblock an account or a domain").add_argument(
        "target", metavar="HANDLE_OR_URL_OR_DOMAIN"
    )
    add("timeline", posting.cmd_timeline, "posts of accounts the owner follows").add_argument(
        "--limit", type=int, default=40
    )

    add("followers", social.cmd_followers, "list followers").add_argument(
        "--pending", action="store_true", help="list follow requests awaiting approval"
    )
    add("following", social.cmd_following, "list accounts the owner follows")
    add("follow", social.cmd_follow, "follow an account").add_argument(
        "target", metavar="HANDLE_OR_URL"
    )
    add("unfollow", social.cmd_unfollow, "unfollow an account").add_argument(
        "target", metavar="HANDLE_OR_URL"
    )
    requests = add("requests", social.cmd_requests, "list, accept or reject follow requests")
    requests.add_argument("action", nargs="?", choices=["accept", "reject"])
    requests.add_argument("target", nargs="?", metavar="HANDLE_OR_URL")
    add("notifications", social.cmd_notifications, "list notifications").add_argument(
        "--limit", type=int, default=40
    )
    deliveries = add(
        "deliveries", posting.cmd_deliveries, "show outgoing deliveries and their state"
    )
    deliveries.add_argument("--state", choices=["pending", "processing", "sent", "failed"])
    deliveries.add_argument("--post", metavar="POST_URL")
    deliveries.add_argument("--limit", type=int, default=100)

    gen = add("generate", generation.cmd_generate, "generate candidate posts (drafts by default)")
    gen.add_argument("--persona", metavar="NAME", help="persona to write as (default: default)")
    gen.add_argument("--prompt", metavar="TEXT", help="topic or instructions for this post")
    gen.add_argument("--image", action="store_true", help="add a generated image to each")
    gen.add_argument("--candidates", type=int, default=1, metavar="N", help="how many (1-8)")
    mode = gen.add_mutually_exclusive_group()
    mode.add_argument("--publish", action="store_true", help="publish the best candidate now")
    mode.add_argument("--draft", action="store_true", help="keep drafts for review (default)")
    drafts = add("drafts", generation.cmd_drafts, "list, show or edit drafts awaiting review")
    drafts.add_argument("action", nargs="?", choices=["show", "edit"])
    drafts.add_argument("draft", nargs="?", metavar="DRAFT_ID")
    drafts.add_argument("text", nargs="?", metavar="TEXT")
    drafts.add_argument("--state", choices=[*generation.REVIEW_STATES, "published", "rejected"])
    drafts.add_argument("--all", action="store_true", help="every state, published included")
    drafts.add_argument("--limit", type=int, default=50)
    approve = add("approve", generation.cmd_approve, "publish a draft now or at --at TIME")
    approve.add_argument("draft", metavar="DRAFT_ID")
    approve.add_argument("--at", metavar="TIME", help="ISO 8601 (UTC default), +30m, +2h, HH:MM")
    add("reject", generation.cmd_reject, "reject a draft").add_argument("draft", metavar="DRAFT_ID")
    persona = add("personas", generation.cmd_personas, "list, show, add, change or remove personas")
    persona.add_argument("action", nargs="?", choices=["show", "add", "set", "remove"])
    persona.add_argument("name", nargs="?", metavar="NAME")
    persona.add_argument("--system", metavar="TEXT", help="system prompt")
    persona.add_argument("--template", metavar="TEXT", help="jinja2 prompt template")
    persona.add_argument("--template-file", metavar="PATH", help="read the template from a file")
    persona.add_argument("--language", metavar="CODE")
    persona.add_argument("--visibility", choices=["public", "unlisted", "followers"])
    persona.add_argument("--hashtags", metavar="TAGS", help='e.g. "Birds NatureNotes" ("" clears)')
    persona.add_argument("--max-per-day", type=int, metavar="N", help="published posts per day")

    sched = add("schedules", schedule_commands.cmd_schedules, "list, add or change schedules")
    sched.add_argument("action", nargs="?", choices=["add", "enable", "disable", "remove", "runs"])
    sched.add_argument("name", nargs="?", metavar="NAME")
    sched.add_argument("--cron", metavar="EXPR", help="5-field cron, e.g. '0 9 * * mon-fri'")
    sched.add_argument("--tz", default="UTC", metavar="ZONE", help="IANA zone (default UTC)")
    sched.add_argument("--persona", metavar="NAME", help="persona to write as (default: default)")
    sched.add_argument("--prompt", metavar="TEXT", help="topic or instructions for each post")
    sched.add_argument("--image", action="store_true", help="add a generated image")
    sched.add_argument("--candidates", type=int, default=1, metavar="N", help="how many (1-8)")
    sched_mode = sched.add_mutually_exclusive_group()
    sched_mode.add_argument("--publish", action="store_true", help="publish the best at once")
    sched_mode.add_argument("--draft", action="store_true", help="keep drafts for review")
    sched.add_argument("--limit", type=int, default=50, help="runs to show (with `runs`)")
    return parser


def _fail(message: str, code: int = 1) -> int:
    print(f"myna: {message}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        if args.handler is setup.cmd_serve:
            return int(setup.cmd_serve(settings, args))
        result, text = asyncio.run(args.handler(settings, args))
    except (ConfigError, UserError) as exc:
        return _fail(str(exc))
    except AppError as exc:
        return _fail(exc.reason)
    except (OperationalError, DBAPIError, OSError) as exc:
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        if "no such table" in first or ("relation" in first and "does not exist" in first):
            return _fail("the database schema is out of date: run `myna migrate`")
        return _fail(f"cannot use the database or data directory: {first}")
    except KeyboardInterrupt:
        return 130
    try:
        print(json.dumps(result, ensure_ascii=False) if args.json else text)
        sys.stdout.flush()
    except BrokenPipeError:  # `myna drafts | head`: the reader left, which is not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main())
