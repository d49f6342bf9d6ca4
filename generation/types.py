"""Requests and results of the generation package: small frozen dataclasses.

Every result names the ``provider`` ("openai", "openai-compatible", "local" or "offline"), the
``model`` and the ``api`` that produced it, and carries the token ``usage``, so the app can store
provenance and cost for each generated post.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel

SchemaT = TypeVar("SchemaT", bound=BaseModel)

StructuredMode = Literal["json_schema", "json_object", "text", "offline"]
ImageFormat = Literal["png", "webp"]
ImageQuality = Literal["low", "medium", "high", "auto"]


@dataclass(frozen=True)
class Usage:
    """Tokens spent by one call (offline providers count words instead of tokens)."""

    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens
        )


@dataclass(frozen=True)
class TextRequest:
    """A request for a short post.

    ``system`` is the persona / instructions, ``prompt`` the topic or the full user prompt.
    ``max_chars`` is a hard limit applied to the returned text; ``n`` asks for that many
    candidates (the first is ``TextResult.text``, the rest ``alternatives``). ``seed`` makes the
    offline provider deterministic and is passed to servers that honour it.
    """

    prompt: str
    system: str = ""
    language: str = "en"
    max_tokens: int = 400
    max_chars: int = 500
    temperature: float | None = None
    n: int = 1
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError("n must be at least 1")
        if self.max_tokens < 1 or self.max_chars < 1:
            raise ValueError("max_tokens and max_chars must be positive")


@dataclass(frozen=True)
class TextResult:
    """Generated text. ``api`` is e.g. "chat.completions", "responses", "offline-composer"."""

    text: str
    model: str
    provider: str
    usage: Usage
    api: str
    alternatives: tuple[str, ...] = ()

    @property
    def candidates(self) -> tuple[str, ...]:
        """All candidates, the chosen ``text`` first."""
        return (self.text, *self.alternatives)


@dataclass(frozen=True)
class StructuredResult(Generic[SchemaT]):
    """A validated pydantic ``value``, the ``raw`` JSON text it came from, and how it was asked
    for (``mode``: a JSON schema, JSON mode, plain text, or the offline filler)."""

    value: SchemaT
    raw: str
    model: str
    provider: str
    usage: Usage
    api: str
    mode: StructuredMode


@dataclass(frozen=True)
class ImageRequest:
    """A request for one image.

    ``size`` is "WxH" (``None``: the provider's configured size). ``text`` is what an offline
    card prints (default: the prompt). ``alt_text`` describes the image instead of the prompt;
    either way the result's alt text starts with "AI-generated image:".
    """

    prompt: str
    size: str | None = None
    text: str | None = None
    alt_text: str | None = None
    format: ImageFormat = "png"
    quality: ImageQuality | None = None
    seed: int | None = None


@dataclass(frozen=True)
class ImageResult:
    """An encoded image (``data`` in ``mime``) with its exact alt text."""

    data: bytes = field(repr=False)
    mime: str
    width: int
    height: int
    alt_text: str
    model: str
    provider: str
    usage: Usage
    api: str
    revised_prompt: str | None = None


@dataclass(frozen=True)
class ImageInput:
    """An image handed to a provider (alt text, moderation)."""

    data: bytes = field(repr=False)
    mime: str


@dataclass(frozen=True)
class AltTextRequest:
    """Describe ``image`` for screen-reader users.

    ``generated=True`` marks an AI-generated image: the alt text then starts with
    "AI-generated image:". ``context`` (e.g. the post text) may help the describer.
    """

    image: ImageInput
    language: str = "en"
    generated: bool = False
    context: str | None = None
    max_chars: int = 1000


@dataclass(frozen=True)
class AltTextResult:
    text: str
    model: str
    provider: str
    usage: Usage
    api: str


@dataclass(frozen=True)
class ModerationVerdict:
    """Whether content was flagged, the flagged ``categories`` and every category's score."""

    flagged: bool
    categories: tuple[str, ...]
    provider: str
    model: str
    scores: Mapping[str, float] = field(default_factory=dict)
    usage: Usage = Usage()
