"""Schedules across two worker processes and a restart publish each slot exactly once
(injectable clock).

Two real ``myna worker`` processes share one database (SQLite file, and PostgreSQL). They run
on a clock read from a file (``MYNA_CLOCK_FILE``, testing only), which the test moves from one
``*/5 * * * *`` slot to the next. Midway one worker is killed with SIGKILL and started again.
Every slot ends with exactly one ``ScheduleRun`` (done) and exactly one published post.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from app.config import load_settings
from app.db.models import Post
from app.db.models_ai import Draft, ScheduleRun
from app.runtime import open_runtime
from tests.support.myna_proc import (
    DATABASE_KINDS,
    MynaProcess,
    database_url,
    postgres_skip_reason,
    wait_for,
)

pytestmark = pytest.mark.slow

SLOTS = 8  # below the default persona's 12 posts a day
KILL_AFTER = 3  # slots done before one worker is killed
START = datetime(2030, 1, 7, 10, 0, 30, tzinfo=UTC)  # 30 s after a */5 slot


@pytest.fixture(params=DATABASE_KINDS)
def db_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    if request.param == "postgresql" and (reason := postgres_skip_reason()) is not None:
        pytest.skip(reason)
    with database_url(request.param) as url:
        yield url


def set_clock(path: Path, moment: datetime) -> None:
    """Move every process's clock at once (rename: no reader sees half a timestamp)."""
    temporary = path.with_suffix(".tmp")
    temporary.write_text(moment.isoformat(), encoding="utf-8")
    temporary.replace(path)


class Worker:
    """One ``myna worker`` process with its log."""

    def __init__(self, myna: MynaProcess, name: str) -> None:
        self.log_path = myna.run_dir / f"{name}.log"
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "app", "worker"],
                cwd=myna.run_dir,
                env=myna.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


async def _state(myna: MynaProcess) -> dict[str, Any]:
    settings = replace(load_settings(myna.env, cwd=myna.run_dir), workers_in_process=False)
    async with open_runtime(settings) as rt, rt.sessions() as session:
        runs = (await session.execute(select(ScheduleRun).order_by(ScheduleRun.slot_at))).scalars()
        posts = await session.scalar(
            select(func.count(Post.id)).where(Post.local_actor_id.is_not(None))
        )
        published = (
            await session.execute(
                select(Draft.batch, Draft.post_uri).where(Draft.state == "published")
            )
        ).all()
        return {
            "runs": [(r.slot_at, r.state, r.draft_batch, r.error) for r in runs],
            "posts": int(posts or 0),
            "published": [(batch, uri) for batch, uri in published],
        }


def state(myna: MynaProcess) -> dict[str, Any]:
    return asyncio.run(_state(myna))


def finished(myna: MynaProcess) -> int:
    return len([r for r in state(myna)["runs"] if r[1] != "running"])


def test_two_workers_and_a_restart_publish_each_slot_exactly_once(
    tmp_path: Path, db_url: str | None
) -> None:
    clock_file = tmp_path / "clock"
    set_clock(clock_file, START)
    myna = MynaProcess(
        tmp_path / "data",
        database_url=db_url,
        extra_env={"MYNA_CLOCK_FILE": str(clock_file), "MYNA_DAILY_POST_BUDGET": "100"},
    )
    myna.run_dir.mkdir(parents=True, exist_ok=True)
    myna.cli_json("init")
    added = myna.cli_json("schedules", "add", "often", "--cron", "*/5 * * * *", "--publish")
    first = START.replace(second=0) + timedelta(minutes=5)
    assert added["next_run_at"] == first.isoformat()
    slots = [first + timedelta(minutes=5 * i) for i in range(SLOTS)]

    workers = [Worker(myna, "worker-a"), Worker(myna, "worker-b")]
    restarted: Worker | None = None

    def logs() -> str:
        everyone = [*workers, *([restarted] if restarted else [])]
        return "\n".join(f"--- {w.log_path.name}\n{w.log[-4000:]}" for w in everyone)

    try:
        for number, slot in enumerate(slots, 1):
            set_clock(clock_file, slot + timedelta(seconds=20))
            wait_for(
                lambda done=number: finished(myna) >= done,
                timeout=60,
                message=lambda done=number: f"slot {done} unfinished: {state(myna)}\n{logs()}",
            )
            if number == KILL_AFTER:
                workers[0].kill()  # SIGKILL: no clean shutdown
            if number == KILL_AFTER + 1:
                restarted = Worker(myna, "worker-a-again")
        # A few more ticks of both live workers on the last slot: nothing more may happen.
        time.sleep(3)
        final = state(myna)
    finally:
        for worker in [*workers, *([restarted] if restarted else [])]:
            worker.stop()

    runs = final["runs"]
    assert [r[0] for r in runs] == slots, logs()
    assert all(r[1] == "done" for r in runs), runs
    assert final["posts"] == SLOTS, final
    batches = [r[2] for r in runs]
    assert len(set(batches)) == SLOTS
    published = final["published"]
    assert sorted(b for b, _ in published) == sorted(batches), published
    assert len({uri for _, uri in published}) == SLOTS
    listed = myna.cli_json("schedules", "runs", "often")
    assert [r["state"] for r in listed] == ["done"] * SLOTS
    assert all(len([d for d in r["drafts"] if d["post"]]) == 1 for r in listed)
    assert "Traceback" not in logs()
