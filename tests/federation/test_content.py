"""Tests for federation.content: entity extraction and text → HTML (remote HTML is in
test_sanitize.py)."""

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
    MentionRef,
    find_hashtags,
    find_links,
    find_mentions,
    render_text,
)
from federation.sanitize import html_to_text, sanitize_html

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


# --- html_to_text -------------------------------------------------------------------------


def test_html_to_text_shows_whole_urls_from_mastodon_link_markup() -> None:
    assert html_to_text(render("see https://www.example.com/" + "a" * 40)) == (
        "see https://www.example.com/" + "a" * 40
    )


def test_html_to_text_round_trips_render_text() -> None:
    text = "hi @bob@host.example\nsecond #line\n\nnext <para> & more"
    assert html_to_text(render(text)) == "hi @bob\nsecond #line\n\nnext <para> & more"


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


def test_mention_keeps_the_port_of_its_host() -> None:
    # "@a@host:8443" is another account than "@a@host"; cutting the port would misaddress it.
    text = "@myna@127.0.0.1:8001 hi @a@b.example, @c@d.example:443."
    assert find_mentions(text) == ["myna@127.0.0.1:8001", "a@b.example", "c@d.example:443"]
