"""AI posting from the command line: generate, drafts, approve, reject, personas."""

from __future__ import annotations

import argparse
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from app.commands.base import Result, iso
from app.config import Settings
from app.db.models_ai import Draft, Persona
from app.errors import UserError
from app.runtime import open_runtime
from app.services import drafting, personas
from generation import GenerationError

REVIEW_STATES = ("candidate", "approved", "blocked", "failed", "publishing")
_RELATIVE = re.compile(r"^\+(\d+)\s*([smhd])$")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")


def parse_when(text: str, now: datetime) -> datetime:
    """Return the time ``--at`` names: ISO 8601 (UTC unless it has an offset), ``+30m``,
    ``+2h``, ``+1d``, or ``HH:MM`` (UTC; tomorrow when that time has passed today).

    Raises:
        UserError: none of these forms.
    """
    value = text.strip()
    relative = _RELATIVE.match(value)
    if relative:
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[relative.group(2)]
        return now + timedelta(**{unit: int(relative.group(1))})
    clock = _CLOCK.match(value)
    if clock and int(clock.group(1)) < 24 and int(clock.group(2)) < 60:
        at = now.astimezone(UTC).replace(
            hour=int(clock.group(1)), minute=int(clock.group(2)), second=0, microsecond=0
        )
        return at if at > now else at + timedelta(days=1)
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise UserError(
            f"--at {text!r}: use ISO 8601 like 2026-12-01T09:00 (UTC unless an offset is "
            "given), +30m, +2h, +1d or HH:MM"
        ) from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def draft_json(draft: Draft) -> dict[str, Any]:
    """Everything known about a draft, provenance included."""
    details = drafting.details_of(draft)
    return {
        "id": draft.id,
        "batch": draft.batch,
        "state": draft.state,
        "rank": draft.rank,
        "score": draft.score,
        "text": draft.text,
        "original_text": draft.original_text,
        "edited": draft.text != draft.original_text,
        "visibility": draft.visibility,
        "language": draft.language,
        "summary": draft.summary,
        "in_reply_to": draft.in_reply_to,
        "reply_to_actor": draft.reply_to_actor,
        "persona": details.get("persona"),
        "persona_id": draft.persona_id,
        "schedule_id": draft.schedule_id,
        "provider": draft.provider,
        "model": draft.model,
        "image_model": draft.image_model,
        "image_file": draft.image_file,
        "image_alt": draft.image_alt,
        "rendered_prompt": draft.rendered_prompt,
        "input_tokens": draft.input_tokens,
        "output_tokens": draft.output_tokens,
        "cost": draft.cost,
        "moderation": drafting.verdict_of(draft),
        "ranking": details.get("ranking"),
        "details": details,
        "publish_at": iso(draft.publish_at),
        "post": draft.post_uri,
        "error": draft.error,
        "created_at": iso(draft.created_at),
        "updated_at": iso(draft.updated_at),
    }


