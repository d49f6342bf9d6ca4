"""The offline composer: short posts from templates and the bundled public-domain corpus.

No model, no network, no randomness beyond a generator seeded from ``(prompt, persona, seed)``:
the same inputs always give the same post. The prompt's topic is honoured twice: it is named in
the opening line, and the quoted corpus line is the one whose words and themes overlap the
topic's words most (ties broken by the seeded generator).
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

from generation.corpus_lines import STOPWORDS, CorpusLine, content_words, load_corpus, stem
from generation.textfit import fit_text

Tone = Literal["neutral", "cheerful", "calm", "formal"]

MAX_TOPIC_CHARS = 60

_INSTRUCTION = re.compile(
    r"^\s*(?:please\s+)?(?:write|compose|draft|create|make|generate|give\s+me|share|tell\s+me)\s+"
    r"(?:me\s+)?(?:something\s+|(?:(?:a|an|one|some)\s+)?(?:[\w-]+\s+){0,2}?"
    r"(?:post|toot|note|status|message|thought|update|line|word)s?\s+)?"
    r"(?:about|on|regarding|for|concerning)\s+",
    re.IGNORECASE,
)
_LEAD = re.compile(r"^\s*(?:(?:a\s+)?(?:post|toot|something)\s+)?(?:about|on|re:)\s+", re.I)

_TONE_WORDS: dict[Tone, frozenset[str]] = {
    "cheerful": frozenset(
        "cheerful happy upbeat friendly enthusiastic playful joyful sunny optimistic fun".split()
    ),
    "calm": frozenset("calm quiet gentle zen peaceful thoughtful reflective slow serene".split()),
    "formal": frozenset("formal professional serious academic scholarly official precise".split()),
}

# Everyday topics mapped to the corpus themes that suit them, so "coffee" finds morning lines.
_THEME_HINTS: dict[str, tuple[str, ...]] = {
    "coffee": ("morning",),
    "tea": ("morning", "home"),
    "breakfast": ("morning", "food"),
    "code": ("work", "learning", "problem"),
    "programming": ("work", "learning", "problem"),
    "software": ("work", "learning", "problem"),
    "bug": ("problem", "patience"),
    "computer": ("work", "learning"),
    "tech": ("work", "change", "invention"),
    "deadline": ("time", "work"),
    "meeting": ("time", "community"),
    "project": ("work", "planning"),
    "fall": ("autumn", "seasons", "change"),
    "leave": ("autumn", "seasons", "nature"),
    "snow": ("winter", "seasons"),
    "sun": ("sun", "summer", "weather"),
    "sunny": ("sun", "summer", "weather"),
    "storm": ("weather", "rain", "wind"),
    "walk": ("walking", "nature"),
    "hike": ("walking", "nature", "adventure"),
    "park": ("nature", "walking"),
    "tree": ("forest", "nature"),
    "wood": ("forest", "nature"),
    "plant": ("garden", "nature"),
    "flower": ("flowers", "garden", "spring"),
    "bird": ("birds", "nature"),
    "sea": ("water", "nature"),
    "ocean": ("water", "nature"),
    "beach": ("water", "summer"),
    "budget": ("money", "wealth", "saving"),
    "finance": ("money", "wealth"),
    "price": ("money", "wealth"),
    "friend": ("friendship", "community"),
    "neighbor": ("community", "home"),
    "neighbour": ("community", "home"),
    "team": ("team", "community"),
    "fediverse": ("community", "friendship"),
    "mastodon": ("community", "friendship"),
    "book": ("reading", "learning", "books"),
    "library": ("reading", "books", "learning"),
    "school": ("learning",),
    "study": ("learning", "patience"),
    "exercise": ("health", "fitness"),
    "run": ("fitness", "health", "persistence"),
    "gym": ("fitness", "health"),
    "bread": ("food", "cooking", "home"),
    "recipe": ("food", "cooking"),
    "dinner": ("food", "home"),
    "trip": ("travel", "adventure"),
    "journey": ("travel", "road"),
    "train": ("travel",),
    "song": ("music", "art"),
    "paint": ("art",),
    "photo": ("art",),
    "poem": ("writing", "art", "words"),
    "poetry": ("writing", "art", "words"),
    "moon": ("night", "sky"),
    "star": ("stars", "night", "sky"),
    "family": ("home", "love"),
    "house": ("home",),
    "robot": ("invention", "change", "work"),
    "bot": ("invention", "change", "work"),
    "automation": ("invention", "work", "change"),
    "environment": ("nature", "earth", "climate"),
}

_OPENERS: dict[Tone, tuple[str, ...]] = {
    "neutral": (
        "Thinking about {topic} today.",
        "A small note on {topic}.",
        "Today's thought is about {topic}.",
        "Something to keep in mind about {topic}.",
        "{Topic} has been on my mind.",
        "A few words on {topic}.",
    ),
    "cheerful": (
        "Good morning! Today it's all about {topic}.",
        "Here's a happy thought about {topic}!",
        "Let's talk about {topic}!",
        "A bright little note on {topic}!",
    ),
    "calm": (
        "A quiet moment with {topic}.",
        "Slowing down to think about {topic}.",
        "Sitting with {topic} for a while.",
        "{Topic}, taken slowly.",
    ),
    "formal": (
        "A brief reflection on {topic}.",
        "On the subject of {topic}, an old observation still applies.",
        "Regarding {topic}, one line comes to mind.",
        "A note on {topic}.",
    ),
}

_BRIDGES = (
    "As {author} put it: “{quote}”",
    "“{quote}” ({source})",
    "An old line fits: “{quote}” — {source}",
    "{author} said it well: “{quote}”",
    "I keep coming back to this: “{quote}” — {author}",
)

_CLOSERS: dict[Tone, tuple[str, ...]] = {
    "neutral": (
        "Still true today.",
        "Worth remembering this week.",
        "Small steps still count.",
        "Make of it what you will.",
        "A good reminder, at least for me.",
    ),
    "cheerful": ("Have a lovely day!", "Onwards!", "Made me smile.", "Go gently and have fun!"),
    "calm": ("Breathe, and carry on.", "No hurry.", "Enough for today.", "Let it settle."),
    "formal": (
        "It bears repeating.",
        "The point stands.",
        "A sound principle.",
        "Worth considering.",
    ),
}


@dataclass(frozen=True)
class Composition:
    """A composed post with what it was made of (for tests and provenance)."""

    text: str
    topic: str
    tone: Tone
    quote: CorpusLine
    hashtags: tuple[str, ...]


def rng_for(*parts: object) -> random.Random:
    """Return a generator seeded from ``parts`` through SHA-256 (stable across processes,
    unlike ``hash()``)."""
    material = "\x00".join(str(p) for p in parts).encode("utf-8")
    return random.Random(int.from_bytes(hashlib.sha256(material).digest()[:8], "big"))


def extract_topic(prompt: str) -> str:
    """Return the topic of a prompt: instructions such as "write a post about" removed.

    >>> extract_topic("Write a short post about autumn walks in the park.")
    'autumn walks in the park'
    >>> extract_topic("")
    'today'
    """
    topic = _INSTRUCTION.sub("", prompt.strip(), count=1)
    topic = _LEAD.sub("", topic, count=1)
    topic = " ".join(topic.split()).strip(" .!?;:,\"'“”")
    if len(topic) > MAX_TOPIC_CHARS:
        clause = re.split(r"[.;:!?,]|\s(?:and|but|because|while|with)\s", topic)[0].strip()
        if 0 < len(clause) <= MAX_TOPIC_CHARS:
            topic = clause
        else:
            words = content_words(topic)[:3]
            topic = " ".join(words) if words else fit_text(topic, MAX_TOPIC_CHARS)
    return topic or "today"


def detect_tone(persona: str) -> Tone:
    """Return the tone the persona text asks for ("neutral" when none is recognised).

    >>> detect_tone("You are a calm, reflective gardener.")
    'calm'
    """
    words = set(re.findall(r"[a-z]+", persona.lower()))
    best: Tone = "neutral"
    best_hits = 0
    for tone, vocabulary in _TONE_WORDS.items():
        hits = len(words & vocabulary)
        if hits > best_hits:
            best, best_hits = tone, hits
    return best


def _hinted_themes(keywords: Collection[str]) -> set[str]:
    themes: set[str] = set()
    for word in keywords:
        themes.update(stem(t) for t in _THEME_HINTS.get(word, ()))
    return themes


def choose_line(
    keywords: Collection[str],
    rng: random.Random,
    *,
    avoid: Collection[str] = (),
    corpus: tuple[CorpusLine, ...] | None = None,
) -> CorpusLine:
    """Return the corpus line that best matches ``keywords`` (stemmed content words).

    Words in the line count 3, its themes 2, themes hinted by everyday words 1. Among the best
    few, the seeded ``rng`` decides; lines whose text is in ``avoid`` are skipped when possible.
    """
    lines = corpus if corpus is not None else load_corpus()
    pool = [line for line in lines if line.text not in avoid] or list(lines)
    keys = set(keywords)
    hints = _hinted_themes(keys)

    def score(line: CorpusLine) -> int:
        return 3 * len(keys & line.words) + 2 * len(keys & line.themes) + len(hints & line.themes)

    scored = sorted(((score(line), i) for i, line in enumerate(pool)), reverse=True)
    best = scored[0][0]
    if best == 0:
        return rng.choice(pool)
    # The best line, or one close to it, so the same topic does not always get the same quote.
    finalists = [pool[i] for s, i in scored if s >= max(1, best - 1)][:4]
    return rng.choice(finalists)


_STOP_FOR_TAGS = STOPWORDS | frozenset(
    "first last next new old good great best small big long late early".split()
)


def _hashtag(word: str) -> str:
    return "#" + "".join(part.capitalize() for part in re.split(r"[-']", word) if part)


def _hashtags(topic: str, rng: random.Random) -> tuple[str, ...]:
    words = [w for w in re.findall(r"[A-Za-z][A-Za-z-]+", topic) if len(w) > 2]
    keep = [w for w in words if w.lower() not in _STOP_FOR_TAGS]
    unique = list(dict.fromkeys(w.lower() for w in keep))
    count = rng.choice((0, 1, 1, 2))
    return tuple(_hashtag(w) for w in unique[:count])


def compose_post(
    prompt: str,
    *,
    persona: str = "",
    seed: int | None = None,
    max_chars: int = 500,
    variant: int = 0,
    avoid: Collection[str] = (),
) -> Composition:
    """Return a short post about ``prompt``'s topic in the tone of ``persona``.

    Deterministic: the same ``(prompt, persona, seed, variant, avoid)`` give the same text. The
    text is at most ``max_chars`` characters: hashtags, then the closing line, then the opening
    line are dropped before anything is cut.

    >>> compose_post("Write a post about coffee", seed=1).text == compose_post(
    ...     "Write a post about coffee", seed=1).text
    True
    """
    rng = rng_for(prompt, persona, seed if seed is not None else 0, variant)
    topic = extract_topic(prompt)
    tone = detect_tone(persona)
    line = choose_line(content_words(prompt), rng, avoid=avoid)
    values = {
        "topic": topic,
        "Topic": topic[:1].upper() + topic[1:],
        "quote": line.text,
        "source": line.source,
        "author": line.source.split(",")[0],
    }
    opener = rng.choice(_OPENERS[tone]).format(**values)
    bridge = rng.choice(_BRIDGES).format(**values)
    closer = rng.choice(_CLOSERS[tone])
    tags = _hashtags(topic, rng)
    layouts = (
        [f"{opener} {bridge}", closer, " ".join(tags)],
        [opener, bridge, f"{closer} {' '.join(tags)}".strip()],
        [f"{opener} {bridge}", f"{closer} {' '.join(tags)}".strip()],
    )
    paragraphs = [p for p in rng.choice(layouts) if p]
    text = "\n\n".join(paragraphs)
    if len(text) > max_chars:
        for shorter in (
            [f"{opener} {bridge}", closer],
            [f"{opener} {bridge}"],
            [bridge],
        ):
            text = "\n\n".join(shorter)
            if len(text) <= max_chars:
                break
        text = fit_text(text, max_chars)
        tags = ()
    return Composition(text, topic, tone, line, tags)
