"""Candidates: near-duplicate detection, moderation, alt text and ranking of generated posts.

Near-duplicates (documented threshold): texts are normalised (lower case, links, mentions,
hashtags and punctuation removed, whitespace collapsed); a candidate is dropped when its
``difflib.SequenceMatcher`` ratio against one of the owner's recent posts or an earlier kept
candidate of the same batch is at least ``DUPLICATE_RATIO`` (0.85), or when its normalised text
is empty.

Ranking: with an OpenAI-compatible provider and two or more publishable candidates a judge call
(``generate_structured`` with :class:`Judgement`) scores each 0-10; when the provider has no
judge (offline, local) or the judge fails (Unsupported, InvalidResponse or any other provider
error), :func:`heuristic_score` scores them instead (also 0-10). Blocked candidates always rank
last. Ties are broken by the heuristic, then by generation order.
"""

from __future__ import annotations

import difflib
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, Field

from app.config import Settings
from generation import (
    AltTextRequest,
    GenerationError,
    ImageInput,
    ImageResult,
    ModerationVerdict,
    Provider,
    ProviderConfig,
    TextRequest,
    Unsupported,
    Usage,
    create_provider,
    label_alt_text,
)

log = logging.getLogger("myna.drafting")

DUPLICATE_RATIO = 0.85
TARGET_CHARS = 280
JUDGE_PROVIDERS = ("openai", "openai-compatible")

_URL = re.compile(r"https?://\S+")
_HANDLE = re.compile(r"(?<!\w)[@#][\w.@-]+")
_PUNCT = re.compile(r"[^\w\s]")


class CandidateScore(BaseModel):
    """The judge's verdict on one candidate."""

    index: int = Field(description="the candidate's number, starting at 1")
    score: float = Field(ge=0, le=10, description="0 (bad) to 10 (excellent)")
    reason: str = Field(default="", description="one short sentence")


class Judgement(BaseModel):
    """What the judge call returns: one score per candidate."""

    scores: list[CandidateScore]


@dataclass
class Candidate:
    """A candidate being drafted: its text, image, verdict, scores and costs so far."""

    text: str
    position: int
    image: ImageResult | None = None
    verdict: ModerationVerdict | None = None
    heuristic: float = 0.0
    score: float = 0.0
    reason: str = ""
    similarity: float = 0.0
    extra_usage: Usage = field(default_factory=Usage)
    moderation_cost: float = 0.0
    extra_cost: float = 0.0

    @property
    def blocked(self) -> bool:
        return self.verdict is not None and self.verdict.flagged


def normalise(text: str) -> str:
    """Return ``text`` lower-cased without links, mentions, hashtags and punctuation."""
    text = _URL.sub(" ", text.lower())
    text = _HANDLE.sub(" ", text)
    text = _PUNCT.sub(" ", text)
    return " ".join(text.split())


def similarity(a: str, b: str) -> float:
    """Return the difflib ratio (0..1) of two normalised texts."""
    if not a or not b:
        return 0.0
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def max_similarity(text: str, others: Sequence[str]) -> float:
    """Return the highest :func:`similarity` of ``text`` against ``others`` (0 when none)."""
    norm = normalise(text)
    return max((similarity(norm, normalise(o)) for o in others), default=0.0)


def heuristic_score(text: str, *, similarity_to_recent: float = 0.0) -> float:
    """Score a candidate 0-10 without a model.

    Weights: length fit 4 (full marks within 20% of 280 characters, falling linearly to 0 at
    0 and at twice that), one to three hashtags 2, novelty 2 (1 - the highest similarity to a
    recent post or an earlier candidate), a finished last sentence (ends with . ! ? … ” ) or a
    hashtag) 1, plain words (average word length at most 7 and no SHOUTING) 1.
    """
    length = len(text)
    off = abs(length - TARGET_CHARS) / TARGET_CHARS
    length_fit = 1.0 if off <= 0.2 else max(0.0, 1.0 - (off - 0.2) / 0.8)
    tags = len(re.findall(r"(?<!\w)#\w+", text))
    hashtag = 1.0 if 1 <= tags <= 3 else (0.5 if tags > 3 else 0.0)
    novelty = max(0.0, 1.0 - similarity_to_recent)
    stripped = text.rstrip()
    finished = 1.0 if stripped.endswith((".", "!", "?", "…", "”", '"', ")")) else 0.0
    if re.search(r"#\w+$", stripped):
        finished = 1.0
    words = re.findall(r"[^\W\d_]+", text)
    average = sum(len(w) for w in words) / len(words) if words else 99.0
    shouting = sum(1 for w in words if len(w) > 3 and w.isupper())
    plain = 1.0 if average <= 7 and shouting <= 1 else 0.0
    score = 4 * length_fit + 2 * hashtag + 2 * novelty + finished + plain
    return round(score, 3)


