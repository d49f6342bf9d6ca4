"""The AI-generated label carried by alt text of generated images.

The research (``reference/generation.md`` §4.2) asks for a visible disclosure in layers; the alt
text layer is this prefix, so screen-reader users hear it first.
"""

from __future__ import annotations

from generation.textfit import fit_text

AI_IMAGE_PREFIX = "AI-generated image: "
MAX_ALT_CHARS = 1500  # Mastodon's UI limit for a media description


def label_alt_text(description: str, *, max_chars: int = MAX_ALT_CHARS) -> str:
    """Return ``description`` prefixed with "AI-generated image: " and cut to ``max_chars``.

    A description that already carries the prefix is not prefixed twice.

    >>> label_alt_text("a card reading “hello”")
    'AI-generated image: a card reading “hello”'
    """
    text = " ".join(description.split())
    if text.lower().startswith(AI_IMAGE_PREFIX.strip().lower()):
        text = text[len(AI_IMAGE_PREFIX.strip()) :].strip()
    if not text:
        text = "no description"
    return fit_text(AI_IMAGE_PREFIX + text, max_chars)
