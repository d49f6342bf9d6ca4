"""The schedule worker: runs each due slot of each enabled schedule exactly once, and publishes
approved drafts whose time has come.

Exactly once. A slot is run by whoever inserts its ``ScheduleRun(schedule_id, slot_at)`` row;
the UNIQUE constraint on that pair lets one insert succeed and turns every other into a no-op
(``INSERT ... ON CONFLICT DO NOTHING RETURNING id`` on SQLite and PostgreSQL alike), so any
number of worker processes, on any number of machines, can tick together. The winner calls
``drafting.generate`` and records the outcome on the row: ``done``, ``failed`` or ``skipped``
(a budget is used up). ``Schedule.next_run_at`` is only a cursor that saves work; the row is
the anchor.

Missed slots. Only the latest due slot of a schedule runs: a slot is skipped (logged as
``schedule.missed``, no row) when the next slot is due too, i.e. when it is more than one
interval late, as after a worker outage. At most ``LOOKBACK`` of history is looked at.

Crashes. A worker that dies mid-run leaves its row ``running``. After ``RUN_LEASE`` one other
worker takes the row over (one conditional UPDATE decides who). If the dead worker already
stored drafts, they are adopted (and, in publish mode, the best one is published if nothing
was); otherwise the slot is generated again when it is less than ``RETRY_WINDOW`` old, else
the run is marked failed. A worker that died while publishing leaves its draft
``publishing``: it is not published again (at most once), the run is marked failed.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from app.db.models_ai import Draft, Persona, Schedule, ScheduleRun
from app.errors import UserError
from app.runtime import Runtime
from app.services import drafting
from app.services.following import owner
from app.services.scheduling import next_slot
from app.store.notifications import add_notification
from generation import GenerationError

log = logging.getLogger("myna.jobs.scheduler")

RUN_LEASE = timedelta(minutes=30)  # longer than any generation; then a run counts as dead
RETRY_WINDOW = timedelta(hours=2)  # an interrupted slot older than this is not generated again
LOOKBACK = timedelta(days=7)


# -- slots ------------------------------------------------------------------------------------


def due_slot(
    cron: str, tz: str, cursor: datetime, now: datetime
) -> tuple[datetime | None, int, datetime]:
    """Return (the slot to run or None, how many due slots are skipped, the next cursor).

    ``cursor`` is the first slot not yet considered. Pure.
    """
    if cursor > now:
        return None, 0, cursor
    if cursor < now - LOOKBACK:
        cursor = next_slot(cron, tz, now - LOOKBACK)
        if cursor > now:
            return None, 0, cursor
    slot, skipped = cursor, 0
    following = next_slot(cron, tz, slot)
    while following <= now:
        slot, skipped = following, skipped + 1
        following = next_slot(cron, tz, slot)
    return slot, skipped, following


async def claim_slot(rt: Runtime, schedule_id: int, slot_at: datetime) -> int | None:
    """Insert the run of ``slot_at``; return its id, or None when another worker has it."""
    dialect = rt.engine.dialect.name
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(ScheduleRun)
        .values(schedule_id=schedule_id, slot_at=slot_at, state="running", created_at=rt.clock())
        .on_conflict_do_nothing(index_elements=["schedule_id", "slot_at"])
        .returning(ScheduleRun.id)
    )
    try:
        async with rt.writes.begin() as session:
            run_id = await session.scalar(stmt)
    except IntegrityError:  # belt and braces: the constraint itself said no
        return None
    return int(run_id) if run_id is not None else None


async def _advance(rt: Runtime, schedule_id: int, cursor: datetime) -> None:
    """Move the schedule's cursor forward (never back: workers may race here harmlessly)."""
    async with rt.writes.begin() as session:
        await session.execute(
            update(Schedule)
            .where(
                Schedule.id == schedule_id,
                or_(Schedule.next_run_at.is_(None), Schedule.next_run_at < cursor),
            )
            .values(next_run_at=cursor)
        )


# -- running a slot ---------------------------------------------------------------------------


async def _finish(
    rt: Runtime, run_id: int, state: str, *, batch: str | None = None, error: str | None = None
) -> None:
    async with rt.writes.begin() as session:
        run = await session.get(ScheduleRun, run_id)
        if run is None:  # the schedule was removed meanwhile
            return
        run.state, run.error, run.finished_at = state, error, rt.clock()
        run.draft_batch = batch or run.draft_batch


