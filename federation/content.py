"""Status text: plain text → HTML as Mastodon renders it.

``render_text`` turns what the owner typed into the HTML Mastodon's ``TextFormatter`` emits
(paragraphs, ``<br>``, autolinked URLs, h-card mentions, hashtag links), and
``find_mentions`` / ``find_hashtags`` / ``find_links`` extract the same entities, so the ``tag``
list and the addressing agree with the text. Remote HTML is handled by
:mod:`federation.sanitize`.

Nothing here raises for any ``str`` input.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from itertools import chain
from typing import Final, Literal
from urllib.parse import urlsplit

# --- entities in plain text ---------------------------------------------------------------


@dataclass(frozen=True)
class MentionRef:
    """A resolved mention: the handle as written, the actor id and the profile page if known."""

    handle: str  # "user@host" as written, without the leading "@"
    href: str  # actor id
    url: str | None = None  # profile page (text/html), preferred for the link


@dataclass(frozen=True)
class _Entity:
    kind: Literal["url", "mention", "hashtag"]
    start: int
    end: int
    value: str  # the URL, the handle without "@", or the tag name without "#"


# Mastodon's hashtag separators (Tag::HASHTAG_SEPARATORS, minus "_", which is a word character).
_TAG_SEPARATORS: Final = "\u00b7\u30fb\u200c"
# Interop: Mastodon's Account::USERNAME_RE (app/models/account.rb), in the older spelling that
# matches the same names without the nested quantifiers that backtrack quadratically.
_USERNAME: Final = r"[a-zA-Z0-9_]+(?:[.-]+[a-zA-Z0-9_]+)*"
# Characters that end a URL outright: whitespace, HTML-significant ones, CJK punctuation.
_URL_STOP: Final = r"\s<>\"\u3000-\u303f\uff01\uff08\uff09\uff0c\uff0e\uff1a\uff1b\uff1f"
_URL_TRAILING: Final = frozenset(".,:;!?'\"*…")
_CLOSERS: Final = {")": "(", "]": "[", "}": "{"}


@cache
def _word_class() -> str:
    """The body of a regex class matching Ruby's ``[[:word:]]``: ``\\w`` plus combining marks.

    Python's ``\\w`` leaves out marks (Mn, Mc, Me), which would cut hashtags such as
    ``#हिन्दी`` or a decomposed ``#café`` short. Built once, on first use.
    """
    ranges: list[str] = []
    start = previous = -2
    for code in chain(range(0x300, 0x20000), range(0xE0100, 0xE01F0)):
        if unicodedata.category(chr(code))[0] != "M":
            continue
        if code != previous + 1:
            if start >= 0:
                ranges.append(_range(start, previous))
            start = code
        previous = code
    ranges.append(_range(start, previous))
    return r"\w" + "".join(ranges)


def _range(first: int, last: int) -> str:
    return f"\\U{first:08x}" if first == last else f"\\U{first:08x}-\\U{last:08x}"


@dataclass(frozen=True)
class _Patterns:
    url: re.Pattern[str]
    mention: re.Pattern[str]
    hashtag: re.Pattern[str]


@cache
def _patterns() -> _Patterns:
    word = _word_class()
    return _Patterns(
        # Interop: twitter-text's valid_url_preceding_chars: no ASCII letter or digit, @, $
        # or # just before (CJK text often has no space before a URL).
        url=re.compile(rf"(?<![A-Za-z0-9_@$#＠＃])https?://[^{_URL_STOP}]+", re.IGNORECASE),
        # Interop: Mastodon Account::MENTION_RE; the domain must end with a word character.
        # An optional :port keeps "@a@host:8443" from turning into "@a@host", another account.
        mention=re.compile(
            rf"(?<![=/{word}])@({_USERNAME})(?:@([{word}.\-]+(?<=[{word}])(?::[0-9]{{1,5}})?))?"
            rf"(?![{word}])"
        ),
        # Interop: Mastodon Tag::HASHTAG_RE; the name is validated in _hashtag_name.
        hashtag=re.compile(rf"(?<![/){word}])#([{word}{_TAG_SEPARATORS}]+)"),
    )


def _trim_url(url: str) -> str:
    """Drop trailing punctuation and unbalanced closing brackets, as twitter-text does."""
    count = {char: url.count(char) for char in "()[]{}"}
    end = len(url)
    while end:
        last = url[end - 1]
        if last in _URL_TRAILING:
            end -= 1
        elif last in _CLOSERS and count[_CLOSERS[last]] < count[last]:
            count[last] -= 1
            end -= 1
        else:
            break
    return url[:end]


def _valid_url(url: str) -> bool:
    """True when ``url`` has a host and, if any, a valid port."""
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError:
        return False
    return bool(parts.hostname)


def _hashtag_name(run: str, before_scheme: bool) -> str | None:
    """Return the hashtag Mastodon reads from the characters after ``#``, or None."""
    name = run.rstrip(_TAG_SEPARATORS)
    if not name or name[0] in _TAG_SEPARATORS:
        return None
    # Interop: Mastodon's Extractor drops a trailing "http(s)" glued to "://" ("#tagshttps://").
    if before_scheme:
        stripped = re.sub(r"https?\Z", "", name, flags=re.IGNORECASE)
        if stripped and stripped != name:
            name = stripped.rstrip(_TAG_SEPARATORS)
    # Tag::HASHTAG_NAME_PAT: at least one letter, or a separator inside the name.
    if not any(c.isalpha() or c in _TAG_SEPARATORS for c in name):
        return None
    return name


