"""`myna schedules`: list, add, enable, disable and remove generation schedules; show runs."""

from __future__ import annotations

import argparse
from typing import Any

from app.clock import clock_for
from app.commands.base import Result, iso
from app.config import Settings
from app.db.models_ai import Draft, Schedule, ScheduleRun
from app.errors import UserError
from app.runtime import open_runtime
from app.services import scheduling


def _run_json(run: ScheduleRun | None, drafts: list[Draft] | None = None) -> dict[str, Any] | None:
    if run is None:
        return None
    data: dict[str, Any] = {
        "slot_at": iso(run.slot_at),
        "state": run.state,
        "error": run.error,
        "batch": run.draft_batch,
        "started_at": iso(run.created_at),
        "finished_at": iso(run.finished_at),
    }
    if drafts is not None:
        data["drafts"] = [
            {"id": d.id, "state": d.state, "rank": d.rank, "post": d.post_uri} for d in drafts
        ]
    return data


def _schedule_json(
    schedule: Schedule, persona: str | None, last: ScheduleRun | None
) -> dict[str, Any]:
    return {
        "name": schedule.name,
        "cron": schedule.cron,
        "timezone": schedule.timezone,
        "mode": schedule.mode,
        "persona": persona,
        "prompt": schedule.prompt,
        "image": schedule.with_image,
        "candidates": schedule.candidates,
        "enabled": schedule.enabled,
        "next_run_at": iso(schedule.next_run_at) if schedule.enabled else None,
        "last_run": _run_json(last),
    }


def _line(data: dict[str, Any]) -> str:
    state = "on " if data["enabled"] else "off"
    when = data["next_run_at"] or "-"
    last = data["last_run"]
    tail = f"  last {last['slot_at']} {last['state']}" if last else ""
    return (
        f"{state}  {data['name']}  {data['cron']!r} {data['timezone']}  {data['mode']}  "
        f"next {when}{tail}"
    )


def _needs_name(args: argparse.Namespace) -> str:
    if not args.name:
        raise UserError(f"`myna schedules {args.action}` needs the schedule's NAME")
    name: str = args.name
    return name


async def cmd_schedules(settings: Settings, args: argparse.Namespace) -> tuple[Result, str]:
    action = args.action
    async with open_runtime(settings, clock=clock_for(settings)) as rt:
        if action is None:
            views = await scheduling.list_schedules(rt)
            rows = [_schedule_json(v.schedule, v.persona, v.last_run) for v in views]
            return rows, "\n".join(_line(r) for r in rows) or "No schedules."
        name = _needs_name(args)
        if action == "add":
            if args.cron is None:
                raise UserError("`myna schedules add` needs --cron, e.g. --cron '0 9 * * *'")
            schedule = await scheduling.add_schedule(
                rt,
                name=name,
                cron=args.cron,
                tz=args.tz,
                persona=args.persona,
                prompt=args.prompt,
                image=args.image,
                candidates=args.candidates,
                publish=args.publish,
            )
            data = _schedule_json(schedule, args.persona, None)
            return data, f"Added schedule {name}: {_line(data)}"
        if action in ("enable", "disable"):
            await scheduling.set_enabled(rt, name, action == "enable")
            view = next(v for v in await scheduling.list_schedules(rt) if v.schedule.name == name)
            data = _schedule_json(view.schedule, view.persona, view.last_run)
            return data, f"Schedule {name} {action}d: {_line(data)}"
        if action == "remove":
            await scheduling.remove_schedule(rt, name)
            return {"name": name, "removed": True}, f"Removed schedule {name}."
        runs = await scheduling.list_runs(rt, name, limit=args.limit)
        items = [_run_json(run, drafts) for run, drafts in runs]
        text = "\n".join(
            f"{r['slot_at']}  {r['state']}"
            + (f"  drafts {','.join(str(d['id']) for d in r['drafts'])}" if r["drafts"] else "")
            + (f"  {r['error']}" if r["error"] else "")
            for r in items
            if r is not None
        )
        return items, text or f"Schedule {name} has not run yet."
