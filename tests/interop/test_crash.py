"""A fan-out survives the server being killed midway.

A real `myna serve` delivers one Create to a few hundred inboxes on a local sink that answers
slowly; the process is killed with SIGKILL while the sink has seen some but not all of them,
then started again. Every inbox ends up with the activity, none is lost, and the only
duplicates are deliveries that were in flight when the process died: rows still claimed
(``processing``) at that moment, at most ``CONCURRENCY`` of them.

The restarted server leaves the dead process's claims alone while their lease runs (another
live worker could own them) and delivers everything else; the test then lets those leases
expire by moving ``locked_until`` into the past, rather than waiting the real lease (60 s),
and the claims are taken over.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select, update

from app.config import load_settings
from app.db.models import Delivery, Follower, RemoteActor
from app.jobs.delivery_worker import CONCURRENCY
from app.runtime import open_runtime
from app.services.outbox import new_activity_id, queue_activity
from app.store.actors import get_local_actor
from tests.support.myna_proc import (
    MynaProcess,
    wait_for,
)
from tests.support.sink import Sink

pytestmark = pytest.mark.slow

INBOXES = 300


async def _seed_and_queue(myna: MynaProcess, sink_url: str) -> str:
    """Add INBOXES followers, each with its own inbox on the sink; queue one Create to them."""
    settings = replace(load_settings(myna.env, cwd=myna.run_dir), workers_in_process=False)
    now = datetime.now(UTC)
    async with open_runtime(settings) as rt:
        async with rt.writes.begin() as session:
            me = await get_local_actor(session, settings.username)
            assert me is not None
            await session.execute(
                insert(RemoteActor),
                [{"uri": f"{sink_url}/users/{n}", "type": "Person", "username": f"u{n}",
                  "domain": "127.0.0.1", "inbox": f"{sink_url}/inbox/{n}", "document": "{}",
                  "fetched_at": now} for n in range(INBOXES)],
            )  # fmt: skip
            actors = (await session.execute(select(RemoteActor.id, RemoteActor.inbox))).all()
            await session.execute(
                insert(Follower),
                [{"local_actor_id": me.id, "remote_actor_id": actor_id,
                  "follow_activity_id": f"{inbox}#follow", "follow_activity": "{}",
                  "state": "accepted", "created_at": now, "updated_at": now}
                 for actor_id, inbox in actors],
            )  # fmt: skip
            activity_id = new_activity_id(rt)
            activity = {
                "@context": "https://www.w3.org/ns/activitystreams", "id": activity_id,
                "type": "Create", "actor": settings.actor_url,
                "object": {"id": f"{activity_id}/note", "type": "Note", "content": "<p>hi</p>"},
            }  # fmt: skip
            await queue_activity(
                rt, session, local_actor_id=me.id, activity=activity,
                inboxes=[inbox for _, inbox in actors],
            )  # fmt: skip
    return activity_id


async def _states(myna: MynaProcess) -> dict[str, str]:
    """inbox URL -> delivery state, read straight from the database."""
    settings = load_settings(myna.env, cwd=myna.run_dir)
    async with open_runtime(settings) as rt, rt.sessions() as session:
        rows = (await session.execute(select(Delivery.inbox_url, Delivery.state))).all()
    return {inbox: state for inbox, state in rows}


async def _expire_leases(myna: MynaProcess) -> int:
    """Make every current claim's lease run out now, as if its whole duration had passed."""
    settings = load_settings(myna.env, cwd=myna.run_dir)
    async with open_runtime(settings) as rt, rt.writes.begin() as session:
        result = await session.execute(
            update(Delivery)
            .where(Delivery.state == "processing")
            .values(locked_until=datetime.now(UTC) - timedelta(seconds=1))
        )
    return int(result.rowcount)  # type: ignore[attr-defined]


def _kill(myna: MynaProcess) -> None:
    proc = myna._proc  # MynaProcess has no kill(); SIGKILL is the point of this test
    assert proc is not None
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert myna.stop() == -signal.SIGKILL


def test_fan_out_survives_sigkill_midway(tmp_path: Path, database: str | None) -> None:
    with Sink(delay=0.2) as sink, MynaProcess(tmp_path / "myna", database_url=database) as myna:
        activity_id = asyncio.run(_seed_and_queue(myna, sink.base_url))

        # Kill it once a quarter of the inboxes have been served.
        wait_for(
            lambda: sink.summary()["total"] >= INBOXES // 4,
            timeout=30, interval=0.02,
            message=lambda: f"the fan-out did not start\n{myna.describe()}",
        )  # fmt: skip
        _kill(myna)
        time.sleep(0.5)  # requests the dead process had sent land at the sink meanwhile
        at_kill = asyncio.run(_states(myna))
        seen_at_kill = sink.summary()["total"]
        assert 0 < seen_at_kill < INBOXES, "the kill did not land midway"
        in_flight = {inbox for inbox, state in at_kill.items() if state == "processing"}
        assert 0 < len(in_flight), "nothing was claimed when the process died"

        myna.start()
        # Everything the dead process had not claimed goes out; its claims wait for their lease.
        wait_for(
            lambda: {i for i, s in asyncio.run(_states(myna)).items() if s != "sent"} <= in_flight,
            timeout=30, interval=0.3,
            message=lambda: f"unclaimed deliveries did not finish\n{myna.describe()}",
        )  # fmt: skip
        states = asyncio.run(_states(myna))
        assert {i for i, s in states.items() if s == "processing"} == in_flight
        assert asyncio.run(_expire_leases(myna)) == len(in_flight)
        wait_for(
            lambda: set(asyncio.run(_states(myna)).values()) == {"sent"},
            timeout=30, interval=0.3,
            message=lambda: f"expired claims were not taken over\n{myna.describe()}",
        )  # fmt: skip
        rows = myna.cli_json("deliveries", "--limit", str(INBOXES * 2))
        received = sink.received()

    assert len(rows) == INBOXES
    assert {row["state"] for row in rows} == {"sent"}
    assert {row["activity"] for row in rows} == {activity_id}
    assert all(row["last_status"] == 202 and row["last_error"] is None for row in rows)

    per_inbox = Counter(
        {
            path: ids.count(activity_id)
            for path, ids in received.items()
            if path.startswith("/inbox/")
        }
    )
    missing = [n for n in range(INBOXES) if per_inbox[f"/inbox/{n}"] == 0]
    assert missing == [], f"lost deliveries: {missing}"
    duplicated = {f"{sink.base_url}{path}" for path, count in per_inbox.items() if count > 1}
    assert max(per_inbox.values()) <= 2
    assert duplicated <= in_flight, "a delivery that was not in flight was sent twice"
    assert len(duplicated) <= CONCURRENCY, (
        f"{len(duplicated)} duplicates; {len(in_flight)} rows were claimed at the kill"
    )