def _extract(text: str) -> list[_Entity]:
    """URLs, mentions and hashtags in ``text``, in order, overlaps removed (earlier wins)."""
    patterns = _patterns()
    found: list[_Entity] = []
    for match in patterns.url.finditer(text):
        url = _trim_url(match.group(0))
        if "://" in url and _valid_url(url):
            found.append(_Entity("url", match.start(), match.start() + len(url), url))
    for match in patterns.mention.finditer(text):
        # twitter-text's end_mention_match: not directly followed by "@" or "://".
        if text.startswith(("@", "://"), match.end()):
            continue
        handle = match.group(1) + (f"@{match.group(2)}" if match.group(2) else "")
        found.append(_Entity("mention", match.start(), match.end(), handle))
    for match in patterns.hashtag.finditer(text):
        name = _hashtag_name(match.group(1), text.startswith("://", match.end()))
        if name:
            start = match.start()
            found.append(_Entity("hashtag", start, start + 1 + len(name), name))
    found.sort(key=lambda entity: entity.start)
    kept: list[_Entity] = []
    for entity in found:
        if kept and entity.start < kept[-1].end:
            continue
        kept.append(entity)
    return kept


def _scrub(text: str) -> str:
    """Replace lone surrogates (possible in decoded JSON) so the text encodes as UTF-8."""
    return re.sub("[\ud800-\udfff]", "\ufffd", text)


def find_mentions(text: str) -> list[str]:
    """Return the ``user@host`` handles mentioned in ``text``, in order, deduplicated
    case-insensitively (the first spelling wins). Bare ``@user`` (no host), e-mail addresses
    and ``@`` inside URLs are not mentions."""
    seen: set[str] = set()
    handles: list[str] = []
    for entity in _extract(_scrub(text)):
        if entity.kind == "mention" and "@" in entity.value:
            key = entity.value.lower()
            if key not in seen:
                seen.add(key)
                handles.append(entity.value)
    return handles


def find_hashtags(text: str) -> list[str]:
    """Return the hashtag names (without ``#``) in ``text``, in order, deduplicated
    case-insensitively. Names are Unicode letters, digits, marks and ``_``; pure numbers and
    ``#`` inside URLs or words are not hashtags. Duplicates are found after NFKC
    normalisation, so ``#café`` typed precomposed and decomposed count once."""
    seen: set[str] = set()
    names: list[str] = []
    for entity in _extract(_scrub(text)):
        if entity.kind == "hashtag":
            key = unicodedata.normalize("NFKC", entity.value).casefold()
            if key not in seen:
                seen.add(key)
                names.append(entity.value)
    return names


def find_links(text: str) -> list[str]:
    """Return the http(s) URLs in ``text``, in order, without duplicates and without the
    punctuation that ends a sentence."""
    links: list[str] = []
    for entity in _extract(_scrub(text)):
        if entity.kind == "url" and entity.value not in links:
            links.append(entity.value)
    return links


# --- plain text → HTML --------------------------------------------------------------------

_URL_PREFIX: Final = re.compile(r"\Ahttps?://(?:www\.)?", re.IGNORECASE)
_DISPLAY_URL_LENGTH: Final = 30
_PARAGRAPH_BREAK: Final = re.compile(r"\n(?:[ \t]*\n)+")


