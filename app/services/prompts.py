"""Prompt templates: jinja2 rendered in a sandbox, with variables gathered from the database.

Templates are written by the operator (personas), so they are rendered by a
``SandboxedEnvironment`` (no attribute-access escapes) with ``StrictUndefined`` (a misspelt
variable is an error, not an empty string). Variables:

``task`` (the owner's ``--prompt`` as an instruction, e.g. "Write a post about owls."),
``date`` (YYYY-MM-DD), ``time`` (HH:MM), ``weekday`` (Monday...), ``timezone`` (UTC),
``persona`` (name, language, visibility, hashtags, system_prompt), ``recent_posts`` (the texts of
the owner's last 10 posts, newest first, without disclosure lines), ``timeline`` (up to 10 recent
public/unlisted posts from followed accounts that have not opted out with ``indexable: false``,
each ``{"author": handle, "text": ...}``), ``topic`` and ``prompt`` (the same: the owner's
``--prompt``, or ``None``), ``context`` (a thread for replies, or ``None``) and
``reply_to`` (the actor a reply answers, or ``None``).

The offline composer is not a language model: it reads only the first line of the rendered
prompt (its topic), so templates should start with the task.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import select

from app.db.models import Post, RemoteActor, TimelineEntry
from app.db.models_ai import Persona
from app.errors import UserError
from app.runtime import Runtime
from app.services.labels import DISCLOSURE_PREFIX
from federation.sanitize import html_to_text

_IMPERATIVE = re.compile(
    r"^\s*(?:please\s+)?(?:write|compose|draft|create|make|generate|give|share|tell|post|say|"
    r"announce|describe|explain|summari[sz]e|list|reply|answer|ask|invite|remind)\b",
    re.IGNORECASE,
)
RECENT_POSTS = 10
TIMELINE_POSTS = 10
MAX_TIMELINE_CHARS = 500

DEFAULT_TEMPLATE = """\
{{ task }}

Today is {{ weekday }}, {{ date }} ({{ timezone }}).
{% if recent_posts %}
Do not repeat these recent posts of yours:
{% for text in recent_posts[:5] %}- {{ text | truncate(200) }}
{% endfor %}{% endif %}"""

REPLY_TEMPLATE = """\
Write a short, friendly reply about {{ topic if topic else "this conversation" }}.
{% if reply_to %}
You are answering {{ reply_to }}; do not mention anyone else.
{% endif %}{% if context %}
The conversation so far, oldest first:
{{ context }}
{% endif %}"""


def _environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, trim_blocks=True, keep_trailing_newline=False
    )


def _one_line(exc: Exception) -> str:
    detail = " ".join(str(exc).split()) or type(exc).__name__
    line = getattr(exc, "lineno", None)
    return f"{detail} (line {line})" if line else detail


def sample_variables() -> dict[str, Any]:
    """Every template variable with an example value, to try a template before saving it."""
    now = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
    return {
        "task": "Write a post about owls.",
        "date": "2026-01-05",
        "time": "09:30",
        "weekday": "Monday",
        "timezone": "UTC",
        "now": now,
        "persona": {
            "name": "example",
            "language": "en",
            "visibility": "unlisted",
            "hashtags": ["Example"],
            "system_prompt": "You write short posts.",
            "max_posts_per_day": 12,
        },
        "recent_posts": ["An earlier post."],
        "timeline": [{"author": "@alice@example.social", "text": "Hello there."}],
        "topic": "owls",
        "prompt": "owls",
        "context": None,
        "reply_to": None,
    }


def check_template(template: str) -> None:
    """Compile ``template`` and render it once with :func:`sample_variables`.

    Raises:
        UserError: a syntax error, an unknown variable, or something the sandbox forbids
            (one line).
    """
    render_prompt(template, sample_variables())


def render_prompt(template: str, variables: Mapping[str, Any]) -> str:
    """Return ``template`` rendered in the sandbox, stripped.

    Raises:
        UserError: the template does not compile, uses an unknown variable, or tries something
            the sandbox forbids (one line).
    """
    try:
        text = _environment().from_string(template).render(**variables)
    except TemplateError as exc:  # includes SecurityError and UndefinedError
        raise UserError(f"bad prompt template: {_one_line(exc)}") from exc
    except Exception as exc:  # a filter or a comparison failing inside the template
        raise UserError(f"bad prompt template: {_one_line(exc)}") from exc
    return text.strip()


def strip_disclosure(text: str) -> str:
    """Return a post's text without the trailing disclosure line of a generated post."""
    head, sep, tail = text.rpartition("\n\n")
    if sep and tail.startswith(DISCLOSURE_PREFIX):
        return head
    return text


