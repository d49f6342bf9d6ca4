"""Personas: the voices the generator writes in (system prompt, template, language, limits).

A persona named ``default`` always exists (:func:`ensure_default_persona`); ``myna generate``
without ``--persona`` uses it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.db.models_ai import Persona
from app.errors import UserError
from app.runtime import Runtime
from app.services.prompts import DEFAULT_TEMPLATE, check_template

DEFAULT_PERSONA = "default"
DEFAULT_SYSTEM_PROMPT = (
    "You write short, friendly fediverse posts for a small audience. Be concrete and kind, "
    "avoid hype and clickbait, never mention people who did not ask for it, use at most two "
    "hashtags, and write plain text without markdown."
)
VISIBILITIES = ("public", "unlisted", "followers")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_TAG_RE = re.compile(r"^\w+$")


@dataclass(frozen=True)
class PersonaChanges:
    """Fields to set on a persona; ``None`` leaves a field as it is."""

    system_prompt: str | None = None
    prompt_template: str | None = None
    language: str | None = None
    visibility: str | None = None
    hashtags: Sequence[str] | None = None
    max_posts_per_day: int | None = None


def hashtags_of(persona: Persona) -> list[str]:
    """Return the persona's hashtags without ``#``."""
    tags = json.loads(persona.hashtags_json or "[]")
    return [str(t) for t in tags]


def _normalise_tags(tags: Sequence[str]) -> list[str]:
    result: list[str] = []
    for raw in tags:
        for part in raw.replace(",", " ").split():
            tag = part.lstrip("#")
            if not _TAG_RE.match(tag):
                raise UserError(f"not a hashtag: {part!r}")
            if tag.lower() not in (t.lower() for t in result):
                result.append(tag)
    return result


def _apply(persona: Persona, changes: PersonaChanges) -> None:
    if changes.system_prompt is not None:
        if not changes.system_prompt.strip():
            raise UserError("the system prompt must not be empty")
        persona.system_prompt = changes.system_prompt.strip()
    if changes.prompt_template is not None:
        check_template(changes.prompt_template)
        persona.prompt_template = changes.prompt_template
    if changes.language is not None:
        if not re.match(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$", changes.language):
            raise UserError(f"not a language code: {changes.language!r} (e.g. en, de, pt-BR)")
        persona.language = changes.language
    if changes.visibility is not None:
        if changes.visibility not in VISIBILITIES:
            raise UserError(f"visibility must be one of {', '.join(VISIBILITIES)}")
        persona.visibility = changes.visibility
    if changes.hashtags is not None:
        persona.hashtags_json = json.dumps(_normalise_tags(changes.hashtags))
    if changes.max_posts_per_day is not None:
        if changes.max_posts_per_day < 0:
            raise UserError("the posting limit must not be negative")
        persona.max_posts_per_day = changes.max_posts_per_day


def _new_default(rt: Runtime) -> Persona:
    now = rt.clock()
    return Persona(
        name=DEFAULT_PERSONA,
        system_prompt=DEFAULT_SYSTEM_PROMPT,
        prompt_template=DEFAULT_TEMPLATE,
        language="en",
        visibility="unlisted",
        hashtags_json="[]",
        max_posts_per_day=12,
        created_at=now,
        updated_at=now,
    )


async def ensure_default_persona(rt: Runtime) -> Persona:
    """Return the ``default`` persona, creating it on first use."""
    async with rt.sessions() as session:
        found = await session.scalar(select(Persona).where(Persona.name == DEFAULT_PERSONA))
    if found is not None:
        return found
    try:
        async with rt.writes.begin() as session:
            found = await session.scalar(select(Persona).where(Persona.name == DEFAULT_PERSONA))
            if found is None:
                found = _new_default(rt)
                session.add(found)
                await session.flush()
    except IntegrityError:  # another process created it at the same moment
        async with rt.sessions() as session:
            found = await session.scalar(select(Persona).where(Persona.name == DEFAULT_PERSONA))
    if found is None:
        raise UserError("cannot create the default persona")
    return found


async def list_personas(rt: Runtime) -> list[Persona]:
    """Return every persona by name (the default one is created first if missing)."""
    await ensure_default_persona(rt)
    async with rt.sessions() as session:
        return list(await session.scalars(select(Persona).order_by(Persona.name)))


async def get_persona(rt: Runtime, name: str | None) -> Persona:
    """Return the persona called ``name`` (``None``: the default one).

    Raises:
        UserError: no persona has that name.
    """
    if name is None or name == DEFAULT_PERSONA:
        return await ensure_default_persona(rt)
    async with rt.sessions() as session:
        found = await session.scalar(select(Persona).where(Persona.name == name))
    if found is None:
        raise UserError(f"no persona named {name!r} (see `myna personas`)")
    return found


async def get_persona_by_id(rt: Runtime, persona_id: int | None) -> Persona:
    """Return the persona with ``persona_id``, or the default one when it is gone or ``None``."""
    if persona_id is not None:
        async with rt.sessions() as session:
            found = await session.get(Persona, persona_id)
        if found is not None:
            return found
    return await ensure_default_persona(rt)


async def add_persona(rt: Runtime, name: str, changes: PersonaChanges) -> Persona:
    """Create a persona; unset fields take the default persona's values.

    Raises:
        UserError: the name is taken or malformed, or a field is invalid.
    """
    if not _NAME_RE.match(name):
        raise UserError("a persona name is 1-64 letters, digits, '_', '.' or '-'")
    await ensure_default_persona(rt)
    persona = _new_default(rt)
    persona.name = name
    _apply(persona, changes)
    async with rt.writes.begin() as session:
        if await session.scalar(select(Persona.id).where(Persona.name == name)) is not None:
            raise UserError(f"a persona named {name!r} exists already (use `myna personas set`)")
        session.add(persona)
        await session.flush()
    return persona


async def set_persona(rt: Runtime, name: str, changes: PersonaChanges) -> Persona:
    """Change a persona's fields.

    Raises:
        UserError: no such persona, or a field is invalid (nothing is changed then).
    """
    await ensure_default_persona(rt)
    async with rt.writes.begin() as session:
        persona = await session.scalar(select(Persona).where(Persona.name == name))
        if persona is None:
            raise UserError(f"no persona named {name!r} (see `myna personas`)")
        _apply(persona, changes)
        persona.updated_at = rt.clock()
    return persona


async def remove_persona(rt: Runtime, name: str) -> None:
    """Delete a persona; its drafts keep their provenance (the persona name is in
    ``details_json``).

    Raises:
        UserError: no such persona, or it is the default one.
    """
    if name == DEFAULT_PERSONA:
        raise UserError("the default persona cannot be removed (change it with `personas set`)")
    async with rt.writes.begin() as session:
        persona = await session.scalar(select(Persona).where(Persona.name == name))
        if persona is None:
            raise UserError(f"no persona named {name!r} (see `myna personas`)")
        await session.delete(persona)