def _preview(text: str, width: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _draft_line(draft: Draft) -> str:
    score = f"score {draft.score:.1f}" if draft.score is not None else "unscored"
    extra = ""
    if draft.state == "blocked":
        verdict = drafting.verdict_of(draft) or {}
        extra = f" ({', '.join(verdict.get('categories', [])) or 'flagged'})"
    elif draft.state == "approved" and draft.publish_at is not None:
        extra = f" for {iso(draft.publish_at)}"
    elif draft.state == "published":
        extra = f" as {draft.post_uri}"
    elif draft.error:
        extra = f" ({draft.error})"
    image = "  [image]" if draft.image_file else ""
    edited = "  [edited]" if draft.text != draft.original_text else ""
    return (
        f"#{draft.id}  {draft.state}{extra}  {score}  {draft.model} ({draft.provider})  "
        f"${draft.cost:.4f}{image}{edited}\n  {_preview(draft.text)}"
    )


def _stderr_progress(message: str) -> None:
    print(f"myna: {message}", file=sys.stderr, flush=True)


async def cmd_generate(settings: Settings, args: argparse.Namespace) -> tuple[Result, str]:
    request = drafting.GenerateRequest(
        persona=args.persona,
        prompt=args.prompt,
        image=args.image,
        candidates=args.candidates,
        publish=args.publish,
    )
    async with open_runtime(settings) as rt:
        try:
            drafts = await drafting.generate(rt, request, on_progress=_stderr_progress)
        except GenerationError as exc:
            raise UserError(f"generation failed ({exc.provider or 'provider'}): {exc}") from exc
    data = [draft_json(d) for d in drafts]
    lines = [_draft_line(d) for d in drafts]
    if args.publish:
        if drafts and drafts[0].state == "published":
            lines.insert(0, f"Published draft {drafts[0].id}: {drafts[0].post_uri}")
        else:
            ids = ", ".join(str(d.id) for d in drafts)
            raise UserError(f"every candidate was blocked by moderation (drafts {ids} kept)")
    else:
        lines.append(
            "Approve one with `myna approve ID` (or `--at TIME`), edit it with "
            "`myna drafts edit ID TEXT`, or `myna reject ID`."
        )
    return data, "\n".join(lines)


async def cmd_drafts(settings: Settings, args: argparse.Namespace) -> tuple[Result, str]:
    async with open_runtime(settings) as rt:
        if args.action == "edit":
            if args.draft is None or args.text is None:
                raise UserError("usage: myna drafts edit DRAFT_ID TEXT")
            draft = await drafting.edit_draft(rt, _draft_id(args.draft), args.text)
            return draft_json(draft), f"Edited draft {draft.id}\n{_draft_line(draft)}"
        if args.action == "show":
            if args.draft is None:
                raise UserError("usage: myna drafts show DRAFT_ID")
            draft = await drafting.get_draft(rt, _draft_id(args.draft))
            return draft_json(draft), _show(draft)
        if args.draft is not None:
            raise UserError("usage: myna drafts [show|edit] [DRAFT_ID] [TEXT]")
        states = [args.state] if args.state else (None if args.all else list(REVIEW_STATES))
        drafts = await drafting.list_drafts(rt, states=states, limit=args.limit)
    return [draft_json(d) for d in drafts], "\n".join(map(_draft_line, drafts)) or "No drafts."


def _show(draft: Draft) -> str:
    data = draft_json(draft)
    lines = [_draft_line(draft), "", draft.text, ""]
    if data["edited"]:
        lines += ["Original text:", draft.original_text, ""]
    if draft.image_alt:
        lines += [f"Image: {draft.image_file}", f"Alt text: {draft.image_alt}", ""]
    lines += [
        f"Persona: {data['persona']}   ranking: {data['ranking']}",
        f"Tokens: {draft.input_tokens} in, {draft.output_tokens} out   cost: ${draft.cost:.6f}",
        f"Moderation: {data['moderation']}",
        "Prompt:",
        draft.rendered_prompt,
    ]
    return "\n".join(lines)


def _draft_id(raw: str) -> int:
    try:
        return int(raw.lstrip("#"))
    except ValueError:
        raise UserError(f"not a draft id: {raw!r} (see `myna drafts`)") from None


async def cmd_approve(settings: Settings, args: argparse.Namespace) -> tuple[Result, str]:
    async with open_runtime(settings) as rt:
        at = parse_when(args.at, rt.clock()) if args.at else None
        try:
            draft = await drafting.approve(rt, _draft_id(args.draft), at)
        except GenerationError as exc:
            raise UserError(f"moderation failed ({exc.provider or 'provider'}): {exc}") from exc
    if draft.state == "published":
        return draft_json(draft), f"Published draft {draft.id}: {draft.post_uri}"
    return draft_json(draft), f"Draft {draft.id} will be published at {iso(draft.publish_at)}"


async def cmd_reject(settings: Settings, args: argparse.Namespace) -> tuple[Result, str]:
    async with open_runtime(settings) as rt:
        draft = await drafting.reject(rt, _draft_id(args.draft))
    return draft_json(draft), f"Rejected draft {draft.id}"


def persona_json(persona: Persona) -> dict[str, Any]:
    return {
        "name": persona.name,
        "system_prompt": persona.system_prompt,
        "prompt_template": persona.prompt_template,
        "language": persona.language,
        "visibility": persona.visibility,
        "hashtags": personas.hashtags_of(persona),
        "max_posts_per_day": persona.max_posts_per_day,
        "created_at": iso(persona.created_at),
        "updated_at": iso(persona.updated_at),
    }


def _persona_line(persona: Persona) -> str:
    tags = " ".join("#" + t for t in personas.hashtags_of(persona)) or "no hashtags"
    return (
        f"{persona.name}  {persona.language}  {persona.visibility}  "
        f"≤{persona.max_posts_per_day}/day  {tags}\n  {_preview(persona.system_prompt, 200)}"
    )


def _changes(args: argparse.Namespace) -> personas.PersonaChanges:
    template = args.template
    if args.template_file:
        try:
            template = Path(args.template_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise UserError(f"cannot read {args.template_file}: {exc.strerror}") from exc
    return personas.PersonaChanges(
        system_prompt=args.system,
        prompt_template=template,
        language=args.language,
        visibility=args.visibility,
        hashtags=args.hashtags.split() if args.hashtags is not None else None,
        max_posts_per_day=args.max_per_day,
    )


async def cmd_personas(settings: Settings, args: argparse.Namespace) -> tuple[Result, str]:
    action = args.action
    if action and not args.name:
        raise UserError(f"usage: myna personas {action} NAME")
    async with open_runtime(settings) as rt:
        if action == "add":
            persona = await personas.add_persona(rt, args.name, _changes(args))
            return persona_json(persona), f"Added persona {persona.name}"
        if action == "set":
            persona = await personas.set_persona(rt, args.name, _changes(args))
            return persona_json(persona), f"Changed persona {persona.name}"
        if action == "remove":
            await personas.remove_persona(rt, args.name)
            return {"removed": args.name}, f"Removed persona {args.name}"
        if action == "show":
            persona = await personas.get_persona(rt, args.name)
            text = (
                f"{_persona_line(persona)}\n\nSystem prompt:\n{persona.system_prompt}\n\n"
                f"Prompt template:\n{persona.prompt_template}"
            )
            return persona_json(persona), text
        found = await personas.list_personas(rt)
    return [persona_json(p) for p in found], "\n".join(map(_persona_line, found))
