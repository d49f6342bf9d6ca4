"""Offline moderation: a small keyword heuristic, the fallback when no moderation endpoint exists.

It catches only obvious words and phrases and never sees images; the owner's approval queue
stays the real safeguard. Matching is on whole words, case-insensitive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

BLOCKLIST_MODEL = "offline-blocklist-1"

# Category names follow the OpenAI moderation categories so verdicts read the same.
_TERMS: dict[str, tuple[str, ...]] = {
    "violence": (
        "kill you",
        "kill them",
        "murder",
        "massacre",
        "shoot you",
        "stab",
        "behead",
        "bomb threat",
        "torture",
    ),
    "harassment": ("idiot", "moron", "stupid", "loser", "shut up", "worthless", "pathetic"),
    "hate": ("subhuman", "vermin", "inferior race", "ethnic cleansing"),
    "self-harm": ("kill myself", "suicide", "self-harm", "self harm", "cut myself"),
    "sexual": ("porn", "nude", "nudes", "explicit sex", "nsfw"),
    "illicit": ("buy cocaine", "sell drugs", "make a bomb", "counterfeit money"),
}


@dataclass(frozen=True)
class BlocklistMatch:
    """The categories whose terms occur in a text, and the terms found."""

    categories: tuple[str, ...]
    terms: tuple[str, ...]

    @property
    def flagged(self) -> bool:
        return bool(self.categories)


@lru_cache(maxsize=1)
def _patterns() -> dict[str, re.Pattern[str]]:
    return {
        category: re.compile(
            r"(?<![\w-])(" + "|".join(re.escape(t) for t in terms) + r")(?![\w-])", re.IGNORECASE
        )
        for category, terms in _TERMS.items()
    }


def check_text(text: str) -> BlocklistMatch:
    """Return the blocklist categories and terms found in ``text``.

    >>> check_text("You absolute idiot").categories
    ('harassment',)
    >>> check_text("A kind word about gardens").flagged
    False
    """
    categories: list[str] = []
    terms: list[str] = []
    normalised = " ".join(text.split())
    for category, pattern in _patterns().items():
        found = [m.group(1).lower() for m in pattern.finditer(normalised)]
        if found:
            categories.append(category)
            terms.extend(dict.fromkeys(found))
    return BlocklistMatch(tuple(categories), tuple(terms))