def _escape(text: str) -> str:
    return html.escape(text, quote=True)


def _link_html(url: str) -> str:
    # Interop: Mastodon TextFormatter#link_to_url: the scheme (and "www.") is kept in an
    # invisible span so copying the link text gives the whole URL; the rest past 30
    # characters is hidden and the visible part gets the "ellipsis" class.
    prefix = _URL_PREFIX.match(url)
    scheme = prefix.group(0) if prefix else ""
    rest = url[len(scheme) :]
    shown, hidden = rest[:_DISPLAY_URL_LENGTH], rest[_DISPLAY_URL_LENGTH:]
    visible = f'<span class="ellipsis">{_escape(shown)}</span>' if hidden else _escape(shown)
    return (
        f'<a href="{_escape(url)}" rel="nofollow noopener" target="_blank">'
        f'<span class="invisible">{_escape(scheme)}</span>{visible}'
        + (f'<span class="invisible">{_escape(hidden)}</span>' if hidden else "")
        + "</a>"
    )


def _mention_html(ref: MentionRef, shown: str) -> str:
    return (
        '<span class="h-card" translate="no">'
        f'<a href="{_escape(ref.url or ref.href)}" class="u-url mention">'
        f"@<span>{_escape(shown)}</span></a></span>"
    )


def _hashtag_html(name: str, tag_url: Callable[[str], str]) -> str:
    return (
        f'<a href="{_escape(tag_url(name))}" class="mention hashtag" rel="tag">'
        f"#<span>{_escape(name)}</span></a>"
    )


def _render_line(
    line: str,
    mentions: Mapping[str, MentionRef],
    tag_url: Callable[[str], str],
    ambiguous: set[str],
) -> str:
    out: list[str] = []
    position = 0
    for entity in _extract(line):
        if entity.kind == "url":
            piece = _link_html(entity.value)
        elif entity.kind == "hashtag":
            piece = _hashtag_html(entity.value, tag_url)
        else:
            ref = mentions.get(entity.value.lower())
            if ref is None:
                continue  # unknown mentions stay plain text
            username = entity.value.split("@", 1)[0]
            shown = entity.value if username.lower() in ambiguous else username
            piece = _mention_html(ref, shown)
        out.append(_escape(line[position : entity.start]))
        out.append(piece)
        position = entity.end
    out.append(_escape(line[position:]))
    return "".join(out)


def render_text(
    text: str, *, mentions: Mapping[str, MentionRef], tag_url: Callable[[str], str]
) -> str:
    """Return the HTML for plain ``text``, as Mastodon renders a status.

    Blank lines separate ``<p>`` paragraphs and single newlines become ``<br>``; every piece
    of the text is escaped. http(s) URLs become ``<a href rel="nofollow noopener"
    target="_blank">`` links whose text is Mastodon's: the scheme (and ``www.``) in
    ``<span class="invisible">``, then at most 30 characters (in ``<span class="ellipsis">``
    when cut), then the rest invisible, so the text content is still the whole URL.
    Mentions whose lower-cased handle is a key of ``mentions`` become h-card links showing
    ``@user`` (``@user@host`` when two linked mentions share a username); unknown ones stay
    text. Hashtags link to ``tag_url(name)`` with the name as written. Returns ``""`` for
    blank text.
    """
    text = _scrub(text).replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        return ""
    # Interop: Mastodon shows "@user@host" instead of "@user" when two mentioned accounts
    # share a username (TextFormatter#link_to_mention, same_username_hits).
    usernames: dict[str, set[str]] = {}
    for handle in find_mentions(text):
        if handle.lower() in mentions:
            user, _, host = handle.lower().partition("@")
            usernames.setdefault(user, set()).add(host)
    ambiguous = {user for user, hosts in usernames.items() if len(hosts) > 1}
    paragraphs = []
    for paragraph in _PARAGRAPH_BREAK.split(text):
        paragraph = paragraph.strip("\n")
        if not paragraph.strip():
            continue
        lines = [_render_line(line, mentions, tag_url, ambiguous) for line in paragraph.split("\n")]
        paragraphs.append("<p>" + "<br>".join(lines) + "</p>")
    return "".join(paragraphs)


__all__ = [
    "MentionRef",
    "find_hashtags",
    "find_links",
    "find_mentions",
    "render_text",
]