def provider_for(settings: Settings) -> Provider:
    """Return the provider the settings ask for: OpenAI-compatible when ``OPENAI_BASE_URL`` or
    ``OPENAI_API_KEY`` is set, the offline composer otherwise. No network request is made."""
    config = ProviderConfig(
        base_url=settings.openai_base_url,
        api_key=settings.openai_api_key,
        text_model=settings.text_model,
        image_model=settings.image_model,
        moderation_model=settings.moderation_model,
    )
    return create_provider(config)


def verdict_json(verdict: ModerationVerdict | None) -> str | None:
    if verdict is None:
        return None
    return json.dumps(
        {
            "flagged": verdict.flagged,
            "categories": list(verdict.categories),
            "provider": verdict.provider,
            "model": verdict.model,
            "scores": {k: round(v, 4) for k, v in verdict.scores.items()},
        }
    )


def _judge_prompt(texts: Sequence[str]) -> str:
    listed = "\n\n".join(f"Candidate {i}:\n{t}" for i, t in enumerate(texts, 1))
    return (
        "Score each candidate post from 0 to 10 for clarity, warmth, fit with the persona and "
        "how little it repeats itself. Do not reward clickbait or outrage. Return one score per "
        "candidate with its number.\n\n" + listed
    )


async def describe_generated_image(
    provider: Provider, image: ImageResult, text: str, language: str
) -> tuple[str, Usage, str | None]:
    """Return labelled alt text for a generated image, and the usage and model describing it.

    The offline card's alt text is exact (it quotes the card). A model's image is described by
    the provider's vision model when it has one; otherwise (or when that fails) the alt text is
    the image's revised prompt, which the provider labelled already.
    """
    if provider.name == "offline":
        return label_alt_text(image.alt_text), Usage(), None
    request = AltTextRequest(
        ImageInput(image.data, image.mime), language=language, generated=True, context=text
    )
    try:
        described = await provider.describe_image(request)
    except GenerationError as exc:
        log.info("generation.describe_failed error=%s; using the image prompt", exc.message)
        return label_alt_text(image.alt_text), Usage(), None
    return label_alt_text(described.text), described.usage, described.model


async def moderate_draft(
    provider: Provider, text: str, image: ImageResult | None
) -> ModerationVerdict:
    """The provider's verdict; the offline blocklist when the endpoint has no moderation."""
    images = [ImageInput(image.data, image.mime)] if image is not None else []
    try:
        return await provider.moderate(text, images)
    except Unsupported:
        from generation.offline import OfflineProvider

        log.info("generation.moderation_fallback provider=%s", provider.name)
        return await OfflineProvider().moderate(text)


async def rank_candidates(
    provider: Provider, candidates: list[Candidate], system: str, language: str
) -> tuple[str, Usage, str | None]:
    """Score ``candidates`` in place; return (method, judge usage, judge model)."""
    open_ = [c for c in candidates if not c.blocked]
    for c in candidates:
        c.score = c.heuristic
    if provider.name not in JUDGE_PROVIDERS or len(open_) < 2:
        return "heuristic", Usage(), None
    request = TextRequest(
        prompt=_judge_prompt([c.text for c in open_]),
        system="You are a careful editor judging short social media posts. " + system,
        language=language,
        max_tokens=600,
        max_chars=4000,
        temperature=0,
    )
    try:
        result = await provider.generate_structured(request, Judgement)
    except GenerationError as exc:
        log.info("generation.judge_failed error=%s; using the heuristic", exc.message)
        return "heuristic", Usage(), None
    scores = {s.index: s for s in result.value.scores}
    if not all(i in scores for i in range(1, len(open_) + 1)):
        log.info("generation.judge_incomplete; using the heuristic")
        return "heuristic", result.usage, result.model
    for i, c in enumerate(open_, 1):
        c.score, c.reason = scores[i].score, scores[i].reason[:300]
    return "judge", result.usage, result.model


def order_candidates(candidates: list[Candidate]) -> list[Candidate]:
    return sorted(candidates, key=lambda c: (c.blocked, -c.score, -c.heuristic, c.position))
