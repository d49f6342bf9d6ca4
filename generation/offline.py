"""The offline provider: Myna's default when no endpoint is configured.

Text comes from the deterministic composer (:mod:`generation.composer`), images are Pillow text
cards (:mod:`generation.cards`), moderation is a keyword blocklist (:mod:`generation.blocklist`).
Every result says ``provider="offline"`` and an ``offline-*`` model, so provenance never passes it
off as a language model. "Usage" counts words, since there are no tokens.
"""

from __future__ import annotations

import asyncio
import types
import typing
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from pydantic import BaseModel, ValidationError

from generation.blocklist import BLOCKLIST_MODEL, check_text
from generation.cards import render_card
from generation.composer import Composition, compose_post
from generation.errors import InvalidResponse, RequestRejected, Unsupported
from generation.images import parse_size
from generation.provider import DeltaCallback
from generation.structured import validation_summary
from generation.types import (
    AltTextRequest,
    AltTextResult,
    ImageInput,
    ImageRequest,
    ImageResult,
    ModerationVerdict,
    SchemaT,
    StructuredResult,
    TextRequest,
    TextResult,
    Usage,
)

OFFLINE = "offline"
COMPOSER_MODEL = "offline-composer-1"
CARD_MODEL = "offline-card-1"

_TEXT_FIELDS = ("text", "content", "body", "post", "status", "message")
_TOPIC_FIELDS = ("topic", "title", "subject", "image_prompt")
_LANGUAGE_FIELDS = ("language", "lang", "locale")


def _words(*texts: str) -> int:
    return sum(len(t.split()) for t in texts)


def _accepts(annotation: Any, kind: type) -> bool:
    """True when a field annotation is ``kind`` or ``kind | None``."""
    if annotation is kind:
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(a is kind for a in typing.get_args(annotation))
    return False


def _is_str_list(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_is_str_list(a) for a in typing.get_args(annotation))
    return origin in (list, tuple, set, frozenset) and typing.get_args(annotation)[:1] == (str,)


def fill_schema(
    schema: type[BaseModel], composition: Composition, language: str
) -> dict[str, object]:
    """Return field values for ``schema`` taken from an offline composition.

    Text-like fields get the post, tag lists the hashtags, language fields the language, topic
    fields the topic; optional fields are left out (their defaults apply); required numbers and
    flags get zero / false. Fields it cannot fill are left for validation to report.
    """
    values: dict[str, object] = {}
    text_given = False
    for name, info in schema.model_fields.items():
        key, annotation, required = name.lower(), info.annotation, info.is_required()
        if _is_str_list(annotation):
            if "tag" in key:
                values[name] = [t.lstrip("#") for t in composition.hashtags]
            elif required:
                values[name] = []
        elif _accepts(annotation, str):
            if key in _LANGUAGE_FIELDS:
                values[name] = language
            elif key in _TEXT_FIELDS or (required and not text_given and key not in _TOPIC_FIELDS):
                values[name] = composition.text
                text_given = True
            elif key in _TOPIC_FIELDS and required:
                values[name] = composition.topic
            elif required:
                values[name] = ""
        elif required and _accepts(annotation, bool):
            values[name] = False
        elif required and (_accepts(annotation, int) or _accepts(annotation, float)):
            values[name] = 0
    return values


class OfflineProvider:
    """A :class:`generation.provider.Provider` that needs nothing but Pillow.

    Deterministic: the same request (including ``seed``) gives the same result.
    """

    def __init__(self, *, image_size: str = "1024x1024") -> None:
        self._image_size = image_size

    @property
    def name(self) -> str:
        return OFFLINE

    async def aclose(self) -> None:
        """Nothing to release."""

    def _compositions(self, request: TextRequest) -> list[Composition]:
        used: list[str] = []
        results: list[Composition] = []
        for variant in range(request.n):
            composition = compose_post(
                request.prompt,
                persona=request.system,
                seed=request.seed,
                max_chars=request.max_chars,
                variant=variant,
                avoid=used,
            )
            used.append(composition.quote.text)
            results.append(composition)
        return results

    async def generate_text(self, request: TextRequest) -> TextResult:
        """Return ``request.n`` composed posts (different quotes when the corpus allows)."""
        texts = [c.text for c in self._compositions(request)]
        usage = Usage(_words(request.system, request.prompt), _words(*texts))
        return TextResult(
            texts[0], COMPOSER_MODEL, OFFLINE, usage, "offline-composer", tuple(texts[1:])
        )

    async def stream_text(self, request: TextRequest, on_delta: DeltaCallback) -> TextResult:
        """Compose one post and hand it to ``on_delta`` word by word."""
        result = await self.generate_text(replace(request, n=1))
        for index, word in enumerate(result.text.split(" ")):
            on_delta(word if index == 0 else " " + word)
            await asyncio.sleep(0)
        return result

    async def generate_structured(
        self, request: TextRequest, schema: type[SchemaT]
    ) -> StructuredResult[SchemaT]:
        """Fill ``schema`` from a composed post (see :func:`fill_schema`).

        Raises:
            InvalidResponse: the schema has required fields the composer cannot fill.
        """
        composition = self._compositions(replace(request, n=1))[0]
        values = fill_schema(schema, composition, request.language)
        try:
            value = schema.model_validate(values)
        except ValidationError as exc:
            raise InvalidResponse(
                f"the offline provider cannot fill {schema.__name__}: {validation_summary(exc)}",
                provider=OFFLINE,
            ) from exc
        usage = Usage(_words(request.system, request.prompt), _words(composition.text))
        raw = value.model_dump_json()
        return StructuredResult(
            value, raw, COMPOSER_MODEL, OFFLINE, usage, "offline-composer", "offline"
        )

    async def generate_image(self, request: ImageRequest) -> ImageResult:
        """Return a text card printing ``request.text`` (or the prompt), with exact alt text.

        The alt text describes the card ("AI-generated image: a card reading “…”"), never
        ``request.alt_text``: the card is what the reader gets.

        Raises:
            RequestRejected: the size is malformed or outside 64..2048 pixels.
        """
        try:
            width, height = parse_size(request.size or self._image_size)
            card = await asyncio.to_thread(
                render_card,
                request.text if request.text is not None else request.prompt,
                width=width,
                height=height,
                seed=request.seed,
                fmt=request.format,
            )
        except ValueError as exc:
            raise RequestRejected(str(exc), provider=OFFLINE) from exc
        return ImageResult(
            card.data,
            card.mime,
            card.width,
            card.height,
            card.alt_text,
            CARD_MODEL,
            OFFLINE,
            Usage(_words(request.prompt), 0),
            "offline-card",
        )

    async def describe_image(self, request: AltTextRequest) -> AltTextResult:
        """Always raises: describing an image needs a vision model.

        Raises:
            Unsupported: always; the owner writes the alt text (cards come with exact alt text).
        """
        raise Unsupported(
            "the offline provider cannot describe images; write the alt text yourself",
            provider=OFFLINE,
        )

    async def moderate(self, text: str, images: Sequence[ImageInput] = ()) -> ModerationVerdict:
        """Return the blocklist verdict for ``text``; images are not inspected offline."""
        match = check_text(text)
        scores = {category: 1.0 for category in match.categories}
        return ModerationVerdict(
            match.flagged,
            match.categories,
            OFFLINE,
            BLOCKLIST_MODEL,
            scores,
            Usage(_words(text), 0),
        )
