"""Tests for federation.content: entity extraction, text → HTML, remote HTML sanitising."""

from __future__ import annotations

import html
import re
import time
from html.parser import HTMLParser
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.content import (
    ALLOWED_TAGS,
    LINK_PROTOCOLS,
    MentionRef,
    find_hashtags,
    find_links,
    find_mentions,
    html_to_text,
    render_text,
    sanitize_html,
)

BOB = MentionRef("bob@host.example", "https://host.example/users/bob", "https://host.example/@bob")
MENTIONS = {"bob@host.example": BOB}


def tag_url(name: str) -> str:
    return "https://me.example/tags/" + quote(name.lower())


def render(text: str) -> str:
    return render_text(text, mentions=MENTIONS, tag_url=tag_url)


def start_tags(markup: str) -> list[tuple[str, dict[str, str]]]:
    found: list[tuple[str, dict[str, str]]] = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.append((tag, {name: value or "" for name, value in attrs}))

    collector = Collector(convert_charrefs=True)
    collector.feed(markup)
    collector.close()
    return found


# --- find_mentions ------------------------------------------------------------------------


def test_find_mentions_returns_handles_in_order_deduplicated_case_insensitively() -> None:
    text = "hi @bob@host.example and @Carol@Other.example, again @BOB@HOST.EXAMPLE"
    assert find_mentions(text) == ["bob@host.example", "Carol@Other.example"]


@pytest.mark.parametrize(
    "text",
    [
        "mail me at bob@host.example",
        "see https://host.example/@bob@other.example",
        "https://host.example/?who=@bob@other.example",
        "@bob without a host",
        "@bob@host.example@more",
        "@bob@host.example://x",
    ],
)
def test_find_mentions_ignores_emails_urls_bare_names_and_trailing_at(text: str) -> None:
    assert find_mentions(text) == []


def test_find_mentions_stops_before_trailing_punctuation() -> None:
    assert find_mentions("ping @bob@host.example. And (@eve@x.example)!") == [
        "bob@host.example",
        "eve@x.example",
    ]


def test_find_mentions_accepts_dotted_and_dashed_usernames() -> None:
    assert find_mentions("@first.last@host.example @a-b@x.example") == [
        "first.last@host.example",
        "a-b@x.example",
    ]


# --- find_hashtags ------------------------------------------------------------------------


def test_find_hashtags_keeps_unicode_names_and_drops_pure_numbers() -> None:
    assert find_hashtags("#café #123 #foo_bar #日本語 #हिन्दी #x1") == [
        "café",
        "foo_bar",
        "日本語",
        "हिन्दी",
        "x1",
    ]


def test_find_hashtags_deduplicates_case_insensitively_and_across_normal_forms() -> None:
    assert find_hashtags("#Cats #cats #CATS #café #cafe\u0301") == ["Cats", "café"]


@pytest.mark.parametrize(
    "text",
    [
        "https://x.example/page#section",
        "https://x.example/?q=#notatag",
        "word#notatag",
        "(see)#x",
        "#123",
        "#_",
        "#·abc",
    ],
)
def test_find_hashtags_ignores_urls_words_and_invalid_names(text: str) -> None:
    assert find_hashtags(text) == []


def test_find_hashtags_trims_trailing_separators_and_punctuation() -> None:
    assert find_hashtags("#hi·there· #end. #q?") == ["hi·there", "end", "q"]


# --- find_links ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "links"),
    [
        ("see https://x.example/a?b=c.", ["https://x.example/a?b=c"]),
        ("(https://x.example/a)", ["https://x.example/a"]),
        ("https://en.wikipedia.org/wiki/Foo_(bar)!", ["https://en.wikipedia.org/wiki/Foo_(bar)"]),
        ('"https://x.example/q?a=1&b=2", ok', ["https://x.example/q?a=1&b=2"]),
        ("<https://x.example/>", ["https://x.example/"]),
        ("HTTP://X.example/Up", ["HTTP://X.example/Up"]),
        ("two https://a.example and https://a.example", ["https://a.example"]),
        ("no scheme x.example, ftp://x.example, https:// alone", []),
        ("xhttps://x.example glued", []),
        ("日本語https://x.example/パス。次", ["https://x.example/パス"]),
    ],
)
def test_find_links(text: str, links: list[str]) -> None:
    assert find_links(text) == links


# --- render_text --------------------------------------------------------------------------


def test_render_text_escapes_markup_ampersands_and_quotes() -> None:
    assert render("<script>alert('x')</script> & \"q\"") == (
        "<p>&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;q&quot;</p>"
    )


def test_render_text_splits_paragraphs_on_blank_lines_and_breaks_single_newlines() -> None:
    assert render("one\ntwo\n\n\nthree\r\nfour\n \nfive") == (
        "<p>one<br>two</p><p>three<br>four</p><p>five</p>"
    )


def test_render_text_of_blank_text_is_empty() -> None:
    assert render("") == ""
    assert render(" \n\n \n") == ""


def test_render_text_links_urls_leaving_trailing_punctuation_outside() -> None:
    assert render("see https://x.example/a?b=c&d=e.") == (
        '<p>see <a href="https://x.example/a?b=c&amp;d=e" rel="nofollow noopener" '
        'target="_blank"><span class="invisible">https://</span>x.example/a?b=c&amp;d=e</a>.</p>'
    )


def test_render_text_ellipsises_long_urls_like_mastodon() -> None:
    url = "https://www.example.com/" + "a" * 40
    assert render(url) == (
        f'<p><a href="{url}" rel="nofollow noopener" target="_blank">'
        '<span class="invisible">https://www.</span>'
        f'<span class="ellipsis">example.com/{"a" * 18}</span>'
        f'<span class="invisible">{"a" * 22}</span></a></p>'
    )


