"""Schedules: slots across daylight-saving changes, validation, exactly-once runs, budgets,
missed slots and runs interrupted by a crash."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from app.config import Settings
from app.db.models import Notification, Post
from app.db.models_ai import Draft, Schedule, ScheduleRun
from app.errors import UserError
from app.jobs import scheduler
from app.runtime import open_runtime
from app.services import drafting, scheduling
from app.services.scheduling import next_slot
from tests.conftest import Clock

BERLIN = "Europe/Berlin"
START = datetime(2026, 1, 5, 8, 0, 30, tzinfo=UTC)  # a Monday


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def chain(cron: str, tz: str, after: datetime, count: int) -> list[datetime]:
    slots = []
    for _ in range(count):
        after = next_slot(cron, tz, after)
        slots.append(after)
    return slots


# -- next_slot (pure) -------------------------------------------------------------------------


def test_next_slot_keeps_wall_clock_time_across_dst_in_berlin() -> None:
    # 09:00 Berlin is 08:00 UTC in winter and 07:00 UTC in summer (change on 29 March 2026).
    slots = chain("0 9 * * *", BERLIN, utc(2026, 3, 27, 12), 4)
    assert slots == [
        utc(2026, 3, 28, 8),
        utc(2026, 3, 29, 7),
        utc(2026, 3, 30, 7),
        utc(2026, 3, 31, 7),
    ]


def test_next_slot_runs_a_skipped_wall_time_once_when_the_gap_ends() -> None:
    # 02:30 does not exist on 29 March 2026 in Berlin (02:00 -> 03:00): it runs at 03:00 CEST.
    slots = chain("30 2 * * *", BERLIN, utc(2026, 3, 27, 12), 3)
    assert slots == [utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 30)]
    # Several slots inside the gap collapse into one run.
    assert chain("*/20 2 * * *", BERLIN, utc(2026, 3, 28, 12), 2) == [
        utc(2026, 3, 29, 1, 0),
        utc(2026, 3, 30, 0, 0),
    ]


def test_next_slot_runs_a_repeated_wall_time_once_unless_every_hour() -> None:
    # 25 October 2026: 02:00-03:00 happens twice in Berlin (CEST, then CET).
    daily = chain("30 2 * * *", BERLIN, utc(2026, 10, 24, 12), 3)
    assert daily == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30), utc(2026, 10, 27, 1, 30)]
    half_hourly = chain("*/30 * * * *", BERLIN, utc(2026, 10, 24, 23, 50), 6)
    assert half_hourly == [
        utc(2026, 10, 25, 0, 0),  # 02:00 CEST
        utc(2026, 10, 25, 0, 30),  # 02:30 CEST
        utc(2026, 10, 25, 1, 0),  # 02:00 CET
        utc(2026, 10, 25, 1, 30),  # 02:30 CET
        utc(2026, 10, 25, 2, 0),  # 03:00 CET
        utc(2026, 10, 25, 2, 30),
    ]
    # Every second hour is not "every hour": the repeated 02:00 runs once.
    assert chain("0 */2 * * *", BERLIN, utc(2026, 10, 24, 21, 10), 3) == [
        utc(2026, 10, 24, 22, 0),
        utc(2026, 10, 25, 0, 0),
        utc(2026, 10, 25, 3, 0),
    ]


def test_next_slot_is_strictly_after_and_chains_from_inside_the_repeated_hour() -> None:
    inside = utc(2026, 10, 25, 1, 10)  # 02:10 CET, the second 02:10 of the night
    assert next_slot("*/30 * * * *", BERLIN, inside) == utc(2026, 10, 25, 1, 30)
    assert next_slot("30 2 * * *", BERLIN, inside) == utc(2026, 10, 26, 1, 30)
    assert next_slot("*/5 * * * *", "UTC", utc(2026, 1, 1, 0, 5)) == utc(2026, 1, 1, 0, 10)


@pytest.mark.parametrize(
    ("cron", "fragment"),
    [
        ("", "needs --cron"),
        ("0 9 * *", "must have 5 fields"),
        ("0 0 9 * * *", "must have 5 fields"),
        ("61 * * * *", "invalid cron expression"),
        ("@reboot", "unknown cron macro"),
        ("0 9 * * someday", "invalid cron expression"),
    ],
)
def test_check_cron_refuses_bad_expressions_with_one_line(cron: str, fragment: str) -> None:
    with pytest.raises(UserError) as info:
        scheduling.check_cron(cron)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_check_cron_accepts_macros_and_normalises_spaces() -> None:
    assert scheduling.check_cron("  0  9 * *   mon-fri ") == "0 9 * * mon-fri"
    assert scheduling.check_cron("@Daily") == "@daily"


def test_unknown_time_zone_is_a_one_line_error() -> None:
    with pytest.raises(UserError, match="unknown time zone 'Mars/Olympus'"):
        next_slot("0 9 * * *", "Mars/Olympus", START)


def test_cron_that_never_fires_is_refused() -> None:
    with pytest.raises(UserError, match="no next time"):
        next_slot("0 0 30 2 *", "UTC", START)


def test_due_slot_runs_only_the_latest_due_slot() -> None:
    cursor = utc(2026, 1, 5, 8, 0)
    slot, skipped, following = scheduler.due_slot(
        "*/5 * * * *", "UTC", cursor, utc(2026, 1, 5, 8, 17)
    )
    assert (slot, skipped, following) == (utc(2026, 1, 5, 8, 15), 3, utc(2026, 1, 5, 8, 20))
    assert scheduler.due_slot("*/5 * * * *", "UTC", cursor, utc(2026, 1, 5, 7, 59)) == (
        None,
        0,
        cursor,
    )
    # A month of downtime: only a week is looked at, and still only the latest slot runs.
    slot, _, following = scheduler.due_slot("0 9 * * *", "UTC", cursor, utc(2026, 2, 5, 10))
    assert (slot, following) == (utc(2026, 2, 5, 9), utc(2026, 2, 6, 9))


# -- the service ----------------------------------------------------------------------------


@pytest.fixture
def start_clock(clock: Clock) -> Clock:
    clock.now = START
    return clock


async def test_add_list_disable_enable_remove(initialised: Settings, start_clock: Clock) -> None:
    async with open_runtime(initialised, clock=start_clock) as rt:
        added = await scheduling.add_schedule(
            rt, name="morning", cron="0 9 * * *", tz=BERLIN, prompt="birds", candidates=2
        )
        assert added.mode == "draft" and added.enabled
        assert added.next_run_at == utc(2026, 1, 6, 8, 0)  # 09:00 CET tomorrow (now 09:00:30)
        views = await scheduling.list_schedules(rt)
        assert [(v.schedule.name, v.persona, v.last_run) for v in views] == [
            ("morning", None, None)
        ]
        await scheduling.set_enabled(rt, "morning", False)
        start_clock.now = utc(2026, 1, 8, 12)
        enabled = await scheduling.set_enabled(rt, "morning", True)
        # Slots passed while disabled never run: the cursor starts again from now.
        assert enabled.next_run_at == utc(2026, 1, 9, 8, 0)
        await scheduling.remove_schedule(rt, "morning")
        assert await scheduling.list_schedules(rt) == []


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"name": "no spaces"}, "schedule name 'no spaces'"),
        ({"cron": "* * *"}, "must have 5 fields"),
        ({"tz": "Europe/Atlantis"}, "unknown time zone"),
        ({"persona": "ghost"}, "no persona named 'ghost'"),
        ({"candidates": 0}, "--candidates must be between 1 and"),
        ({"name": "taken"}, "a schedule named 'taken' exists already"),
    ],
)
async def test_add_schedule_validates_everything(
    initialised: Settings, start_clock: Clock, changes: dict[str, object], fragment: str
) -> None:
    async with open_runtime(initialised, clock=start_clock) as rt:
        await scheduling.add_schedule(rt, name="taken", cron="0 9 * * *")
        values: dict[str, object] = {"name": "new", "cron": "0 9 * * *", "tz": "UTC"}
        values.update(changes)
        with pytest.raises(UserError) as info:
            await scheduling.add_schedule(rt, **values)  # type: ignore[arg-type]
        assert fragment in str(info.value) and "\n" not in str(info.value)
        assert [v.schedule.name for v in await scheduling.list_schedules(rt)] == ["taken"]


async def test_unknown_schedule_is_a_one_line_error(initialised: Settings, clock: Clock) -> None:
    async with open_runtime(initialised, clock=clock) as rt:
        for call in (
            scheduling.set_enabled(rt, "nope", True),
            scheduling.remove_schedule(rt, "nope"),
            scheduling.list_runs(rt, "nope"),
        ):
            with pytest.raises(UserError, match="no schedule named 'nope'"):
                await call


# -- running slots --------------------------------------------------------------------------


async def runs_of(rt, schedule_id: int) -> list[ScheduleRun]:
    async with rt.sessions() as session:
        return list(
            await session.scalars(
                select(ScheduleRun)
                .where(ScheduleRun.schedule_id == schedule_id)
                .order_by(ScheduleRun.slot_at)
            )
        )


async def count(rt, stmt) -> int:
    async with rt.sessions() as session:
        return int(await session.scalar(stmt) or 0)


async def test_two_claimers_get_each_slot_exactly_once(
    initialised: Settings, start_clock: Clock
) -> None:
    async with (
        open_runtime(initialised, clock=start_clock) as one,
        open_runtime(initialised, clock=start_clock) as two,
    ):
        schedule = await scheduling.add_schedule(one, name="often", cron="*/5 * * * *")
        slots = chain("*/5 * * * *", "UTC", START, 10)
        for slot in slots:
            results = await asyncio.gather(
                scheduler.claim_slot(one, schedule.id, slot),
                scheduler.claim_slot(two, schedule.id, slot),
                scheduler.claim_slot(one, schedule.id, slot),
                scheduler.claim_slot(two, schedule.id, slot),
            )
            assert sum(r is not None for r in results) == 1, results
        assert [r.slot_at for r in await runs_of(one, schedule.id)] == slots


async def test_two_workers_publish_each_slot_exactly_once(
    initialised: Settings, start_clock: Clock
) -> None:
    settings = replace(initialised, daily_post_budget=100)
    async with (
        open_runtime(settings, clock=start_clock) as one,
        open_runtime(settings, clock=start_clock) as two,
    ):
        schedule = await scheduling.add_schedule(
            one, name="often", cron="*/5 * * * *", publish=True
        )
        slots = chain("*/5 * * * *", "UTC", START, 4)
        for slot in slots:
            start_clock.now = slot + timedelta(seconds=20)
            await asyncio.gather(scheduler.process_schedules(one), scheduler.process_schedules(two))
            # Ticking again in the same slot does nothing.
            await asyncio.gather(scheduler.process_schedules(two), scheduler.process_schedules(one))
        runs = await runs_of(one, schedule.id)
        assert [(r.slot_at, r.state) for r in runs] == [(s, "done") for s in slots], [
            r.error for r in runs
        ]
        posts = await count(
            one, select(func.count(Post.id)).where(Post.local_actor_id.is_not(None))
        )
        assert posts == len(slots)
        published = await count(
            one,
            select(func.count(Draft.id)).where(
                Draft.schedule_id == schedule.id, Draft.state == "published"
            ),
        )
        assert published == len(slots)
        assert {r.draft_batch for r in runs} == {
            d.batch for d in await drafting.list_drafts(one, states=["published"])
        }


async def test_draft_mode_keeps_candidates_for_review(
    initialised: Settings, start_clock: Clock
) -> None:
    async with open_runtime(initialised, clock=start_clock) as rt:
        schedule = await scheduling.add_schedule(
            rt, name="review", cron="0 9 * * *", tz=BERLIN, candidates=2, prompt="owls"
        )
        start_clock.now = utc(2026, 1, 6, 8, 0, 5)
        assert await scheduler.process_schedules(rt) == 1
        (run,) = await runs_of(rt, schedule.id)
        assert run.state == "done" and run.draft_batch
        drafts = [d for d in await drafting.list_drafts(rt) if d.batch == run.draft_batch]
        assert drafts and all(
            d.state == "candidate" and d.schedule_id == schedule.id for d in drafts
        )
        assert await count(rt, select(func.count(Post.id))) == 0
        (_, with_drafts), *_ = await scheduling.list_runs(rt, "review")
        assert {d.id for d in with_drafts} == {d.id for d in drafts}


async def test_budget_used_up_marks_the_run_skipped_and_notifies(
    initialised: Settings, start_clock: Clock
) -> None:
    settings = replace(initialised, daily_post_budget=0)
    async with open_runtime(settings, clock=start_clock) as rt:
        schedule = await scheduling.add_schedule(rt, name="b", cron="*/5 * * * *", publish=True)
        start_clock.now = START + timedelta(minutes=5)
        await scheduler.process_schedules(rt)
        (run,) = await runs_of(rt, schedule.id)
        assert run.state == "skipped" and "budget" in (run.error or "")
        assert run.finished_at is not None
        kinds = await count(
            rt, select(func.count(Notification.id)).where(Notification.kind == "budget")
        )
        assert kinds == 1
        assert await count(rt, select(func.count(Post.id))) == 0


async def test_missed_slots_are_skipped_and_only_the_latest_runs(
    initialised: Settings, start_clock: Clock
) -> None:
    async with open_runtime(initialised, clock=start_clock) as rt:
        schedule = await scheduling.add_schedule(rt, name="m", cron="*/5 * * * *")
        start_clock.now = START + timedelta(minutes=47)  # slots 08:05 ... 08:45 are due
        await scheduler.process_schedules(rt)
        assert [r.slot_at for r in await runs_of(rt, schedule.id)] == [utc(2026, 1, 5, 8, 45)]
        async with rt.sessions() as session:
            row = await session.get(Schedule, schedule.id)
            assert row is not None and row.next_run_at == utc(2026, 1, 5, 8, 50)


async def test_tick_publishes_approved_drafts_whose_time_came(
    initialised: Settings, start_clock: Clock
) -> None:
    async with open_runtime(initialised, clock=start_clock) as rt:
        (draft, *_) = await drafting.generate(rt, drafting.GenerateRequest(prompt="rain"))
        await drafting.approve(rt, draft.id, at=START + timedelta(hours=1))
        assert await scheduler.process_schedules(rt) == 0
        start_clock.now = START + timedelta(hours=1, seconds=1)
        assert await scheduler.process_schedules(rt) == 1
        assert (await drafting.get_draft(rt, draft.id)).state == "published"


async def _interrupted_run(rt, schedule: Schedule, slot: datetime, claimed: datetime) -> int:
    run_id = await scheduler.claim_slot(rt, schedule.id, slot)
    assert run_id is not None
    async with rt.writes.begin() as session:
        await session.execute(
            update(ScheduleRun).where(ScheduleRun.id == run_id).values(created_at=claimed)
        )
    return run_id


async def test_a_run_left_by_a_dead_worker_is_redone_once_after_the_lease(
    initialised: Settings, start_clock: Clock
) -> None:
    async with (
        open_runtime(initialised, clock=start_clock) as one,
        open_runtime(initialised, clock=start_clock) as two,
    ):
        schedule = await scheduling.add_schedule(one, name="crash", cron="0 * * * *", publish=True)
        slot = utc(2026, 1, 5, 9)
        start_clock.now = slot + timedelta(seconds=1)
        await _interrupted_run(one, schedule, slot, start_clock.now)
        await scheduler.process_schedules(two)  # the claim is fresh: nobody touches it
        assert [r.state for r in await runs_of(one, schedule.id)] == ["running"]
        start_clock.now = slot + scheduler.RUN_LEASE + timedelta(seconds=5)
        await asyncio.gather(scheduler.recover_runs(one), scheduler.recover_runs(two))
        (run,) = await runs_of(one, schedule.id)
        assert run.state == "done", run.error
        posts = await count(
            one, select(func.count(Post.id)).where(Post.local_actor_id.is_not(None))
        )
        assert posts == 1


async def test_drafts_of_a_dead_worker_are_adopted_not_generated_again(
    initialised: Settings, start_clock: Clock
) -> None:
    async with open_runtime(initialised, clock=start_clock) as rt:
        schedule = await scheduling.add_schedule(rt, name="crash", cron="0 * * * *", publish=True)
        slot = utc(2026, 1, 5, 9)
        start_clock.now = slot + timedelta(seconds=1)
        run_id = await _interrupted_run(rt, schedule, slot, start_clock.now)
        # The dead worker got as far as storing its drafts, not publishing them.
        made = await drafting.generate(rt, drafting.GenerateRequest(schedule_id=schedule.id))
        start_clock.now = slot + scheduler.RUN_LEASE + timedelta(seconds=5)
        assert await scheduler.recover_runs(rt) == 1
        async with rt.sessions() as session:
            run = await session.get(ScheduleRun, run_id)
        assert run is not None and run.state == "done" and run.draft_batch == made[0].batch
        assert await count(rt, select(func.count(Draft.id))) == len(made)
        assert (await drafting.get_draft(rt, made[0].id)).state == "published"


async def test_an_old_interrupted_slot_is_marked_failed(
    initialised: Settings, start_clock: Clock
) -> None:
    async with open_runtime(initialised, clock=start_clock) as rt:
        schedule = await scheduling.add_schedule(rt, name="old", cron="0 9 * * *")
        slot = utc(2026, 1, 5, 9)
        await _interrupted_run(rt, schedule, slot, slot)
        start_clock.now = slot + scheduler.RETRY_WINDOW + timedelta(minutes=1)
        await scheduler.recover_runs(rt)
        (run,) = await runs_of(rt, schedule.id)
        assert run.state == "failed" and "interrupted" in (run.error or "")
        assert await count(rt, select(func.count(Draft.id))) == 0


# -- the command line -------------------------------------------------------------------------


def test_schedules_command_line(tmp_path) -> None:
    import json

    from tests.app.test_cli import assert_one_line_error, run

    assert run(tmp_path, "init", "--json").returncode == 0
    bad = run(tmp_path, "schedules", "add", "x", "--cron", "0 9 * *")
    assert_one_line_error(bad, "must have 5 fields")
    assert_one_line_error(run(tmp_path, "schedules", "add", "x"), "needs --cron")
    assert_one_line_error(
        run(tmp_path, "schedules", "add", "x", "--cron", "@daily", "--tz", "Nowhere/Town"),
        "unknown time zone",
    )
    assert_one_line_error(run(tmp_path, "schedules", "remove", "ghost"), "no schedule named")
    clock = tmp_path / "clock"
    clock.write_text("2026-03-28T12:00:00Z")
    added = run(
        tmp_path,
        "schedules", "add", "berlin", "--cron", "30 2 * * *", "--tz", BERLIN,
        "--prompt", "night owls", "--candidates", "2", "--publish", "--json",
        MYNA_CLOCK_FILE=str(clock),
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    data = json.loads(added.stdout)
    assert data["next_run_at"] == "2026-03-29T01:00:00+00:00"  # 03:00 CEST: the gap ended
    assert (data["mode"], data["candidates"], data["enabled"]) == ("publish", 2, True)
    disabled = json.loads(run(tmp_path, "schedules", "disable", "berlin", "--json").stdout)
    assert disabled["enabled"] is False and disabled["persona"] is None
    listed = json.loads(run(tmp_path, "schedules", "--json").stdout)
    assert [(s["name"], s["enabled"], s["last_run"]) for s in listed] == [("berlin", False, None)]
    assert json.loads(run(tmp_path, "schedules", "runs", "berlin", "--json").stdout) == []
    text = run(tmp_path, "schedules")
    assert text.returncode == 0 and "berlin" in text.stdout and "'30 2 * * *'" in text.stdout
    assert run(tmp_path, "schedules", "remove", "berlin").returncode == 0
    assert run(tmp_path, "schedules").stdout.strip() == "No schedules."
