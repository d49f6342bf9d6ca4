"""Fitting generated text into a post: whitespace, wrapping quotes, a hard length limit."""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"[.!?…](?=[\"”’)\]]?\s|[\"”’)\]]?$)")
_WRAPPING_QUOTES = ('"', "'", "“", "”", "«", "»")


def clean_text(text: str) -> str:
    """Return ``text`` stripped, with quotes that wrap the whole answer removed.

    Small models often answer ``"Here is the post"``-style text wrapped in quotes.

    >>> clean_text('  "Hello there."  ')
    'Hello there.'
    """
    text = text.strip()
    while len(text) >= 2 and text[0] in _WRAPPING_QUOTES and text[-1] in _WRAPPING_QUOTES:
        inner = text[1:-1]
        if any(q in inner for q in _WRAPPING_QUOTES):
            break
        text = inner.strip()
    return text


def fit_text(text: str, max_chars: int) -> str:
    """Return ``text`` cut to at most ``max_chars`` characters.

    Cuts at the last sentence end that fits when one exists past half the limit, otherwise at
    the last word boundary, adding "…".

    >>> fit_text("One. Two three four.", 10)
    'One. Two…'
    >>> fit_text("Short.", 10)
    'Short.'
    """
    text = text.strip()
    if len(text) <= max_chars:
        return text
    if max_chars <= 1:
        return text[:max_chars]
    window = text[:max_chars]
    ends = [m.end() for m in _SENTENCE_END.finditer(window)]
    if ends and ends[-1] >= max_chars // 2:
        return window[: ends[-1]].rstrip()
    cut = window[: max_chars - 1]
    space = cut.rfind(" ")
    if space >= max_chars // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-–—") + "…"


def trim_unfinished(text: str) -> str:
    """Return ``text`` without a last sentence cut off by a token limit.

    Keeps everything up to the last sentence end when that end lies past a third of the text;
    otherwise (one long unfinished sentence) marks the cut with "…".

    >>> trim_unfinished("The leaves fell all night. This morning the park was")
    'The leaves fell all night.'
    >>> trim_unfinished("Leaves. The park was quiet and the wind")
    'Leaves. The park was quiet and the wind…'
    >>> trim_unfinished("Everything is fine.")
    'Everything is fine.'
    """
    text = text.strip()
    ends = [m.end() for m in _SENTENCE_END.finditer(text)]
    if ends and ends[-1] == len(text):
        return text
    if ends and ends[-1] >= len(text) // 3:
        return text[: ends[-1]].rstrip()
    return text.rstrip(" ,;:-–—") + "…" if text else text