def test_render_text_links_known_mentions_and_leaves_unknown_ones_as_text() -> None:
    assert render("hi @Bob@host.example and @eve@other.example") == (
        '<p>hi <span class="h-card" translate="no"><a href="https://host.example/@bob" '
        'class="u-url mention">@<span>Bob</span></a></span> and @eve@other.example</p>'
    )


def test_render_text_mention_falls_back_to_the_actor_id_without_a_profile_url() -> None:
    ref = MentionRef("bob@host.example", "https://host.example/users/bob")
    out = render_text("@bob@host.example", mentions={"bob@host.example": ref}, tag_url=tag_url)
    assert 'href="https://host.example/users/bob"' in out


def test_render_text_shows_the_domain_when_two_mentions_share_a_username() -> None:
    mentions = {
        "bob@host.example": BOB,
        "bob@other.example": MentionRef("bob@other.example", "https://other.example/u/bob"),
    }
    out = render_text("@bob@host.example @bob@other.example", mentions=mentions, tag_url=tag_url)
    assert "@<span>bob@host.example</span>" in out
    assert "@<span>bob@other.example</span>" in out


def test_render_text_links_hashtags_but_not_numbers_or_url_fragments() -> None:
    assert render("#café #123 https://x.example/#frag") == (
        '<p><a href="https://me.example/tags/caf%C3%A9" class="mention hashtag" rel="tag">'
        "#<span>café</span></a> #123 "
        '<a href="https://x.example/#frag" rel="nofollow noopener" target="_blank">'
        '<span class="invisible">https://</span>x.example/#frag</a></p>'
    )


def test_render_text_escapes_tag_urls_and_mention_urls() -> None:
    ref = MentionRef("bob@host.example", 'https://host.example/"><script>')
    out = render_text(
        "@bob@host.example #x", mentions={"bob@host.example": ref}, tag_url=lambda n: '"><b>'
    )
    assert "<script>" not in out and "<b>" not in out
    assert "&quot;&gt;&lt;script&gt;" in out


def test_render_text_output_survives_sanitize_html() -> None:
    """What we send is what a Mastodon-strict sanitiser keeps: the same elements, classes
    and text (only ``rel`` is rewritten, as Mastodon does)."""
    out = render("hi @bob@host.example #tag https://x.example/" + "p" * 40 + "\nline")
    kept = sanitize_html(out)

    def shape(markup: str) -> list[tuple[str, str, str]]:
        return [(t, a.get("class", ""), a.get("href", "")) for t, a in start_tags(markup)]

    assert shape(kept) == shape(out)
    assert html_to_text(kept) == html_to_text(out)


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


def test_html_to_text_shows_whole_urls_from_mastodon_link_markup() -> None:
    assert html_to_text(render("see https://www.example.com/" + "a" * 40)) == (
        "see https://www.example.com/" + "a" * 40
    )


def test_html_to_text_round_trips_render_text() -> None:
    text = "hi @bob@host.example\nsecond #line\n\nnext <para> & more"
    assert html_to_text(render(text)) == "hi @bob\nsecond #line\n\nnext <para> & more"


def test_html_to_text_keeps_preformatted_whitespace_and_lists() -> None:
    assert html_to_text("<pre>a  b\n c</pre><ul><li>x</li><li>y</li></ul>") == "a  b\n c\n\nx\ny"


@pytest.mark.parametrize(
    "text",
    [
        "@" + "a" * 20_000 + "é",
        "@" + "a.-" * 10_000 + "é",
        "@a@" + "b." * 10_000 + "é",
        "#" + "a·" * 10_000,
        "https://x.example/" + "(" * 20_000 + ")" * 30_000,
        "#a " * 10_000,
    ],
)
def test_entity_extraction_stays_fast_on_adversarial_text(text: str) -> None:
    started = time.perf_counter()
    render_text(text, mentions={}, tag_url=tag_url)
    assert time.perf_counter() - started < 3  # quadratic regexes took minutes here


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


TEXTISH = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "<",
                ">",
                "&",
                '"',
                "'",
                "<script>",
                "&amp;",
                "\n",
                "\n\n",
                " ",
                "#tag",
                "#café",
                "#123",
                "@bob@host.example",
                "@eve@x.example",
                "bob@host.example",
                "https://",
                "https://x.example/a?b=c&d=e",
                "(https://x.example/(a))",
                ".",
                ",",
                "#",
                "@",
            ]
        ),
        st.text(max_size=6),
    ),
    max_size=30,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(TEXTISH)
def test_render_text_is_well_formed_and_loses_no_text(text: str) -> None:
    out = render_text(text, mentions={}, tag_url=tag_url)
    for tag, attributes in start_tags(out):
        assert tag in {"p", "br", "a", "span"}
        assert set(attributes) <= {"href", "rel", "target", "class", "translate"}
    # Every "<" of the output opens one of our tags: the input's own are all escaped.
    assert all(re.match(r"</?(?:p|br|a|span)[ >]", out[m.start() :]) for m in re.finditer("<", out))
    # With no known mentions, the text content is the input, modulo whitespace.
    plain = html.unescape(re.sub(r"<[^>]*>", "", out))
    assert "".join(plain.split()) == "".join(text.replace("\r", "").split())


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_entity_finders_never_raise_and_return_substrings(text: str) -> None:
    for handle in find_mentions(text):
        assert "@" + handle in text
    for name in find_hashtags(text):
        assert "#" + name in text
    for link in find_links(text):
        assert link in text
