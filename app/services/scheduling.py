"""Schedules: a cron expression in a time zone that drafts (or publishes) posts on its own.

This module validates and stores schedules (add, list, enable, disable, remove) and computes
their slots; ``app/jobs/scheduler.py`` runs them.

Slots and time zones. A slot is a wall-clock time in the schedule's zone that matches the cron
expression (five fields, or a macro such as ``@daily``), turned into an instant like Vixie cron
does across daylight-saving changes:

- a wall time that does not exist (the hour skipped in spring) runs once, when the gap ends
  (``30 2 * * *`` in Europe/Berlin runs at 03:00 on the last Sunday of March);
- a wall time that happens twice (the hour repeated in autumn) runs at its first occurrence
  only, unless the hour field is ``*``: a schedule that runs every hour keeps doing so through
  the repeated hour (``*/30 * * * *`` runs four times in it, ``30 2 * * *`` once).

Errors: ``UserError`` with a one-line message for anything the owner typed wrong.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from app.db.models_ai import Draft, Persona, Schedule, ScheduleRun
from app.errors import UserError
from app.runtime import Runtime
from app.services.drafting import MAX_CANDIDATES

log = logging.getLogger("myna.schedules")

MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# How far before ``after`` (in wall-clock time) the slot search starts when a daylight-saving
# change is near: wider than any offset change, so no slot is skipped.
_DST_MARGIN = timedelta(hours=3)
_GAP_LIMIT = 24 * 60  # minutes walked forward out of a skipped (nonexistent) wall time


# -- slots --------------------------------------------------------------------------------------


def zone_of(tz: str) -> ZoneInfo:
    """The IANA time zone ``tz``; UserError (one line) when it does not exist."""
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise UserError(
            f"unknown time zone {tz!r}: use an IANA name such as Europe/Berlin or UTC"
        ) from None


def check_cron(expr: str) -> str:
    """Return ``expr`` with its whitespace normalised; UserError (one line) when invalid.

    Five fields (minute hour day-of-month month day-of-week) or one of ``MACROS``; a sixth
    (seconds) field is refused: slots are whole minutes.
    """
    normal = " ".join(expr.split())
    if not normal:
        raise UserError("a schedule needs --cron, e.g. --cron '0 9 * * *' (09:00 every day)")
    if normal.startswith("@"):
        if normal.lower() not in MACROS:
            raise UserError(f"unknown cron macro {normal!r}: use one of {', '.join(MACROS)}")
        normal = normal.lower()
    elif len(normal.split()) != 5:
        raise UserError(
            f"cron expression {normal!r} must have 5 fields: "
            "minute hour day-of-month month day-of-week"
        )
    try:
        valid = bool(croniter.is_valid(normal))
    except Exception:
        valid = False
    if not valid:
        raise UserError(f"invalid cron expression {normal!r}")
    return normal


def _exists(wall: datetime, zone: ZoneInfo) -> bool:
    """False for a wall time skipped by a daylight-saving change."""
    there = wall.replace(tzinfo=zone)
    return there.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall


def _first_instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The instant of a wall time: its first occurrence, or the end of the gap it falls in."""
    moment = wall
    for _ in range(_GAP_LIMIT):
        if _exists(moment, zone):
            return moment.replace(tzinfo=zone, fold=0).astimezone(UTC)
        moment += timedelta(minutes=1)
    raise UserError(f"time zone {zone.key} skips more than a day")  # pragma: no cover


def _second_instant(wall: datetime, zone: ZoneInfo) -> datetime | None:
    """The second occurrence of a repeated wall time, or None when it happens once."""
    first, second = wall.replace(tzinfo=zone, fold=0), wall.replace(tzinfo=zone, fold=1)
    if first.utcoffset() == second.utcoffset() or not _exists(wall, zone):
        return None
    return second.astimezone(UTC)


def next_slot(cron: str, tz: str, after: datetime) -> datetime:
    """Return the first slot of ``cron`` in zone ``tz`` strictly after ``after``, in UTC.

    Pure. DST rules are in the module docstring. Raises UserError for a bad zone or
    expression, or one that never fires (``0 0 30 2 *``).
    """
    zone = zone_of(tz)
    after = after.astimezone(UTC)
    try:
        repeat_hours = croniter(cron).expanded[1] == ["*"]
        local = after.astimezone(zone).replace(tzinfo=None)
        near_change = zone.utcoffset(local - _DST_MARGIN) != zone.utcoffset(local + _DST_MARGIN)
        # croniter runs on naive wall times (its own DST handling repeats and skips slots);
        # the wall times are turned into instants here.
        walls = croniter(cron, local - _DST_MARGIN if near_change else local)
        best: datetime | None = None
        while True:
            wall = walls.get_next(datetime)
            first = _first_instant(wall, zone)
            second = _second_instant(wall, zone) if repeat_hours else None
            for instant in (first, second):
                if instant is not None and instant > after and (best is None or instant < best):
                    best = instant
            # Later wall times map to later first instants, and their second occurrences
            # come after those: nothing further can beat ``best``.
            if first > after:
                assert best is not None
                return best
    except UserError:
        raise
    except Exception as exc:  # croniter: bad expression, or no date found
        raise UserError(f"cron expression {cron!r} has no next time: {exc}") from None


# -- schedules ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleView:
    """A schedule with its persona's name and its latest run."""

    schedule: Schedule
    persona: str | None
    last_run: ScheduleRun | None


