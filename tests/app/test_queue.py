"""Atomic claims of the durable queues: no row is claimed twice; dead workers' rows return."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from app.db.migrate import upgrade_to_head_async
from app.db.models import InboxItem
from app.db.session import create_engine, create_sessionmaker
from app.store.queue import claim_rows

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


async def _seed(url: str, count: int) -> None:
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine, immediate=True).begin() as session:
            for n in range(count):
                session.add(
                    InboxItem(
                        activity_id=f"https://remote.example/a/{n}",
                        activity_type="Like",
                        actor_uri="https://remote.example/users/a",
                        signer_key_id="k",
                        payload="{}",
                        state="pending",
                        attempts=0,
                        next_attempt_at=NOW,
                        received_at=NOW,
                    )
                )
    finally:
        await engine.dispose()


async def test_concurrent_claimers_never_share_a_row(database_url: str) -> None:
    await upgrade_to_head_async(database_url)
    await _seed(database_url, 200)
    table = InboxItem.__table__
    engines = [create_engine(database_url) for _ in range(4)]  # separate pools, like processes
    claimed: list[int] = []

    async def worker(engine) -> None:  # type: ignore[no-untyped-def]
        while ids := await claim_rows(engine, table, now=NOW, lease=timedelta(minutes=5), limit=7):
            claimed.extend(ids)
            await asyncio.sleep(0)

    try:
        await asyncio.gather(*(worker(engine) for engine in engines))
    finally:
        for engine in engines:
            await engine.dispose()
    assert len(claimed) == 200
    assert len(set(claimed)) == 200


async def test_expired_lease_is_claimed_again_and_future_rows_wait(database_url: str) -> None:
    await upgrade_to_head_async(database_url)
    await _seed(database_url, 3)
    engine = create_engine(database_url)
    table = InboxItem.__table__
    try:
        first = await claim_rows(engine, table, now=NOW, lease=timedelta(minutes=5), limit=10)
        assert first == [1, 2, 3]
        assert await claim_rows(engine, table, now=NOW, lease=timedelta(minutes=5), limit=10) == []
        later = NOW + timedelta(minutes=6)
        again = await claim_rows(engine, table, now=later, lease=timedelta(minutes=5), limit=10)
        assert again == [1, 2, 3]
        async with create_sessionmaker(engine)() as session:
            item = await session.get(InboxItem, 1)
            assert item is not None and item.attempts == 2 and item.state == "processing"
    finally:
        await engine.dispose()
