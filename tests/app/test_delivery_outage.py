"""A follower's server goes down and comes back: the post arrives once it recovers.

The inbox answers 503 with ``Retry-After``, then 500, then 202. The worker is driven batch by
batch with a settable clock (no sleeping): nothing is attempted before it is due, every
attempt's status is recorded, and the activity is delivered exactly once.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.config import Settings
from app.db.models import Delivery
from app.jobs.delivery_worker import process_delivery_batch
from app.runtime import Runtime, open_runtime
from app.services.outbox import new_activity_id, queue_activity
from app.store.actors import get_local_actor
from app.store.deliveries import attempts_of
from tests.conftest import Clock

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
INBOX = "https://down.example/users/friend/inbox"
SECOND = timedelta(seconds=1)


class FlakyInbox:
    """Answers the scripted statuses in turn (the last one forever), recording each request."""

    def __init__(self, clock: Clock, script: list[tuple[int, dict[str, str]]]) -> None:
        self.clock = clock
        self.script = script
        self.seen: list[tuple[datetime, int, str]] = []  # (clock time, status, activity id)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        status, headers = self.script[min(len(self.seen), len(self.script) - 1)]
        activity_id = json.loads(request.content)["id"]
        self.seen.append((self.clock(), status, activity_id))
        return httpx.Response(status, headers=headers)


@pytest.fixture
async def rt(initialised: Settings, clock: Clock) -> AsyncIterator[Runtime]:
    clock.now = NOW
    unused = httpx.MockTransport(lambda request: httpx.Response(599))
    async with open_runtime(initialised, clock=clock, transport=unused) as runtime:
        yield runtime


async def _row(rt: Runtime) -> Delivery:
    async with rt.sessions() as session:
        row = await session.scalar(select(Delivery).where(Delivery.inbox_url == INBOX))
    assert row is not None
    return row


async def test_inbox_that_is_down_receives_the_post_once_it_recovers(
    rt: Runtime, clock: Clock
) -> None:
    inbox = FlakyInbox(clock, [(503, {"Retry-After": "600"}), (500, {}), (202, {})])
    rt.http = httpx.AsyncClient(transport=httpx.MockTransport(inbox))
    async with rt.writes.begin() as session:
        me = await get_local_actor(session, rt.settings.username)
        assert me is not None
        activity_id = new_activity_id(rt)
        note = {"id": activity_id + "/note", "type": "Note", "content": "hello"}
        activity: dict[str, Any] = {"id": activity_id, "type": "Create", "object": note}
        activity["actor"] = rt.settings.actor_url
        await queue_activity(rt, session, local_actor_id=me.id, activity=activity, inboxes=[INBOX])

    # 1. Down: 503 asking for ten minutes, longer than the first backoff (15-25 s).
    assert await process_delivery_batch(rt) == 1
    row = await _row(rt)
    assert (row.state, row.attempts, row.last_status) == ("pending", 1, 503)
    assert row.next_attempt_at == NOW + timedelta(minutes=10)

    # Nothing goes out before it is due.
    clock.now = row.next_attempt_at - SECOND
    assert await process_delivery_batch(rt) == 0
    assert len(inbox.seen) == 1

    # 2. Still failing: 500, retried after the second backoff step (16-37 s).
    clock.now = row.next_attempt_at
    assert await process_delivery_batch(rt) == 1
    row = await _row(rt)
    assert (row.state, row.attempts, row.last_status, row.last_error) == (
        "pending",
        2,
        500,
        "HTTP 500",
    )
    assert clock.now + timedelta(seconds=16) <= row.next_attempt_at
    assert row.next_attempt_at <= clock.now + timedelta(seconds=37)
    clock.now = row.next_attempt_at - SECOND
    assert await process_delivery_batch(rt) == 0
    assert len(inbox.seen) == 2

    # 3. Back up: delivered, and never again.
    clock.now = row.next_attempt_at
    assert await process_delivery_batch(rt) == 1
    row = await _row(rt)
    assert (row.state, row.attempts, row.last_status, row.last_error) == ("sent", 3, 202, None)
    clock.now += timedelta(days=4)
    assert await process_delivery_batch(rt) == 0

    assert [status for _, status, _ in inbox.seen] == [503, 500, 202]
    assert [activity for _, _, activity in inbox.seen] == [activity_id] * 3
    assert [seen_at for seen_at, _, _ in inbox.seen] == [
        NOW,
        NOW + timedelta(minutes=10),
        clock.now - timedelta(days=4),
    ]
    assert sum(1 for _, status, _ in inbox.seen if 200 <= status < 300) == 1

    # Every attempt's status and error stays visible (`myna deliveries` prints this history).
    async with rt.sessions() as session:
        (history,) = (await attempts_of(session, [row.id])).values()
    assert [(t.status, t.error) for t in history] == [
        (503, "HTTP 503"),
        (500, "HTTP 500"),
        (202, None),
    ]
    assert [t.attempted_at for t in history] == [seen_at for seen_at, _, _ in inbox.seen]
    await rt.http.aclose()
