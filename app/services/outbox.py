"""Sending activities: store them, queue one delivery per inbox, nudge the delivery worker."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import OutgoingActivity
from app.runtime import Runtime
from app.store.deliveries import enqueue_activity


def new_activity_id(rt: Runtime) -> str:
    """A fresh, dereferenceable activity id on this server."""
    return rt.urls.activity(uuid.uuid4().hex)


async def queue_activity(
    rt: Runtime,
    session: AsyncSession,
    *,
    local_actor_id: int,
    activity: Mapping[str, Any],
    inboxes: Iterable[str],
) -> OutgoingActivity:
    """Queue ``activity`` for every inbox (deduplicated) inside the caller's transaction.

    Never delivers to ourselves. The caller commits, then calls ``rt.wakeups.delivery.set()``.
    """
    own = rt.settings.base_url + "/"
    targets = [inbox for inbox in inboxes if not inbox.startswith(own)]
    return await enqueue_activity(
        session, local_actor_id=local_actor_id, activity=activity, inboxes=targets, now=rt.clock()
    )
