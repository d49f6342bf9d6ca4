"""Reviewing drafts: edit, reject, approve (now or at a time) and publish due drafts.

States of a draft::

    candidate ──approve(at=None)──► published
        │  └──approve(at=future)──► approved ──publish_due()──► published | failed
        ├──reject()──► rejected
    blocked (moderation flagged it; kept with the verdict, never published)

Publishing claims the draft first with one conditional UPDATE (→ "publishing"), so two workers
(or a worker and ``myna approve``) never publish it twice. A process killed between the claim
and the end of publishing leaves the draft "publishing"; ``myna drafts`` shows it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from app.config import Settings
from app.db.models_ai import Draft as DraftRow
from app.errors import UserError
from app.runtime import Runtime
from app.services import labels, posting
from app.services.budgets import budget_left, check_budget, check_persona_limit, notify_budget
from app.services.candidates import moderate_draft, provider_for, verdict_json
from app.services.personas import get_persona_by_id
from generation import Provider, label_alt_text

log = logging.getLogger("myna.drafting")

DRAFTS_DIR = "drafts"  # generated images of drafts, under MYNA_DATA_DIR


def verdict_of(draft: DraftRow) -> dict[str, Any] | None:
    """Return a draft's stored moderation verdict."""
    return json.loads(draft.moderation_json) if draft.moderation_json else None


def details_of(draft: DraftRow) -> dict[str, Any]:
    """Return a draft's extra provenance (persona name, API, seed, ranking, prompt system)."""
    return json.loads(draft.details_json) if draft.details_json else {}


async def get_draft(rt: Runtime, draft_id: int) -> DraftRow:
    """Return draft ``draft_id``; UserError when there is none."""
    async with rt.sessions() as session:
        draft = await session.get(DraftRow, draft_id)
    if draft is None:
        raise UserError(f"no draft {draft_id} (see `myna drafts`)")
    return draft


async def list_drafts(
    rt: Runtime, *, states: Sequence[str] | None = None, limit: int = 50
) -> list[DraftRow]:
    """Return drafts, newest batch first and best first within a batch."""
    async with rt.sessions() as session:
        stmt = select(DraftRow).order_by(
            DraftRow.created_at.desc(), DraftRow.batch, DraftRow.rank, DraftRow.id
        )
        if states:
            stmt = stmt.where(DraftRow.state.in_(list(states)))
        return list(await session.scalars(stmt.limit(limit)))


def _refuse(draft: DraftRow, action: str) -> UserError:
    if draft.state == "blocked":
        verdict = verdict_of(draft) or {}
        categories = ", ".join(verdict.get("categories", [])) or "moderation"
        return UserError(
            f"draft {draft.id} was blocked by moderation ({categories}); it cannot be {action}"
        )
    return UserError(f"draft {draft.id} is {draft.state}; it cannot be {action}")


async def edit_draft(rt: Runtime, draft_id: int, text: str) -> DraftRow:
    """Replace a draft's text before it is published; ``original_text`` keeps what was
    generated.

    Raises:
        UserError: no such draft, it is not a candidate or approved draft, or the text is empty
            or too long.
    """
    text = text.strip()
    if not text:
        raise UserError("a draft needs text")
    if len(text) > posting.MAX_CHARS - 200:
        raise UserError(f"a draft may have at most {posting.MAX_CHARS - 200} characters")
    # One conditional UPDATE, so an edit never lands on a draft a worker is publishing.
    if not await _update_if(rt, draft_id, ("candidate", "approved"), text=text):
        raise _refuse(await get_draft(rt, draft_id), "edited")
    return await get_draft(rt, draft_id)


async def reject(rt: Runtime, draft_id: int) -> DraftRow:
    """Mark a draft rejected (kept for provenance, never published).

    Raises:
        UserError: no such draft, or it was published already.
    """
    draft = await get_draft(rt, draft_id)
    if draft.state == "rejected":
        return draft
    if not await _update_if(
        rt, draft_id, ("candidate", "approved", "blocked", "failed"), state="rejected"
    ):
        raise _refuse(await get_draft(rt, draft_id), "rejected")
    return await get_draft(rt, draft_id)


async def _update_if(rt: Runtime, draft_id: int, states: Sequence[str], **values: Any) -> bool:
    """Set ``values`` on the draft when its state is in ``states``; True when it was."""
    async with rt.writes.begin() as session:
        result = await session.execute(
            update(DraftRow)
            .where(DraftRow.id == draft_id, DraftRow.state.in_(list(states)))
            .values(**values, updated_at=rt.clock())
            .returning(DraftRow.id)
        )
        return result.first() is not None


async def _claim(rt: Runtime, draft_id: int, from_states: Sequence[str]) -> bool:
    """Move a draft to "publishing" when it is in ``from_states``; True when this caller won."""
    return await _update_if(rt, draft_id, from_states, state="publishing")


async def _set_state(rt: Runtime, draft_id: int, **values: Any) -> DraftRow:
    async with rt.writes.begin() as session:
        draft = await session.get(DraftRow, draft_id)
        assert draft is not None
        for key, value in values.items():
            setattr(draft, key, value)
        draft.updated_at = rt.clock()
    return draft