async def _notify(rt: Runtime, kind: str) -> None:
    me = await owner(rt)
    async with rt.writes.begin() as session:
        await add_notification(
            session,
            local_actor_id=me.id,
            kind=kind,
            actor_uri=rt.urls.actor(me.username),
            now=rt.clock(),
        )


async def _orphan_batch(rt: Runtime, schedule_id: int, since: datetime) -> list[Draft]:
    """The drafts of the first batch this schedule made since ``since`` that no run records."""
    async with rt.sessions() as session:
        recorded = select(ScheduleRun.draft_batch).where(
            ScheduleRun.schedule_id == schedule_id, ScheduleRun.draft_batch.is_not(None)
        )
        drafts = list(
            await session.scalars(
                select(Draft)
                .where(
                    Draft.schedule_id == schedule_id,
                    Draft.created_at >= since,
                    Draft.batch.not_in(recorded),
                )
                .order_by(Draft.created_at, Draft.rank, Draft.id)
            )
        )
    if not drafts:
        return []
    return [d for d in drafts if d.batch == drafts[0].batch]


async def _persona_name(rt: Runtime, persona_id: int | None) -> str | None:
    if persona_id is None:
        return None
    async with rt.sessions() as session:
        return await session.scalar(select(Persona.name).where(Persona.id == persona_id))


async def _generate(rt: Runtime, schedule: Schedule, run_id: int, claimed_at: datetime) -> str:
    """Generate for one claimed slot and record the outcome; return the run's final state."""
    publish = schedule.mode == "publish"
    request = drafting.GenerateRequest(
        persona=await _persona_name(rt, schedule.persona_id),
        prompt=schedule.prompt,
        image=schedule.with_image,
        candidates=schedule.candidates,
        publish=publish,
        schedule_id=schedule.id,
    )
    try:
        drafts = await drafting.generate(rt, request)
    except drafting.BudgetExceeded as exc:
        # generate() has told the owner (one "budget" notification a day).
        made = await _orphan_batch(rt, schedule.id, claimed_at)
        await _finish(rt, run_id, "skipped", batch=_batch(made), error=str(exc))
        log.warning("schedule.skipped name=%s reason=budget error=%s", schedule.name, exc)
        return "skipped"
    except (UserError, GenerationError, OSError) as exc:
        return await _failed(rt, schedule, run_id, claimed_at, str(exc))
    except Exception as exc:  # a bug must not leave the run "running" until the lease ends
        log.exception("schedule.error name=%s", schedule.name)
        return await _failed(rt, schedule, run_id, claimed_at, f"{type(exc).__name__}: {exc}")
    return await _record(rt, schedule, run_id, drafts)


def _batch(drafts: list[Draft]) -> str | None:
    return drafts[0].batch if drafts else None


async def _failed(
    rt: Runtime, schedule: Schedule, run_id: int, claimed_at: datetime, error: str
) -> str:
    made = await _orphan_batch(rt, schedule.id, claimed_at)
    await _finish(rt, run_id, "failed", batch=_batch(made), error=error)
    await _notify(rt, "schedule_failed")
    log.warning("schedule.failed name=%s error=%s", schedule.name, error)
    return "failed"


async def _record(rt: Runtime, schedule: Schedule, run_id: int, drafts: list[Draft]) -> str:
    """Mark a run done with its batch; in publish mode a run that published nothing failed."""
    batch = _batch(drafts)
    if schedule.mode == "publish" and not any(d.state == "published" for d in drafts):
        error = "nothing was published: every candidate was blocked by moderation"
        if any(d.state == "publishing" for d in drafts):
            error = "the worker stopped while publishing; see `myna drafts`"
        await _finish(rt, run_id, "failed", batch=batch, error=error)
        await _notify(rt, "schedule_failed")
        log.warning("schedule.failed name=%s error=%s", schedule.name, error)
        return "failed"
    await _finish(rt, run_id, "done", batch=batch)
    log.info(
        "schedule.ran name=%s mode=%s batch=%s drafts=%d", schedule.name, schedule.mode, batch,
        len(drafts),
    )  # fmt: skip
    return "done"


