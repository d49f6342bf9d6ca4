"""Delivers claimed rows of the delivery queue: signed afresh per attempt, retried with backoff."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy import select

from app.db.models import Delivery, LocalActor, OutgoingActivity
from app.runtime import Runtime
from app.store.deliveries import get_host_scheme, set_host_scheme
from app.store.queue import claim_rows
from federation.delivery import deliver
from federation.httpsig import Scheme, Signer
from federation.parse import host_of
from federation.retry import (
    MAX_ATTEMPTS,
    Outcome,
    backoff_delay,
    classify_status,
    parse_retry_after,
)

log = logging.getLogger("myna.jobs.delivery")
LEASE = timedelta(minutes=2)
CONCURRENCY = 16


async def process_delivery_batch(rt: Runtime, limit: int = 64) -> int:
    """Claim up to ``limit`` due deliveries and attempt them concurrently; return the count."""
    table = Delivery.__table__
    ids = await claim_rows(rt.engine, table, now=rt.clock(), lease=LEASE, limit=limit)  # type: ignore[arg-type]
    if not ids:
        return 0
    semaphore = asyncio.Semaphore(CONCURRENCY)

    async def one(delivery_id: int) -> None:
        async with semaphore:
            await attempt_delivery(rt, delivery_id)

    await asyncio.gather(*(one(i) for i in ids))
    return len(ids)


async def attempt_delivery(rt: Runtime, delivery_id: int) -> None:
    """One attempt of one delivery; records status, error and the next attempt time."""
    async with rt.sessions() as session:
        row = (
            await session.execute(
                select(Delivery, OutgoingActivity, LocalActor.username)
                .join(OutgoingActivity, OutgoingActivity.id == Delivery.activity_id)
                .join(LocalActor, LocalActor.id == OutgoingActivity.local_actor_id)
                .where(Delivery.id == delivery_id)
            )
        ).first()
        if row is None:
            return
        delivery, activity, username = row
        host = host_of(delivery.inbox_url)
        remembered = await get_host_scheme(session, host)
    signer = Signer(rt.urls.actor_key(username), rt.keys.actor_rsa)
    first = Scheme(remembered) if remembered in {s.value for s in Scheme} else None
    result = await deliver(
        rt.http, delivery.inbox_url, activity.payload.encode(), signer, first=first, clock=rt.clock
    )
    now = rt.clock()
    outcome = (
        Outcome.PERMANENT
        if result.blocked
        else (classify_status(result.status) if result.status is not None else Outcome.RETRY)
    )
    async with rt.writes.begin() as session:
        current = await session.get(Delivery, delivery_id)
        if current is None:
            return
        current.last_status = result.status
        current.last_error = result.error or (None if result.ok else f"HTTP {result.status}")
        current.locked_until, current.updated_at = None, now
        if outcome is Outcome.SENT:
            current.state = "sent"
            if remembered != result.scheme.value:
                await set_host_scheme(session, host, result.scheme.value, now)
        elif outcome is Outcome.RETRY and current.attempts < MAX_ATTEMPTS:
            current.state = "pending"
            wait = now + backoff_delay(current.attempts)
            after = parse_retry_after(result.retry_after, now)
            current.next_attempt_at = max(wait, after) if after else wait
        else:
            current.state = "failed"
    log.info(
        "delivery.attempt id=%s inbox=%s status=%s scheme=%s outcome=%s attempt=%s",
        delivery_id,
        delivery.inbox_url,
        result.status,
        result.scheme.value,
        outcome.value,
        current.attempts,
    )
