"""Status text: plain text → HTML as Mastodon renders it, and remote HTML → safe HTML.

Outgoing: ``render_text`` turns what the owner typed into the HTML Mastodon's ``TextFormatter``
emits (paragraphs, ``<br>``, autolinked URLs, h-card mentions, hashtag links), and
``find_mentions`` / ``find_hashtags`` / ``find_links`` extract the same entities, so the ``tag``
list and the addressing agree with the text.

Incoming: ``sanitize_html`` reduces remote HTML to Mastodon's allowed set
(``Sanitize::Config::MASTODON_STRICT`` in ``lib/sanitize_ext/sanitize_config.rb``) with ``nh3``,
and ``html_to_text`` turns stored HTML back into text for the CLI.

Nothing here raises for any ``str`` input.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from html.parser import HTMLParser
from itertools import chain
from typing import Final, Literal
from urllib.parse import urlsplit

import nh3

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
        mention=re.compile(
            rf"(?<![=/{word}])@({_USERNAME})(?:@([{word}.\-]+(?<=[{word}])))?(?![{word}])"
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


# --- remote HTML → safe HTML --------------------------------------------------------------

# Interop: Sanitize::Config::MASTODON_STRICT, mastodon lib/sanitize_ext/sanitize_config.rb.
ALLOWED_TAGS: Final = frozenset(
    {
        "p", "br", "span", "a", "del", "s", "pre", "blockquote", "code", "b", "strong",
        "u", "i", "em", "ul", "ol", "li", "ruby", "rt", "rp",
    }
)  # fmt: skip
LINK_PROTOCOLS: Final = frozenset(
    {"http", "https", "dat", "dweb", "ipfs", "ipns", "ssb", "gopher", "xmpp", "magnet", "gemini"}
)
_ATTRIBUTES: Final = {
    "*": {"lang"},
    "a": {"href", "class", "translate"},
    "span": {"class", "translate"},
    "ol": {"start", "reversed"},
    "li": {"value"},
    "p": {"class"},
    "math": {"display"},
    "annotation": {"encoding"},
}
_HEADINGS: Final = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_MATH_TAGS: Final = frozenset({"math", "semantics", "annotation"})
# Sanitize's default remove_contents, plus other raw-text and embedding elements.
_DROP_WITH_CONTENT: Final = frozenset(
    {
        "script", "style", "iframe", "noembed", "noframes", "noscript", "plaintext", "svg",
        "xmp", "template", "textarea", "title", "object", "embed", "frameset", "select",
    }
)  # fmt: skip
_ALLOWED_CLASS: Final = re.compile(
    r"(?:h|p|u|dt|e)-.*|mention|hashtag|ellipsis|invisible|quote-inline"
)
_VOID: Final = frozenset({"br"})
_BLOCK_TAGS: Final = frozenset({"p", "pre", "blockquote", "ul", "ol", "li"})


def _filter_attribute(element: str, attribute: str, value: str) -> str | None:
    """nh3 callback mirroring Mastodon's ALLOWED_CLASS_TRANSFORMER and TRANSLATE_TRANSFORMER."""
    if attribute == "class":
        kept = [c for c in re.split(r"[\t\n\f\r ]+", value) if c and _ALLOWED_CLASS.fullmatch(c)]
        return " ".join(kept) or None
    if attribute == "translate":
        return value if value == "no" else None
    return value


@cache
def _cleaner() -> nh3.Cleaner:
    return nh3.Cleaner(
        tags=set(ALLOWED_TAGS | _HEADINGS | _MATH_TAGS),
        clean_content_tags=set(_DROP_WITH_CONTENT),
        attributes={tag: set(names) for tag, names in _ATTRIBUTES.items()},
        attribute_filter=_filter_attribute,
        link_rel="nofollow noopener",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        url_schemes=set(LINK_PROTOCOLS),
        url_relative="deny",
        strip_comments=True,
    )