def _image_of(settings: Settings, draft: DraftRow) -> list[posting.ImageInput]:
    if not draft.image_file:
        return []
    path = settings.data_dir / DRAFTS_DIR / draft.image_file
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"the image of draft {draft.id} is missing: {path}") from exc
    return [posting.ImageInput(data, draft.image_alt or label_alt_text("no description"))]


def post_for(settings: Settings, draft: DraftRow) -> posting.Draft:
    """Return what :func:`posting.publish` gets for a draft: text with the disclosure line,
    the generator property, and the image with its labelled alt text."""
    return posting.Draft(
        text=labels.with_disclosure(draft.text, draft.provider, draft.model),
        visibility=draft.visibility,  # type: ignore[arg-type]
        summary=draft.summary,
        in_reply_to=draft.in_reply_to,
        language=draft.language,
        images=_image_of(settings, draft),
        generator=labels.generator_property(
            settings, draft.provider, draft.model, draft.image_model
        ),
    )


async def _remoderate(rt: Runtime, draft: DraftRow, provider: Provider | None) -> None:
    """Moderate an edited draft's new text again; a flagged one becomes "blocked"."""
    if draft.text == draft.original_text:
        return
    own = provider is None
    active = provider or provider_for(rt.settings)
    try:
        verdict = await moderate_draft(active, draft.text, None)
    finally:
        if own:
            await active.aclose()
    if verdict.flagged:
        await _set_state(rt, draft.id, state="blocked", moderation_json=verdict_json(verdict))
        raise UserError(
            f"draft {draft.id} was blocked by moderation after editing "
            f"({', '.join(verdict.categories)}); it cannot be published"
        )


async def _publish_claimed(rt: Runtime, draft: DraftRow, previous: str) -> DraftRow:
    """Publish a draft this caller claimed; on failure the draft goes back to ``previous``
    (approve) or to "failed" (``previous="failed"``) with the error."""
    try:
        post = await posting.publish(rt, post_for(rt.settings, draft))
    except (UserError, OSError) as exc:
        await _set_state(rt, draft.id, state=previous, error=str(exc))
        raise
    now = rt.clock()
    published = await _set_state(
        rt, draft.id, state="published", post_uri=post.uri, publish_at=now, error=None
    )
    log.info("generation.published draft=%d post=%s", draft.id, post.uri)
    return published


async def approve(
    rt: Runtime, draft_id: int, at: datetime | None = None, *, provider: Provider | None = None
) -> DraftRow:
    """Approve a draft: publish it now (``at`` is None or not in the future) or schedule it
    (state "approved" with ``publish_at``; :func:`publish_due` publishes it).

    An edited draft is moderated again first (``provider``: default from the settings).

    Raises:
        UserError: no such draft, it is blocked/rejected/published, moderation flags the edited
            text, or publishing fails (the draft stays a candidate, with the error).
        BudgetExceeded: publishing now would exceed the daily post budget or the persona's limit.
    """
    draft = await get_draft(rt, draft_id)
    if draft.state not in ("candidate", "approved"):
        raise _refuse(draft, "approved")
    await _remoderate(rt, draft, provider)
    now = rt.clock()
    if at is not None:
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        if at > now + timedelta(seconds=1):
            scheduled = await _set_state(rt, draft.id, state="approved", publish_at=at, error=None)
            log.info("generation.scheduled draft=%d at=%s", draft.id, at.isoformat())
            return scheduled
    await check_budget(rt, publishing=True)
    await check_persona_limit(rt, await get_persona_by_id(rt, draft.persona_id))
    previous = draft.state
    if not await _claim(rt, draft.id, (previous,)):
        raise _refuse(await get_draft(rt, draft.id), "approved")
    return await _publish_claimed(rt, draft, previous)


async def publish_due(rt: Runtime) -> int:
    """Publish approved drafts whose ``publish_at`` has come; return how many were published.

    Safe with several workers: each draft is claimed with one conditional UPDATE (approved →
    publishing), so only one worker publishes it. A draft whose publishing fails becomes
    "failed" with the error. While the daily post budget is used up, due drafts wait.
    """
    now = rt.clock()
    async with rt.sessions() as session:
        due = list(
            await session.scalars(
                select(DraftRow.id)
                .where(DraftRow.state == "approved", DraftRow.publish_at <= now)
                .order_by(DraftRow.publish_at, DraftRow.id)
                .limit(50)
            )
        )
    published = 0
    for draft_id in due:
        posts_left, _ = await budget_left(rt)
        if posts_left <= 0:
            await notify_budget(rt, "the daily post budget is used up; approved drafts wait")
            break
        if not await _claim(rt, draft_id, ("approved",)):
            continue  # another worker has it
        draft = await get_draft(rt, draft_id)
        try:
            await _publish_claimed(rt, draft, "failed")
        except (UserError, OSError) as exc:
            log.warning("generation.publish_failed draft=%d error=%s", draft_id, exc)
            continue
        published += 1
    return published
