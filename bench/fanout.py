"""Fan-out: one post to many followers, delivered by a real `myna serve` to a local sink.

10,000 followers: 8,000 on 1,000 shared inboxes (8 each) and 2,000 with personal inboxes
only, so shared-inbox deduplication must bring the fan-out to 3,000 requests. The followers
are bulk-inserted into Myna's SQLite database, the Create is queued through
`app.services.outbox.queue_activity` with the inbox list computed as the app computes it
(`app.services.audience.inboxes`), and the running server's delivery worker picks it up.
Ceilings, measured in the same run: raw RSA signing, and Myna's outbound client to the same
sink without the database (raw POSTs, and `deliver()` with a fresh signature each).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.jobs.delivery_worker import CONCURRENCY
from bench.client import httpx_rate
from bench.common import CLIENT, MynaServer, Report, rsa_sign_rate, rss_mib, temp_workdir
from tests.support.sink import Sink

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


async def seed_and_queue(
    server: MynaServer, sink_url: str, followers: int, shared: int, personal: int
) -> tuple[str, int]:
    """Insert the followers, queue one Create to them; return (activity id, inbox count)."""
    from sqlalchemy import insert, select

    from app.config import load_settings
    from app.db.models import Follower, RemoteActor
    from app.runtime import open_runtime
    from app.services.outbox import new_activity_id, queue_activity
    from app.store.actors import get_local_actor

    settings = replace(load_settings(server.settings_env()), workers_in_process=False)
    now = datetime.now(UTC)
    on_shared = followers - personal
    per_shared = max(1, on_shared // shared)
    actors: list[dict[str, Any]] = []
    for n in range(followers):
        uri = f"{sink_url}/users/{n}"
        shared_inbox = f"{sink_url}/shared/{n // per_shared}/inbox" if n < on_shared else None
        actors.append(
            {
                "uri": uri, "type": "Person", "username": f"u{n}", "domain": "127.0.0.1",
                "name": None, "inbox": f"{uri}/inbox", "shared_inbox": shared_inbox, "url": uri,
                "document": "{}", "fetched_at": now,
            }
        )  # fmt: skip
    async with open_runtime(settings) as rt:
        async with rt.writes.begin() as session:
            me = await get_local_actor(session, settings.username)
            assert me is not None, "myna init did not create the owner"
            for start in range(0, len(actors), 1000):
                await session.execute(insert(RemoteActor), actors[start : start + 1000])
            ids = (await session.scalars(select(RemoteActor.id))).all()
            rows = [
                {"local_actor_id": me.id, "remote_actor_id": i, "follow_activity_id": f"f{i}",
                 "follow_activity": "{}", "state": "accepted", "created_at": now,
                 "updated_at": now}
                for i in ids
            ]  # fmt: skip
            for start in range(0, len(rows), 1000):
                await session.execute(insert(Follower), rows[start : start + 1000])
        async with rt.writes.begin() as session:
            targets = await _inboxes(session, me.id)
            activity_id = new_activity_id(rt)
            note_id = activity_id + "/note"
            activity = {
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": activity_id,
                "type": "Create",
                "actor": settings.actor_url,
                "to": [PUBLIC],
                "cc": [settings.actor_url + "/followers"],
                "object": {
                    "id": note_id, "type": "Note", "attributedTo": settings.actor_url,
                    "to": [PUBLIC], "cc": [settings.actor_url + "/followers"],
                    "content": "<p>" + "A benchmark post. " * 60 + "</p>",
                },
            }  # fmt: skip
            await queue_activity(
                rt, session, local_actor_id=me.id, activity=activity, inboxes=targets
            )
    return activity_id, len(targets)


async def _inboxes(session: Any, local_actor_id: int) -> list[str]:
    """The app's own audience computation when present (shared inboxes deduplicated)."""
    try:
        from app.services.audience import inboxes
    except ImportError:
        from sqlalchemy import select

        from app.db.models import Follower, RemoteActor

        rows = await session.execute(
            select(RemoteActor.inbox, RemoteActor.shared_inbox)
            .join(Follower, Follower.remote_actor_id == RemoteActor.id)
            .where(Follower.local_actor_id == local_actor_id, Follower.state == "accepted")
        )
        return list(dict.fromkeys(shared or inbox for inbox, shared in rows))
    return await inboxes(session, local_actor_id, include_followers=True)