async def run_slot(rt: Runtime, schedule: Schedule, slot_at: datetime) -> str | None:
    """Claim ``slot_at`` of ``schedule`` and run it; return the run's state, or None when
    another worker claimed the slot."""
    claimed_at = rt.clock()
    run_id = await claim_slot(rt, schedule.id, slot_at)
    if run_id is None:
        return None
    log.info("schedule.claimed name=%s slot=%s run=%d", schedule.name, slot_at.isoformat(), run_id)
    return await _generate(rt, schedule, run_id, claimed_at)


async def _tick_schedule(rt: Runtime, schedule: Schedule, now: datetime) -> int:
    cron, tz = schedule.cron, schedule.timezone
    cursor = schedule.next_run_at or next_slot(cron, tz, schedule.created_at)
    slot, skipped, following = due_slot(cron, tz, cursor, now)
    if following != schedule.next_run_at:
        await _advance(rt, schedule.id, following)
    if skipped:
        log.warning("schedule.missed name=%s slots=%d ran=%s", schedule.name, skipped, slot)
    if slot is None:
        return 0
    return 1 if await run_slot(rt, schedule, slot) is not None else 0


# -- crashed runs -----------------------------------------------------------------------------


async def _take_over(rt: Runtime, run: ScheduleRun, now: datetime) -> bool:
    """Renew a dead run's claim; True for the one worker whose UPDATE matched."""
    async with rt.writes.begin() as session:
        result = await session.execute(
            update(ScheduleRun)
            .where(
                ScheduleRun.id == run.id,
                ScheduleRun.state == "running",
                ScheduleRun.created_at == run.created_at,
            )
            .values(created_at=now)
            .returning(ScheduleRun.id)
        )
        return result.first() is not None


async def recover_runs(rt: Runtime) -> int:
    """Finish the runs of workers that died mid-run (see the module docstring); return how
    many were taken over."""
    now = rt.clock()
    async with rt.sessions() as session:
        rows = (
            await session.execute(
                select(ScheduleRun, Schedule)
                .join(Schedule, Schedule.id == ScheduleRun.schedule_id)
                .where(ScheduleRun.state == "running", ScheduleRun.created_at < now - RUN_LEASE)
                .order_by(ScheduleRun.slot_at)
                .limit(10)
            )
        ).all()
    taken = 0
    for run, schedule in rows:
        if not await _take_over(rt, run, now):
            continue
        taken += 1
        log.warning("schedule.interrupted name=%s slot=%s", schedule.name, run.slot_at)
        made = await _orphan_batch(rt, schedule.id, run.created_at)
        if made:
            if schedule.mode == "publish" and not any(
                d.state in ("published", "publishing") for d in made
            ):
                best = next((d for d in made if d.state == "candidate"), None)
                if best is not None:
                    try:
                        made = [await drafting.approve(rt, best.id)]
                    except drafting.BudgetExceeded as exc:
                        await _finish(rt, run.id, "skipped", batch=best.batch, error=str(exc))
                        continue
                    except UserError as exc:
                        await _failed(rt, schedule, run.id, run.created_at, str(exc))
                        continue
            await _record(rt, schedule, run.id, made)
        elif run.slot_at >= now - RETRY_WINDOW:
            await _generate(rt, schedule, run.id, now)
        else:
            await _finish(rt, run.id, "failed", error="interrupted: a worker stopped mid-run")
            await _notify(rt, "schedule_failed")
    return taken


# -- the loop's batch ---------------------------------------------------------------------------


async def process_schedules(rt: Runtime) -> int:
    """One tick: publish due approved drafts, run due slots, recover dead runs.

    Returns how much work was done (drafts published + slots run + runs taken over), so the
    worker loop ticks again at once while there is work.
    """
    work = await drafting.publish_due(rt)
    now = rt.clock()
    async with rt.sessions() as session:
        schedules = list(
            await session.scalars(
                select(Schedule).where(Schedule.enabled.is_(True)).order_by(Schedule.id)
            )
        )
    for schedule in schedules:
        try:
            work += await _tick_schedule(rt, schedule, now)
        except Exception:  # one broken schedule must not stop the others
            log.exception("schedule.tick_error name=%s", schedule.name)
    work += await recover_runs(rt)
    return work
