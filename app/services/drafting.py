"""Drafting: generate candidate posts and keep them, with their provenance, for review.

``generate`` renders the persona's prompt template, asks the provider for N candidates (and an
image per candidate), drops near-duplicates, moderates, ranks (see
:mod:`app.services.candidates`), and stores every kept candidate as a ``Draft`` row in one
transaction: a provider failure leaves no draft, no image file and no post. Costs and budgets
are in :mod:`app.services.budgets`; review and publishing in :mod:`app.services.review`, whose
functions this module re-exports so callers need only ``drafting``.

A call's usage is shared among the drafts kept from it, so the drafts of a batch add up to what
the batch cost.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from app.config import Settings
from app.db.models_ai import Draft as DraftRow
from app.db.models_ai import Persona
from app.errors import UserError
from app.runtime import Runtime
from app.services import labels, posting
from app.services.budgets import (
    BudgetExceeded,
    budget_left,
    check_budget,
    check_persona_limit,
    cost_of,
    price_of,
    split_usage,
)
from app.services.candidates import (
    DUPLICATE_RATIO,
    JUDGE_PROVIDERS,
    Candidate,
    Judgement,
    describe_generated_image,
    heuristic_score,
    max_similarity,
    moderate_draft,
    normalise,
    order_candidates,
    provider_for,
    rank_candidates,
    similarity,
    verdict_json,
)
from app.services.following import owner
from app.services.personas import get_persona, hashtags_of
from app.services.prompts import (
    REPLY_TEMPLATE,
    first_line,
    prompt_variables,
    recent_own_posts,
    render_prompt,
)
from app.services.review import (
    DRAFTS_DIR,
    approve,
    details_of,
    edit_draft,
    get_draft,
    list_drafts,
    post_for,
    publish_due,
    reject,
    verdict_of,
)
from generation import ImageRequest, ImageResult, Provider, TextRequest, TextResult, Usage

__all__ = [
    "DRAFTS_DIR",
    "DUPLICATE_RATIO",
    "BudgetExceeded",
    "DraftRow",
    "GenerateRequest",
    "Judgement",
    "approve",
    "budget_left",
    "cost_of",
    "details_of",
    "edit_draft",
    "generate",
    "get_draft",
    "heuristic_score",
    "list_drafts",
    "max_similarity",
    "normalise",
    "post_for",
    "price_of",
    "provider_for",
    "publish_due",
    "reject",
    "similarity",
    "verdict_of",
]

log = logging.getLogger("myna.drafting")

MAX_CANDIDATES = 8
DUPLICATE_HISTORY = 50
POST_CHARS = 500  # what Mastodon shows without "read more"; the disclosure line is included

Progress = Callable[[str], None]


@dataclass(frozen=True)
class GenerateRequest:
    """What to generate. ``context`` is the thread text a reply answers."""

    persona: str | None = None
    prompt: str | None = None
    image: bool = False
    candidates: int = 1
    publish: bool = False
    schedule_id: int | None = None
    in_reply_to: str | None = None
    reply_to_actor: str | None = None
    context: str | None = None
    seed: int | None = None
    visibility: str | None = None  # None: the persona's; replies may match the mention's


def _with_hashtags(text: str, tags: Sequence[str]) -> str:
    present = {t.lower() for t in re.findall(r"(?<!\w)#(\w+)", text)}
    missing = [t for t in tags if t.lower() not in present]
    if not missing:
        return text.strip()
    return text.strip() + "\n\n" + " ".join("#" + t for t in missing)


def _image_prompt(text: str) -> str:
    return f"A calm, friendly illustration for this social media post, no text: {text}"


async def _write(
    provider: Provider, request: TextRequest, on_progress: Progress | None
) -> TextResult:
    """Return ``request.n`` candidates in one TextResult (usage summed).

    The offline composer writes all of them in one call (it picks a different quote for each);
    a model gets one call per candidate with its own seed, so progress is shown per candidate
    and servers that ignore ``n`` (Ollama, llama.cpp) still give N candidates.
    """
    n = request.n
    if provider.name == "offline" or n == 1:
        _progress(on_progress, f"writing {n} candidate{'s' if n > 1 else ''} with {provider.name}")
        return await provider.generate_text(request)
    texts: list[str] = []
    usage = Usage()
    last: TextResult | None = None
    for i in range(n):
        _progress(on_progress, f"candidate {i + 1}/{n} with {provider.name}")
        seed = None if request.seed is None else request.seed + i
        last = await provider.generate_text(replace(request, n=1, seed=seed))
        texts.append(last.text)
        usage = usage + last.usage
    assert last is not None
    return replace(last, text=texts[0], alternatives=tuple(texts[1:]), usage=usage)


def _save_image(settings: Settings, batch: str, index: int, image: ImageResult) -> str:
    folder = settings.data_dir / DRAFTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    ext = {"image/png": "png", "image/webp": "webp", "image/jpeg": "jpg"}.get(image.mime, "png")
    name = f"{batch}-{index}.{ext}"
    (folder / name).write_bytes(image.data)
    return name


def _progress(on_progress: Progress | None, message: str) -> None:
    if on_progress is not None:
        on_progress(message)


async def generate(
    rt: Runtime,
    request: GenerateRequest,
    *,
    provider: Provider | None = None,
    on_progress: Progress | None = None,
) -> list[DraftRow]:
    """Generate, dedupe, moderate, rank and store candidates; return the kept drafts, best
    first.

    With ``request.publish`` the best non-blocked draft is published and returned first with
    state "published" (when every draft is blocked, nothing is published and the drafts are
    returned as they are).

    Raises:
        UserError: bad persona, template or request; every candidate repeated a recent post.
        BudgetExceeded: the daily post or cost budget (or the persona's limit) is used up.
        GenerationError: the provider failed; nothing was stored.
    """
    if not 1 <= request.candidates <= MAX_CANDIDATES:
        raise UserError(f"--candidates must be between 1 and {MAX_CANDIDATES}")
    if request.visibility is not None and request.visibility not in posting.VISIBILITIES:
        raise UserError(f"visibility must be one of {', '.join(posting.VISIBILITIES)}")
    me = await owner(rt)
    persona = await get_persona(rt, request.persona)
    await check_budget(rt, publishing=False)
    if request.publish:
        await check_persona_limit(rt, persona)
    now = rt.clock()
    topic = request.prompt.strip() if request.prompt and request.prompt.strip() else None
    variables = await prompt_variables(
        rt,
        persona,
        local_actor_id=me.id,
        topic=topic,
        now=now,
        context=request.context,
        reply_to=request.reply_to_actor,
    )
    template = REPLY_TEMPLATE if request.in_reply_to else persona.prompt_template
    prompt = render_prompt(template, variables)
    if not prompt:
        raise UserError("the prompt template rendered to nothing")
    tags = hashtags_of(persona)
    system = persona.system_prompt
    if persona.language and persona.language != "en":
        system += f"\nWrite in the language with code {persona.language}."
    seed = request.seed if request.seed is not None else secrets.randbelow(2**31)

    own = provider is None
    active = provider or provider_for(rt.settings)
    try:
        drafts = await _generate(
            rt, active, request, persona, prompt, system, tags, seed, on_progress
        )
    finally:
        if own:
            await active.aclose()
    if request.publish:
        best = next((d for d in drafts if d.state == "candidate"), None)
        if best is not None:
            _progress(on_progress, f"publishing draft {best.id}")
            published = await approve(rt, best.id)
            drafts = [published, *[d for d in drafts if d.id != best.id]]
    return drafts


async def _generate(
    rt: Runtime,
    provider: Provider,
    request: GenerateRequest,
    persona: Persona,
    prompt: str,
    system: str,
    tags: list[str],
    seed: int,
    on_progress: Progress | None,
) -> list[DraftRow]:
    settings = rt.settings
    n = request.candidates
    me = await owner(rt)
    history = await recent_own_posts(rt, me.id, DUPLICATE_HISTORY)
    reserve = len(labels.disclosure_line(provider.name, "x" * 40)) + 2
    reserve += sum(len(t) + 2 for t in tags) + (2 if tags else 0)
    text_request = TextRequest(
        prompt=first_line(prompt) if provider.name == "offline" else prompt,
        system=system,
        language=persona.language or "en",
        max_chars=max(100, POST_CHARS - reserve),
        n=n,
        seed=seed,
    )
    result = await _write(provider, text_request, on_progress)
    texts = list(result.candidates)[:n]

    kept: list[Candidate] = []
    dropped = 0
    for position, raw in enumerate(texts):
        text = _with_hashtags(raw, tags)
        norm = normalise(raw)
        sim = max(
            max_similarity(raw, history),
            max_similarity(raw, [c.text for c in kept]),
        )
        if not norm or sim >= DUPLICATE_RATIO:
            dropped += 1
            _progress(on_progress, f"candidate {position + 1}/{n}: dropped (near-duplicate)")
            continue
        kept.append(
            Candidate(
                text,
                position,
                similarity=sim,
                heuristic=heuristic_score(text, similarity_to_recent=sim),
            )
        )
    if not kept:
        raise UserError(f"all {len(texts)} candidates repeated recent posts; try another --prompt")

    image_model: str | None = None
    if request.image:
        for i, c in enumerate(kept, 1):
            _progress(on_progress, f"image {i}/{len(kept)} with {provider.name}")
            image = await provider.generate_image(
                ImageRequest(prompt=_image_prompt(c.text), text=c.text, seed=seed + i)
            )
            alt, alt_usage, alt_model = await describe_generated_image(
                provider, image, c.text, text_request.language
            )
            c.image = replace(image, alt_text=alt)
            c.extra_usage = c.extra_usage + alt_usage
            c.extra_cost += cost_of(settings, alt_model, alt_usage)
            image_model = image.model

    for i, c in enumerate(kept, 1):
        _progress(on_progress, f"moderating {i}/{len(kept)}")
        c.verdict = await moderate_draft(provider, c.text, c.image)
        c.moderation_cost = cost_of(settings, c.verdict.model, c.verdict.usage)
        if c.blocked:
            _progress(
                on_progress,
                f"candidate {c.position + 1}: blocked ({', '.join(c.verdict.categories)})",
            )

    if len([c for c in kept if not c.blocked]) > 1 and provider.name in JUDGE_PROVIDERS:
        _progress(on_progress, "ranking with a judge call")
    method, judge_usage, judge_model = await rank_candidates(
        provider, kept, system, text_request.language
    )
    ordered = order_candidates(kept)

    batch = secrets.token_hex(8)
    now = rt.clock()
    rows: list[DraftRow] = []
    saved: list[Path] = []
    try:
        for rank, c in enumerate(ordered, 1):
            share = split_usage(result.usage, len(kept), ordered.index(c))
            judge_share = split_usage(judge_usage, len(kept), ordered.index(c))
            cost = (
                cost_of(settings, result.model, share)
                + cost_of(settings, judge_model or result.model, judge_share)
                + c.moderation_cost
                + c.extra_cost
            )
            if c.image is not None:
                cost += cost_of(settings, c.image.model, c.image.usage, images=1)
            image_file = None
            if c.image is not None:
                image_file = _save_image(settings, batch, rank, c.image)
                saved.append(settings.data_dir / DRAFTS_DIR / image_file)
            tokens = share + judge_share + c.extra_usage
            details = {
                "persona": persona.name,
                "system_prompt": system,
                "api": result.api,
                "sent_prompt": text_request.prompt if text_request.prompt != prompt else None,
                "seed": seed,
                "ranking": method,
                "judge_model": judge_model,
                "reason": c.reason or None,
                "heuristic": c.heuristic,
                "similarity": round(c.similarity, 3),
                "candidate": c.position + 1,
                "dropped_duplicates": dropped,
                "image_provider": c.image.provider if c.image else None,
                "image_prompt": _image_prompt(c.text) if c.image else None,
            }
            rows.append(
                DraftRow(
                    batch=batch,
                    persona_id=persona.id,
                    schedule_id=request.schedule_id,
                    state="blocked" if c.blocked else "candidate",
                    text=c.text,
                    original_text=c.text,
                    summary=None,
                    visibility=request.visibility or persona.visibility,
                    language=persona.language,
                    in_reply_to=request.in_reply_to,
                    reply_to_actor=request.reply_to_actor,
                    image_file=image_file,
                    image_alt=c.image.alt_text if c.image else None,
                    provider=result.provider,
                    model=result.model,
                    image_model=image_model if c.image else None,
                    rendered_prompt=prompt,
                    input_tokens=tokens.input_tokens,
                    output_tokens=tokens.output_tokens,
                    cost=round(cost, 6),
                    moderation_json=verdict_json(c.verdict),
                    score=c.score,
                    rank=rank,
                    details_json=json.dumps(details, ensure_ascii=False),
                    created_at=now,
                    updated_at=now,
                )
            )
        async with rt.writes.begin() as session:
            session.add_all(rows)
            await session.flush()
    except BaseException:
        for path in saved:
            path.unlink(missing_ok=True)
        raise
    log.info(
        "generation.drafted batch=%s persona=%s provider=%s model=%s kept=%d dropped=%d "
        "blocked=%d ranking=%s",
        batch,
        persona.name,
        result.provider,
        result.model,
        len(rows),
        dropped,
        sum(1 for r in rows if r.state == "blocked"),
        method,
    )
    return rows
