"""Runs the durable workers until told to stop: in `myna serve` or as `myna worker`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from app.inbox_handlers import build_router
from app.jobs.delivery_worker import process_delivery_batch
from app.jobs.inbox_worker import process_inbox_batch
from app.jobs.scheduler import process_schedules
from app.runtime import Runtime

log = logging.getLogger("myna.jobs")
POLL_SECONDS = 1.0


async def _loop(
    name: str, batch: Callable[[], Awaitable[int]], wakeup: asyncio.Event, stop: asyncio.Event
) -> None:
    while not stop.is_set():
        try:
            claimed = await batch()
        except Exception:  # the database may be briefly unavailable: log, wait, go on
            log.exception("worker.error worker=%s", name)
            claimed = 0
        if claimed:
            continue
        wakeup.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(_first(wakeup, stop), timeout=POLL_SECONDS)


async def _first(*events: asyncio.Event) -> None:
    waiters = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


async def run_workers(rt: Runtime, stop: asyncio.Event) -> None:
    """Run the inbox, delivery and schedule workers until ``stop`` is set."""
    router = build_router()
    lease = timedelta(seconds=rt.settings.delivery_lease_seconds)
    log.info("workers.start")
    await asyncio.gather(
        _loop("inbox", lambda: process_inbox_batch(rt, router), rt.wakeups.inbox, stop),
        _loop(
            "delivery", lambda: process_delivery_batch(rt, lease=lease), rt.wakeups.delivery, stop
        ),
        _loop("scheduler", lambda: process_schedules(rt), asyncio.Event(), stop),
    )
    log.info("workers.stop")