def _check_name(name: str) -> str:
    if not _NAME_RE.match(name):
        raise UserError(
            f"schedule name {name!r} must be 1-64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    return name


async def _persona_id(rt: Runtime, name: str | None) -> int | None:
    if name is None:
        return None
    async with rt.sessions() as session:
        found = await session.scalar(select(Persona.id).where(Persona.name == name))
    if found is None:
        raise UserError(f"no persona named {name!r} (see `myna personas`)")
    return found


async def add_schedule(
    rt: Runtime,
    *,
    name: str,
    cron: str,
    tz: str = "UTC",
    persona: str | None = None,
    prompt: str | None = None,
    image: bool = False,
    candidates: int = 1,
    publish: bool = False,
) -> Schedule:
    """Store a new, enabled schedule whose first slot is the next one after now.

    Raises UserError for a bad name, expression, zone, persona or candidate count, or a name
    that is taken.
    """
    _check_name(name)
    cron = check_cron(cron)
    zone_of(tz)
    if not 1 <= candidates <= MAX_CANDIDATES:
        raise UserError(f"--candidates must be between 1 and {MAX_CANDIDATES}")
    persona_id = await _persona_id(rt, persona)
    now = rt.clock()
    first = next_slot(cron, tz, now)
    schedule = Schedule(
        name=name,
        persona_id=persona_id,
        cron=cron,
        timezone=tz,
        mode="publish" if publish else "draft",
        prompt=prompt or None,
        with_image=image,
        candidates=candidates,
        enabled=True,
        created_at=now,
        next_run_at=first,
    )
    try:
        async with rt.writes.begin() as session:
            if await session.scalar(select(Schedule.id).where(Schedule.name == name)):
                raise UserError(f"a schedule named {name!r} exists already")
            session.add(schedule)
    except IntegrityError:
        raise UserError(f"a schedule named {name!r} exists already") from None
    log.info("schedule.added name=%s cron=%r tz=%s mode=%s", name, cron, tz, schedule.mode)
    return schedule


async def get_schedule(rt: Runtime, name: str) -> Schedule:
    """The schedule called ``name``; UserError when there is none."""
    async with rt.sessions() as session:
        schedule = await session.scalar(select(Schedule).where(Schedule.name == name))
    if schedule is None:
        raise UserError(f"no schedule named {name!r} (see `myna schedules`)")
    return schedule


async def list_schedules(rt: Runtime) -> list[ScheduleView]:
    """Every schedule by name, with its persona's name and its latest run."""
    async with rt.sessions() as session:
        rows = (
            await session.execute(
                select(Schedule, Persona.name)
                .outerjoin(Persona, Persona.id == Schedule.persona_id)
                .order_by(Schedule.name)
            )
        ).all()
        views = []
        for schedule, persona in rows:
            last = await session.scalar(
                select(ScheduleRun)
                .where(ScheduleRun.schedule_id == schedule.id)
                .order_by(ScheduleRun.slot_at.desc())
                .limit(1)
            )
            views.append(ScheduleView(schedule, persona, last))
    return views


async def list_runs(
    rt: Runtime, name: str, limit: int = 50
) -> list[tuple[ScheduleRun, list[Draft]]]:
    """The latest ``limit`` runs of schedule ``name``, newest first, each with its drafts."""
    schedule = await get_schedule(rt, name)
    async with rt.sessions() as session:
        runs = (
            await session.scalars(
                select(ScheduleRun)
                .where(ScheduleRun.schedule_id == schedule.id)
                .order_by(ScheduleRun.slot_at.desc())
                .limit(limit)
            )
        ).all()
        batches = [run.draft_batch for run in runs if run.draft_batch]
        drafts = (
            (await session.scalars(select(Draft).where(Draft.batch.in_(batches)))).all()
            if batches
            else []
        )
    by_batch: dict[str, list[Draft]] = {}
    for draft in sorted(drafts, key=lambda d: (d.rank or 0, d.id)):
        by_batch.setdefault(draft.batch, []).append(draft)
    return [(run, by_batch.get(run.draft_batch or "", [])) for run in runs]


async def set_enabled(rt: Runtime, name: str, enabled: bool) -> Schedule:
    """Enable or disable schedule ``name``. Enabling starts from the next slot after now:
    slots passed while it was disabled never run."""
    now = rt.clock()
    async with rt.writes.begin() as session:
        schedule = await session.scalar(select(Schedule).where(Schedule.name == name))
        if schedule is None:
            raise UserError(f"no schedule named {name!r} (see `myna schedules`)")
        if enabled and not schedule.enabled:
            schedule.next_run_at = next_slot(schedule.cron, schedule.timezone, now)
        schedule.enabled = enabled
    log.info("schedule.%s name=%s", "enabled" if enabled else "disabled", name)
    return schedule


async def remove_schedule(rt: Runtime, name: str) -> None:
    """Delete schedule ``name`` and its runs; its drafts stay (unlinked)."""
    async with rt.writes.begin() as session:
        schedule = await session.scalar(select(Schedule).where(Schedule.name == name))
        if schedule is None:
            raise UserError(f"no schedule named {name!r} (see `myna schedules`)")
        await session.execute(delete(ScheduleRun).where(ScheduleRun.schedule_id == schedule.id))
        await session.delete(schedule)
    log.info("schedule.removed name=%s", name)
