"""Costs and daily budgets of generated posts.

Costs come from ``settings.prices`` (USD per 1M input/output tokens and per image, by model).
Budgets count per UTC day: published generated posts (``MYNA_DAILY_POST_BUDGET``) and the cost of
every draft made that day (``MYNA_DAILY_COST_BUDGET``); a persona's ``max_posts_per_day`` limits
its own published posts. When one is used up, :class:`BudgetExceeded` stops generation (or
publishing) and the owner gets one "budget" notification per day.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import func, select

from app.config import Settings
from app.db.models import Notification, Post
from app.db.models_ai import Draft as DraftRow
from app.db.models_ai import Persona
from app.errors import UserError
from app.runtime import Runtime
from app.services.following import owner
from app.store.notifications import add_notification
from generation import Usage

log = logging.getLogger("myna.drafting")


class BudgetExceeded(UserError):
    """The daily post or cost budget is used up; generation and publishing stop for today."""


def price_of(settings: Settings, model: str | None) -> tuple[float, float, float]:
    """Return (USD per 1M input tokens, per 1M output tokens, per image) of ``model``."""
    for name, inp, out, image in settings.prices:
        if name == model:
            return inp, out, image
    return 0.0, 0.0, 0.0


def cost_of(settings: Settings, model: str | None, usage: Usage, images: int = 0) -> float:
    """Return the cost in USD of ``usage`` (and ``images`` images) on ``model``."""
    inp, out, image = price_of(settings, model)
    return usage.input_tokens * inp / 1e6 + usage.output_tokens * out / 1e6 + images * image


def split_usage(usage: Usage, parts: int, index: int) -> Usage:
    """Share ``usage`` among ``parts`` drafts: equal shares, the remainder to the first."""
    if parts <= 1:
        return usage
    inp, out = usage.input_tokens // parts, usage.output_tokens // parts
    if index == 0:
        inp += usage.input_tokens - inp * parts
        out += usage.output_tokens - out * parts
    return Usage(inp, out)


def day_start(now: datetime) -> datetime:
    now = now.astimezone(UTC)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


async def published_today(rt: Runtime, persona_id: int | None = None) -> int:
    start = day_start(rt.clock())
    async with rt.sessions() as session:
        if persona_id is None:
            stmt = select(func.count(Post.id)).where(
                Post.local_actor_id.is_not(None),
                Post.generator_json.is_not(None),
                Post.published_at >= start,
            )
        else:
            stmt = select(func.count(DraftRow.id)).where(
                DraftRow.persona_id == persona_id,
                DraftRow.state == "published",
                DraftRow.publish_at >= start,
            )
        return int(await session.scalar(stmt) or 0)


async def budget_left(rt: Runtime) -> tuple[int, float]:
    """Return (generated posts, USD) left today (UTC day); never negative."""
    start = day_start(rt.clock())
    posts = await published_today(rt)
    async with rt.sessions() as session:
        spent = await session.scalar(
            select(func.coalesce(func.sum(DraftRow.cost), 0.0)).where(DraftRow.created_at >= start)
        )
    s = rt.settings
    return max(0, s.daily_post_budget - posts), max(0.0, s.daily_cost_budget - float(spent or 0))


async def notify_budget(rt: Runtime, message: str) -> None:
    """Add one "budget" notification per UTC day."""
    me = await owner(rt)
    start = day_start(rt.clock())
    async with rt.writes.begin() as session:
        exists = await session.scalar(
            select(Notification.id).where(
                Notification.local_actor_id == me.id,
                Notification.kind == "budget",
                Notification.created_at >= start,
            )
        )
        if exists is None:
            await add_notification(
                session,
                local_actor_id=me.id,
                kind="budget",
                actor_uri=rt.urls.actor(me.username),
                now=rt.clock(),
                activity_id=None,
                object_uri=None,
            )
    log.warning("generation.budget_reached %s", message)


async def check_budget(rt: Runtime, *, publishing: bool) -> None:
    posts, money = await budget_left(rt)
    message = None
    if posts <= 0:
        message = (
            f"the daily post budget ({rt.settings.daily_post_budget} generated posts) is used up; "
            "raise MYNA_DAILY_POST_BUDGET or wait until tomorrow (UTC)"
        )
    elif money <= 0 and not publishing:
        message = (
            f"the daily cost budget (${rt.settings.daily_cost_budget:.2f}) is used up; "
            "raise MYNA_DAILY_COST_BUDGET or wait until tomorrow (UTC)"
        )
    if message:
        await notify_budget(rt, message)
        raise BudgetExceeded(message)


async def check_persona_limit(rt: Runtime, persona: Persona) -> None:
    if await published_today(rt, persona.id) >= persona.max_posts_per_day:
        raise BudgetExceeded(
            f"persona {persona.name!r} has published its {persona.max_posts_per_day} posts "
            "for today (see `myna personas set --max-per-day`)"
        )
