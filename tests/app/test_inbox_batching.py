"""Inbox group commits: concurrent POSTs are stored together in shared transactions, each
answered 202 only once its own row is committed, and an activity sent twice at once (as to the
personal and the shared inbox) is stored once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import select

from app.db.models import InboxItem
from app.services import inbox as inbox_service
from app.store.inbox import NewInboxItem
from tests.conftest import AsgiApp
from tests.support.fake_remote import (
    FakeActor,
    FakeRemote,
    activity,
    pooled_rsa_key,
    signed_headers,
)

BASE = "https://myna.test"
MYNA = f"{BASE}/users/myna"
INBOX = f"{MYNA}/inbox"
SHARED = f"{BASE}/inbox"


@pytest.fixture
def alice(fake_remote: FakeRemote) -> FakeActor:
    return fake_remote.add_actor("https://remote.example", "alice", key=pooled_rsa_key(0))


async def post(asgi: AsgiApp, actor: FakeActor, doc: dict[str, Any], url: str = INBOX) -> Any:
    body = json.dumps(doc).encode()
    headers = signed_headers(actor, url, body, now=asgi.rt.clock())
    return await asgi.client.post(url.removeprefix(BASE), content=body, headers=headers)


async def test_concurrent_posts_are_stored_in_group_commits_and_duplicates_once(
    asgi: AsgiApp, alice: FakeActor, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches: list[int] = []
    insert = inbox_service.insert_inbox_items

    async def counting_insert(session: Any, items: Sequence[NewInboxItem]) -> list[bool]:
        batches.append(len(items))
        return await insert(session, items)

    monkeypatch.setattr(inbox_service, "insert_inbox_items", counting_insert)
    warm = await post(asgi, alice, activity(alice, "Follow", MYNA, "warm-up"))  # caches the key
    assert warm.status_code == 202, warm.text
    asgi.rt.wakeups.inbox.clear()

    follows = [activity(alice, "Follow", MYNA, str(n)) for n in range(20)]
    twice = activity(alice, "Follow", MYNA, "twice")
    responses = await asyncio.gather(
        *(post(asgi, alice, doc) for doc in follows),
        post(asgi, alice, twice, INBOX),
        post(asgi, alice, twice, SHARED),
    )

    assert [r.status_code for r in responses] == [202] * 22, [r.text for r in responses]
    assert [r.json()["status"] for r in responses[:20]] == ["accepted"] * 20
    assert sorted(r.json()["status"] for r in responses[20:]) == ["accepted", "duplicate"]
    async with asgi.rt.sessions() as session:
        stored = (await session.scalars(select(InboxItem.activity_id))).all()
    expected = [doc["id"] for doc in follows] + [
        twice["id"],
        f"{alice.id}/activities/follow-warm-up",
    ]
    assert sorted(stored) == sorted(expected)
    assert asgi.rt.wakeups.inbox.is_set()
    assert sum(batches) == 23 and max(batches) > 1, batches  # several activities per commit