def indexable(document: str) -> bool:
    """False when an actor document opts out of indexing with ``indexable: false``."""
    try:
        parsed = json.loads(document)
    except ValueError:
        return False
    return not (isinstance(parsed, dict) and parsed.get("indexable") is False)


async def recent_own_posts(rt: Runtime, local_actor_id: int, limit: int) -> list[str]:
    """Return the texts of the owner's last ``limit`` posts, newest first, disclosure removed."""
    async with rt.sessions() as session:
        rows = await session.scalars(
            select(Post)
            .where(Post.local_actor_id == local_actor_id, Post.deleted_at.is_(None))
            .order_by(Post.published_at.desc(), Post.id.desc())
            .limit(limit)
        )
        return [strip_disclosure(p.source or html_to_text(p.content)) for p in rows]


async def timeline_posts(rt: Runtime, limit: int = TIMELINE_POSTS) -> list[dict[str, str]]:
    """Return recent public/unlisted timeline posts of authors who have not opted out.

    An author whose actor document says ``indexable: false``, or who is not known, is left out;
    followers-only and direct posts are never handed to a model.
    """
    async with rt.sessions() as session:
        rows = (
            await session.execute(
                select(Post, RemoteActor)
                .join(TimelineEntry, TimelineEntry.post_uri == Post.uri)
                .join(RemoteActor, RemoteActor.uri == Post.author_uri)
                .where(Post.deleted_at.is_(None), Post.visibility.in_(("public", "unlisted")))
                .order_by(TimelineEntry.created_at.desc(), TimelineEntry.id.desc())
                .limit(limit * 4)
            )
        ).all()
    result: list[dict[str, str]] = []
    seen: set[str] = set()
    for post, actor in rows:
        if post.uri in seen or not indexable(actor.document):
            continue
        seen.add(post.uri)
        handle = f"@{actor.username}@{actor.domain}" if actor.username else actor.uri
        text = html_to_text(post.content)[:MAX_TIMELINE_CHARS]
        result.append({"author": handle, "text": text})
        if len(result) >= limit:
            break
    return result


def task_of(topic: str | None, now: datetime) -> str:
    """Return the owner's ``--prompt`` as an instruction: kept as written when it already is
    one ("Write a haiku about rain"), else "Write a post about TOPIC."."""
    if not topic:
        return f"Write a short post for this {now.strftime('%A')}."
    if _IMPERATIVE.match(topic):
        return topic
    return f"Write a post about {topic.rstrip('.!')}."


def first_line(prompt: str) -> str:
    """Return the first non-empty line of a rendered prompt: all the offline composer reads."""
    return next((line.strip() for line in prompt.splitlines() if line.strip()), prompt)


def persona_view(persona: Persona) -> dict[str, Any]:
    """The ``persona`` variable of a template."""
    return {
        "name": persona.name,
        "language": persona.language,
        "visibility": persona.visibility,
        "hashtags": json.loads(persona.hashtags_json or "[]"),
        "system_prompt": persona.system_prompt,
        "max_posts_per_day": persona.max_posts_per_day,
    }


async def prompt_variables(
    rt: Runtime,
    persona: Persona,
    *,
    local_actor_id: int,
    topic: str | None,
    now: datetime,
    context: str | None = None,
    reply_to: str | None = None,
) -> dict[str, Any]:
    """Return every template variable (see the module docstring)."""
    return {
        "task": task_of(topic, now),
        "date": now.strftime("%Y-%m-%d"),
        "time": now.strftime("%H:%M"),
        "weekday": now.strftime("%A"),
        "timezone": now.tzname() or "UTC",
        "now": now,
        "persona": persona_view(persona),
        "recent_posts": await recent_own_posts(rt, local_actor_id, RECENT_POSTS),
        "timeline": await timeline_posts(rt),
        "topic": topic,
        "prompt": topic,
        "context": context,
        "reply_to": reply_to,
    }
