"""``create_app(settings)``: the Starlette application; its lifespan wires everything."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette

from app.config import Settings
from app.jobs.runner import run_workers
from app.runtime import Clock, open_runtime, utcnow
from app.services.inbox import InboxWriter
from app.services.profile_updates import announce_profile_change
from app.services.remote import KeyResolver
from app.web.errors import EXCEPTION_HANDLERS
from app.web.pages import create_templates
from app.web.routes import ROUTES


def create_app(
    settings: Settings,
    *,
    clock: Clock = utcnow,
    transport: httpx.AsyncBaseTransport | None = None,
    run_workers_in_process: bool | None = None,
    announce_profile: bool = False,
) -> Starlette:
    """Build the application; nothing is opened until the lifespan starts."""
    workers = (
        settings.workers_in_process if run_workers_in_process is None else (run_workers_in_process)
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with open_runtime(settings, clock=clock, transport=transport) as rt:
            app.state.runtime = rt
            app.state.key_resolver = KeyResolver(rt)
            app.state.inbox_writer = InboxWriter(rt)
            if announce_profile:
                await announce_profile_change(rt)
            app.state.templates = create_templates()
            stop = asyncio.Event()
            task = asyncio.create_task(run_workers(rt, stop)) if workers else None
            try:
                yield
            finally:
                stop.set()
                if task is not None:
                    with contextlib.suppress(asyncio.CancelledError):
                        await asyncio.wait_for(task, timeout=15)

    return Starlette(routes=ROUTES, exception_handlers=EXCEPTION_HANDLERS, lifespan=lifespan)
