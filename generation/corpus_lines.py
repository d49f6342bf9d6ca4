"""Loading the bundled public-domain corpus (``generation/corpus/*.txt``) into typed entries."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

_WORD = re.compile(r"[a-z][a-z'-]*")

STOPWORDS = frozenset(
    """a about above after again all am an and any are as at be been before being below between
    both but by can could did do does doing down during each few for from further had has have
    having he her here hers him his how i if in into is it its itself just let lets me more most
    my myself no nor not now of off on once only or other our ours out over own please post
    posts same she should so some something such than that the their them then there these they
    this those through to today too toot under until up very was we were what when where which
    while who whom why will with would write you your yours short brief little make give tell
    note thought thoughts day""".split()
)


@dataclass(frozen=True)
class CorpusLine:
    """One line of the corpus: its ``text``, who wrote it, its themes and its content words."""

    text: str
    source: str
    themes: frozenset[str]
    words: frozenset[str]


def stem(word: str) -> str:
    """Return a crude stem so "walks", "walking" and "walked" meet ("walk").

    >>> [stem(w) for w in ("walks", "walking", "gardens", "grass")]
    ['walk', 'walk', 'garden', 'grass']
    """
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix) and not word.endswith("ss"):
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> list[str]:
    """Return the lower-cased, stemmed words of ``text`` that are not stopwords, in order."""
    words = (w.strip("'-") for w in _WORD.findall(text.lower()))
    return [stem(w) for w in words if len(w) > 2 and w not in STOPWORDS]


def parse_corpus(text: str) -> list[CorpusLine]:
    """Return the entries of one corpus file; ``#`` lines and blank lines are skipped.

    Raises:
        ValueError: a line does not have the three ``|``-separated fields.
    """
    entries: list[CorpusLine] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split("|")]
        if len(fields) != 3 or not fields[0] or not fields[1]:
            raise ValueError(f"corpus line {number} needs 'text | attribution | themes'")
        themes = frozenset(stem(t.strip().lower()) for t in fields[2].split(",") if t.strip())
        entries.append(
            CorpusLine(fields[0], fields[1], themes, frozenset(content_words(fields[0])))
        )
    return entries


@lru_cache(maxsize=1)
def load_corpus() -> tuple[CorpusLine, ...]:
    """Return every entry of the bundled corpus, files in name order (read once, then cached)."""
    folder = resources.files("generation.corpus")
    entries: list[CorpusLine] = []
    for item in sorted(folder.iterdir(), key=lambda f: f.name):
        if item.name.endswith(".txt"):
            entries.extend(parse_corpus(item.read_text(encoding="utf-8")))
    return tuple(entries)