class _Rewriter(HTMLParser):
    """Second pass over nh3's well-formed output: Mastodon's element transformers.

    Headings become ``<p><strong>`` (UNSUPPORTED_ELEMENTS_TRANSFORMER), links nh3 left
    without ``href`` (unsupported or relative scheme) become their text
    (UNSUPPORTED_HREF_TRANSFORMER), and ``<math>`` becomes its TeX or plain-text annotation
    (MATH_TRANSFORMER, FEP-dc88), or disappears. Everything is re-escaped on output.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._dropped_links = 0
        self._open_links: list[bool] = []
        self._math_depth = 0
        self._heading_depth = 0
        self._math_display = ""
        self._annotation: str | None = None
        self._annotations: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if self._math_depth:
            if tag == "math":
                self._math_depth += 1
            elif tag == "annotation":
                self._annotation = values.get("encoding", "")
                self._annotations.setdefault(self._annotation, "")
            return
        if tag == "math":
            self._math_depth = 1
            self._math_display = values.get("display", "")
            self._annotations = {}
            return
        if tag in _HEADINGS:
            self._heading_depth += 1
            if self._heading_depth == 1:
                self.out.append("<p><strong>")
            return
        if self._heading_depth and tag in _BLOCK_TAGS:
            return  # a heading becomes <p><strong>: no block may open inside it
        if tag == "a":
            keep = bool(values.get("href"))
            self._open_links.append(keep)
            if not keep:
                return
            values = {
                "href": values["href"],
                "rel": "nofollow noopener",
                "target": "_blank",
                **{k: v for k, v in values.items() if k in ("class", "translate", "lang")},
            }
        if tag not in ALLOWED_TAGS:
            return
        attributes = "".join(f' {name}="{_escape(value)}"' for name, value in values.items())
        self.out.append(f"<{tag}{attributes}>")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._math_depth:
            if tag == "annotation":
                self._annotation = None
            elif tag == "math":
                self._math_depth -= 1
                if not self._math_depth:
                    self._close_math()
            return
        if tag in _HEADINGS:
            self._heading_depth = max(0, self._heading_depth - 1)
            if not self._heading_depth:
                self.out.append("</strong></p>")
            return
        if self._heading_depth and tag in _BLOCK_TAGS:
            return
        if tag == "a" and (not self._open_links or not self._open_links.pop()):
            return
        if tag in ALLOWED_TAGS and tag not in _VOID:
            self.out.append(f"</{tag}>")

    def _close_math(self) -> None:
        tex = self._annotations.get("application/x-tex")
        if tex is not None:
            text = f"$${tex}$$" if self._math_display == "block" else f"${tex}$"
        else:
            text = self._annotations.get("text/plain", "")
        self.out.append(_escape(text))

    def handle_data(self, data: str) -> None:
        if self._math_depth:
            if self._annotation is not None:
                self._annotations[self._annotation] += data
            return
        self.out.append(html.escape(data, quote=False))


def sanitize_html(html_text: str) -> str:
    """Return ``html_text`` reduced to what Mastodon keeps from remote statuses.

    Allowed elements: p br span a del s pre blockquote code b strong u i em ul ol li ruby rt rp.
    Attributes: ``lang`` everywhere, ``a[href class translate]``, ``span[class translate]``,
    ``ol[start reversed]``, ``li[value]``, ``p[class]``; classes only if microformats
    (``h-* p-* u-* dt-* e-*``), ``mention``, ``hashtag``, ``ellipsis``, ``invisible`` or
    ``quote-inline``; ``translate`` only as ``"no"``. Links get ``rel="nofollow noopener"``
    and ``target="_blank"``; links to other schemes than http, https, dat, dweb, ipfs, ipns,
    ssb, gopher, xmpp, magnet, gemini (or relative ones) become their text. Headings become
    ``<p><strong>``. script, style, iframe, svg and the like go with their content; any other
    element is unwrapped.
    """
    cleaned = _cleaner().clean(_scrub(html_text))
    rewriter = _Rewriter()
    rewriter.feed(cleaned)
    rewriter.close()
    return "".join(rewriter.out)


# --- HTML → text --------------------------------------------------------------------------

_BLOCKS: Final = frozenset(
    {"p", "div", "blockquote", "pre", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "table"}
)
_SKIPPED: Final = frozenset({"script", "style", "template", "title", "head"})


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skip += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCKS:
            self.parts.append("\n\n")
            if tag == "pre":
                self._pre += 1
        elif tag in ("li", "tr"):
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n\n")
            if tag == "pre":
                self._pre = max(0, self._pre - 1)

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if not self._pre:
            data = re.sub(r"\s+", " ", data)
            if not self.parts or self.parts[-1].endswith("\n"):
                data = data.lstrip(" ")
        if data:
            self.parts.append(data)


def html_to_text(html_text: str) -> str:
    """Return the text of ``html_text`` for terminal display: tags stripped, ``<br>`` as a
    newline, paragraphs separated by a blank line, entities unescaped, script/style dropped."""
    extractor = _TextExtractor()
    extractor.feed(_scrub(html_text))
    extractor.close()
    text = "".join(extractor.parts)
    lines = [line.rstrip(" ") for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


__all__ = [
    "ALLOWED_TAGS",
    "LINK_PROTOCOLS",
    "MentionRef",
    "find_hashtags",
    "find_links",
    "find_mentions",
    "html_to_text",
    "render_text",
    "sanitize_html",
]
