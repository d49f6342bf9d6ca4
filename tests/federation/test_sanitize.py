"""Tests for federation.sanitize: remote HTML sanitising and HTML → text."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.sanitize import ALLOWED_TAGS, LINK_PROTOCOLS, html_to_text, sanitize_html


def start_tags(markup: str) -> list[tuple[str, dict[str, str]]]:
    found: list[tuple[str, dict[str, str]]] = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.append((tag, {name: value or "" for name, value in attrs}))

    collector = Collector(convert_charrefs=True)
    collector.feed(markup)
    collector.close()
    return found


# --- sanitize_html ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dirty", "clean"),
    [
        ("<p>hi<script>alert(1)</script></p>", "<p>hi</p>"),
        ("<style>p{}</style><p>x</p>", "<p>x</p>"),
        ('<iframe src="https://evil.example">inside</iframe>ok', "ok"),
        ("<svg><script>alert(1)</script></svg>ok", "ok"),
        ('<p onclick="evil()" style="color:red">x</p>', "<p>x</p>"),
        ('<img src="x" onerror="alert(1)">', ""),
        ('<a href="javascript:alert(1)">click</a>', "click"),
        ('<a href=" JaVaScRiPt:alert(1)">click</a>', "click"),
        ('<a href="data:text/html,x">d</a>', "d"),
        ('<a href="/relative">rel</a>', "rel"),
        ("<a>no href</a>", "no href"),
        ("<h1>Title</h1><h6>t</h6>", "<p><strong>Title</strong></p><p><strong>t</strong></p>"),
        ("<div><table><tr><td>cell</td></tr></table></div>", "cell"),
        ("<!-- comment --><b>bold</b>", "<b>bold</b>"),
        ('<p class="foo h-entry e-content bar">x</p>', '<p class="h-entry e-content">x</p>'),
        ('<span class="evil">x</span>', "<span>x</span>"),
        ('<span translate="yes">x</span><span translate="no">y</span>',
         '<span>x</span><span translate="no">y</span>'),
        ('<ol start="3" reversed onclick="x"><li value="4">a</li></ol>',
         '<ol start="3" reversed="">' '<li value="4">a</li></ol>'),
        ('<p lang="fr">bonjour</p>', '<p lang="fr">bonjour</p>'),
        ("<ruby>漢<rp>(</rp><rt>kan</rt><rp>)</rp></ruby>",
         "<ruby>漢<rp>(</rp><rt>kan</rt><rp>)</rp></ruby>"),
        ("<p>a &amp; b &lt; c</p>", "<p>a &amp; b &lt; c</p>"),
        ("unclosed <b>bold", "unclosed <b>bold</b>"),
    ],
)  # fmt: skip
def test_sanitize_html(dirty: str, clean: str) -> None:
    assert sanitize_html(dirty) == clean


def test_sanitize_html_keeps_mastodon_mention_and_hashtag_markup_and_forces_rel() -> None:
    markup = (
        '<p><span class="h-card" translate="no"><a href="https://host.example/@bob" '
        'class="u-url mention" rel="me" target="_self">@<span>bob</span></a></span> '
        '<a href="https://host.example/tags/x" class="mention hashtag" rel="tag">'
        "#<span>x</span></a></p>"
    )
    assert sanitize_html(markup) == (
        '<p><span class="h-card" translate="no"><a href="https://host.example/@bob" '
        'rel="nofollow noopener" target="_blank" class="u-url mention">@<span>bob</span></a>'
        '</span> <a href="https://host.example/tags/x" rel="nofollow noopener" '
        'target="_blank" class="mention hashtag">#<span>x</span></a></p>'
    )


@pytest.mark.parametrize("scheme", sorted(LINK_PROTOCOLS))
def test_sanitize_html_keeps_links_of_every_mastodon_protocol(scheme: str) -> None:
    out = sanitize_html(f'<a href="{scheme}:x.example/y">l</a>')
    assert out.startswith(f'<a href="{scheme}:x.example/y" rel="nofollow noopener"')


def test_sanitize_html_renders_math_as_its_tex_annotation() -> None:
    math = (
        '<p>so <math display="block"><semantics><mrow><mi>x</mi></mrow>'
        '<annotation encoding="application/x-tex">x^2 &lt; 1</annotation></semantics></math></p>'
    )
    assert sanitize_html(math) == "<p>so $$x^2 &lt; 1$$</p>"


def test_sanitize_html_drops_math_without_an_annotation() -> None:
    assert sanitize_html("<p>a<math><mi>x</mi></math>b</p>") == "<p>ab</p>"


def test_sanitize_html_replaces_lone_surrogates() -> None:
    assert sanitize_html("<p>a\ud800b</p>") == "<p>a\ufffdb</p>"


def test_sanitize_html_keeps_the_quote_inline_class() -> None:
    assert sanitize_html('<p class="quote-inline">RE: x</p>') == '<p class="quote-inline">RE: x</p>'


# --- html_to_text -------------------------------------------------------------------------


def test_html_to_text_turns_breaks_and_paragraphs_into_newlines() -> None:
    markup = "<p>one<br>two &amp; <b>three</b></p><p>four<br/>five</p><script>x</script>"
    assert html_to_text(markup) == "one\ntwo & three\n\nfour\nfive"


def test_html_to_text_keeps_preformatted_whitespace_and_lists() -> None:
    assert html_to_text("<pre>a  b\n c</pre><ul><li>x</li><li>y</li></ul>") == "a  b\n c\n\nx\ny"


# --- properties ---------------------------------------------------------------------------

HTML_PIECES = st.sampled_from(
    [
        "<script>", "</script>", "<SCRIPT src=x>", "<scr<script>ipt>", "<a href=\"", "\">",
        "javascript:", "JaVaScRiPt:", "java&#x09;script:", "java\tscript:", "&#106;avascript:",
        "<img src=x onerror=", "<svg onload=", "<iframe>", "<style>", "</", "<!--", "-->",
        "<p>", "</p>", "<a href='", "'>", " onclick=", "<math>", "<annotation encoding=",
        "<h1>", "<![CDATA[", "<noscript>", "<template>", "<textarea>", "\"", "'", "<", ">",
        "&", "http://x.example/", "data:text/html,", "vbscript:", "<base href=", "<form>",
    ]
)  # fmt: skip
HTMLISH = st.lists(st.one_of(HTML_PIECES, st.text(max_size=8)), max_size=25).map("".join)


@settings(max_examples=400, deadline=None)
@given(HTMLISH)
def test_sanitize_html_output_never_carries_scripts_or_javascript_links(dirty: str) -> None:
    out = sanitize_html(dirty)
    assert "<script" not in out.lower()
    for tag, attributes in start_tags(out):
        assert tag in ALLOWED_TAGS
        for name, value in attributes.items():
            assert not name.startswith("on")
            assert "javascript:" not in value.lower().replace("\t", "").replace("\n", "")
        if tag == "a":
            scheme = attributes["href"].split(":", 1)[0].lower()
            assert scheme in LINK_PROTOCOLS
            assert attributes["rel"] == "nofollow noopener"
            assert attributes["target"] == "_blank"
    assert sanitize_html(out) == out  # idempotent
