"""Remote HTML → safe HTML, and stored HTML → text.

``sanitize_html`` reduces remote HTML to Mastodon's allowed set
(``Sanitize::Config::MASTODON_STRICT`` in ``lib/sanitize_ext/sanitize_config.rb``) with ``nh3``,
and ``html_to_text`` turns stored HTML back into text for the CLI. Plain text → HTML is
:mod:`federation.content`.

Nothing here raises for any ``str`` input.
"""

from __future__ import annotations

import html
import re
from functools import cache
from html.parser import HTMLParser
from typing import Final

import nh3


def _scrub(text: str) -> str:
    """Replace lone surrogates (possible in decoded JSON) so the text encodes as UTF-8."""
    return re.sub("[\ud800-\udfff]", "\ufffd", text)


def _escape(text: str) -> str:
    return html.escape(text, quote=True)


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
    "html_to_text",
    "sanitize_html",
]
