"""Processes claimed incoming activities through the router; transient failures retry."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

from app.db.models import InboxItem
from app.inbox_handlers import HandlerContext, Ignored, Unhandled
from app.runtime import Runtime
from app.services.following import owner
from app.store.queue import claim_rows
from federation.errors import FetchError, ParseError
from federation.inbox import InboxRouter
from federation.parse import parse_activity
from federation.retry import backoff_delay

log = logging.getLogger("myna.jobs.inbox")
LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 8


async def process_inbox_batch(
    rt: Runtime, router: InboxRouter[HandlerContext], limit: int = 20
) -> int:
    """Claim and process up to ``limit`` due items; return how many were claimed."""
    table = InboxItem.__table__
    ids = await claim_rows(rt.engine, table, now=rt.clock(), lease=LEASE, limit=limit)  # type: ignore[arg-type]
    if not ids:
        return 0
    ctx = HandlerContext(rt, await owner(rt))
    for item_id in ids:
        await process_item(rt, router, ctx, item_id)
    return len(ids)


async def process_item(
    rt: Runtime, router: InboxRouter[HandlerContext], ctx: HandlerContext, item_id: int
) -> None:
    async with rt.sessions() as session:
        item = await session.get(InboxItem, item_id)
    if item is None:
        return
    state, error = "done", None
    try:
        activity = parse_activity(json.loads(item.payload))
        if not await router.dispatch(activity, ctx):
            state = "unhandled"
    except Unhandled as exc:
        state, error = "unhandled", str(exc)
    except Ignored as exc:
        state, error = "done", f"ignored: {exc}"
    except (ParseError, ValueError) as exc:
        state, error = "failed", f"unprocessable: {exc}"
    except FetchError as exc:
        state, error = "retry", f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # a bug in a handler must not stop the queue; retried, then failed
        log.exception("inbox.handler_error id=%s", item.activity_id)
        state, error = "retry", f"{type(exc).__name__}: {exc}"
    now = rt.clock()
    async with rt.writes.begin() as session:
        row = await session.get(InboxItem, item_id)
        if row is None:
            return
        row.locked_until, row.last_error = None, error
        if state == "retry" and row.attempts < MAX_ATTEMPTS:
            row.state = "pending"
            row.next_attempt_at = now + backoff_delay(row.attempts)
        else:
            row.state = "failed" if state == "retry" else state
            row.processed_at = now
    log.info(
        "inbox.processed id=%s type=%s state=%s error=%s",
        item.activity_id,
        item.activity_type,
        state,
        error,
    )