def _states(db: Path) -> dict[str, int]:
    with sqlite3.connect(db, timeout=30) as conn:
        return dict(
            conn.execute("SELECT state, count(*) FROM deliveries GROUP BY state").fetchall()
        )


def run(
    *,
    followers: int = 10_000,
    shared: int = 1_000,
    personal: int = 2_000,
    quick: bool = False,
    ceilings: bool = True,
) -> Report:
    if quick:
        followers, shared, personal = 2_000, 200, 400
    report = Report(
        f"fanout: one post to {followers:,} followers "
        f"({shared:,} shared inboxes + {personal:,} personal inboxes)"
    )
    report.header()
    with temp_workdir() as tmp, Sink() as sink:
        server = MynaServer(Path(tmp)).start()
        try:
            time.sleep(1.0)
            report.figure("Myna RSS before (idle)", rss_mib(server.pid), "MiB")
            report.figures["rss_before_mib"] = rss_mib(server.pid)
            seeded = time.perf_counter()
            activity_id, expected = asyncio.run(
                seed_and_queue(server, sink.base_url, followers, shared, personal)
            )
            queued = time.perf_counter()
            report.note(
                f"seeded {followers:,} followers and queued 1 Create "
                f"in {queued - seeded:.1f} s; {expected:,} distinct inboxes"
            )
            states: dict[str, int] = {}
            deadline = queued + 600
            while time.perf_counter() < deadline:
                states = _states(server.database_path)
                if states.get("sent", 0) + states.get("failed", 0) >= expected:
                    break
                time.sleep(0.25)
            done = time.perf_counter()
            summary = sink.summary()
            elapsed = done - queued
            report.figure("Myna RSS after", rss_mib(server.pid), "MiB")
            report.figures["rss_after_mib"] = rss_mib(server.pid)
        finally:
            server.stop()
        received = sink.received()
        got = sum(1 for ids in received.values() if activity_id in ids)
        report.note(f"delivery states: {json.dumps(states)}")
        report.figure("requests the sink received", summary["total"], "")
        report.figure("inboxes that got the activity", got, "")
        report.figure("unsigned requests", summary["unsigned"], "")
        span = (summary["last"] or 0) - (summary["first"] or 0)
        report.figure("seconds from queue commit to every delivery done", elapsed, "s")
        report.figure("seconds from first to last request at the sink", span, "s")

        if not ceilings:
            return report
        # Ceilings, same machine, same sink, same run (after Myna stopped).
        sign1, sign2 = rsa_sign_rate(1.0, 1), rsa_sign_rate(1.0, 2)
        n = min(expected, 3000)
        kind = CLIENT["name"]  # the transport Myna ran with
        raw = asyncio.run(httpx_rate(kind, sink.base_url, n, CONCURRENCY, signed=False))
        path = asyncio.run(httpx_rate(kind, sink.base_url, n, CONCURRENCY, signed=True))
        rate = expected / elapsed if elapsed else 0.0
        report.figure("ceiling: RSA-2048 sign, 1 thread", sign1, "/s")
        report.figure("ceiling: RSA-2048 sign, 2 threads", sign2, "/s")
        report.figure(f"ceiling: {kind} client, unsigned POST, conc. {CONCURRENCY}", raw, "/s")
        report.figure(f"ceiling: {kind} deliver() (fresh signature), no DB", path, "/s")
        report.figure("Myna deliveries/s vs 2-thread signing", rate, "/s", of=sign2)
        report.figure("Myna deliveries/s vs raw client POSTs", rate, "/s", of=raw)
        report.figure("Myna deliveries/s vs deliver() without DB", rate, "/s", of=path)
        report.figures["deliveries_per_s"] = rate
    return report
