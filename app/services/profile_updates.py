"""Tell followers when the profile changed: an ``Update`` of the actor, once per change.

The profile comes from settings and files (name, bio, fields, images, keys), so a change shows
only when a process starts; ``myna serve`` and ``myna worker`` call this at start-up.
"""

from __future__ import annotations

import hashlib
import json
import logging

from sqlalchemy import select

from app.db.models import OutgoingActivity
from app.runtime import Runtime
from app.services.audience import inboxes
from app.services.following import owner
from app.services.outbox import queue_activity
from app.services.profile import actor_document
from federation.activities import build_update
from federation.vocab import PUBLIC

log = logging.getLogger("myna.profile")


def _digest(document: dict[str, object]) -> str:
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:16]


async def announce_profile_change(rt: Runtime) -> bool:
    """Queue an ``Update`` of the owner's actor to followers when the actor document differs
    from the last one announced (or none was); return whether one was queued."""
    me = await owner(rt)
    document = actor_document(rt, me)
    actor_id = str(document["id"])
    prefix = f"{actor_id}#profile/"
    digest = _digest(document)
    async with rt.writes.begin() as session:
        last = await session.scalar(
            select(OutgoingActivity.uri)
            .where(OutgoingActivity.uri.startswith(prefix))
            .order_by(OutgoingActivity.id.desc())
            .limit(1)
        )
        if last is not None and last.removeprefix(prefix).split("/", 1)[0] == digest:
            return False
        update = build_update(
            activity_id=f"{prefix}{digest}/{int(rt.clock().timestamp())}",
            actor=actor_id,
            obj=document,
            to=[PUBLIC],
            cc=[rt.urls.followers(me.username)],
        )
        targets = await inboxes(session, me.id, include_followers=True)
        await queue_activity(rt, session, local_actor_id=me.id, activity=update, inboxes=targets)
    rt.wakeups.delivery.set()
    log.info("profile.update_queued digest=%s inboxes=%d", digest, len(targets))
    return True
