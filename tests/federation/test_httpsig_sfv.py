"""The structured-field subset used by RFC 9421, checked against examples and against http_sfv."""

from __future__ import annotations

import base64
import re
from decimal import Decimal

import http_sfv
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.httpsig_sfv import (
    InnerList,
    Item,
    Member,
    SFError,
    Token,
    parse_dictionary,
    serialize_bare_item,
    serialize_inner_list,
    serialize_item,
)


def serialize_dictionary(members: dict[str, Member]) -> str:
    parts = []
    for key, member in members.items():
        if isinstance(member, InnerList):
            parts.append(f"{key}={serialize_inner_list(member)}")
        elif member.value is True:
            parts.append(key + serialize_item(Item("", member.params))[2:])
        else:
            parts.append(f"{key}={serialize_item(member)}")
    return ", ".join(parts)


def test_parse_signature_input() -> None:
    members = parse_dictionary(
        'sig1=("@method" "@query-param";name="Pet");created=1618884473;keyid="k\\"1"'
        ";alg=ed25519;ok;no=?0;d=-1.50,  sig2=:AAEC:"
    )
    sig1, sig2 = members["sig1"], members["sig2"]
    assert isinstance(sig1, InnerList)
    assert sig1.items == (Item("@method"), Item("@query-param", {"name": "Pet"}))
    assert sig1.params == {
        "created": 1618884473,
        "keyid": 'k"1',
        "alg": "ed25519",
        "ok": True,
        "no": False,
        "d": Decimal("-1.5"),
    }
    assert isinstance(sig1.params["alg"], Token)
    assert not isinstance(sig1.params["keyid"], Token)
    assert sig2 == Item(b"\x00\x01\x02")
    assert serialize_inner_list(sig1) == (
        '("@method" "@query-param";name="Pet");created=1618884473;keyid="k\\"1"'
        ";alg=ed25519;ok;no=?0;d=-1.5"
    )


def test_parse_dictionary_keeps_last_duplicate_in_first_position() -> None:
    assert parse_dictionary("a=1, b=2, a=3") == {"a": Item(3), "b": Item(2)}


def test_parse_dictionary_of_empty_field_is_empty() -> None:
    assert parse_dictionary("") == {}


@pytest.mark.parametrize(
    "text",
    [
        "a,",
        "A=1",
        "a=1 b=2",
        "a=(1 2",
        'a=("x"1)',
        'a="x',
        'a="\\x"',
        'a="\u00e9"',
        "a=:AAAA",
        "a=:A:",
        "a=?2",
        "a=1.",
        "a=1.2345",
        "a=1234567890123.1",
        "a=1234567890123456",
        "a=-",
        "a=@1",
        'a=%"x"',
        "a=\t1",
        "a=1;B=2",
        "a=[1]",
    ],
)
def test_parse_dictionary_rejects_invalid_fields(text: str) -> None:
    with pytest.raises(SFError):
        parse_dictionary(text)


def test_parse_dictionary_accepts_unpadded_byte_sequences() -> None:
    # RFC 8941 §4.2.7: parsers SHOULD NOT fail when "=" padding is missing.
    assert parse_dictionary("a=:AAE:") == {"a": Item(b"\x00\x01")}


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, "?1"),
        (False, "?0"),
        (-42, "-42"),
        (Decimal("0.10"), "0.1"),
        (Decimal("-0.0"), "0.0"),
        (Decimal("12"), "12.0"),
        ('a\\b"c', '"a\\\\b\\"c"'),
        (Token("foo/bar:1"), "foo/bar:1"),
        (b"\xff", ":/w==:"),
    ],
)
def test_serialize_bare_item(value, text: str) -> None:
    assert serialize_bare_item(value) == text


@pytest.mark.parametrize("value", ["caf\u00e9", "a\nb", Token("1a"), 10**15, Decimal("1e13")])
def test_serialize_bare_item_rejects_unserializable_values(value) -> None:
    with pytest.raises(SFError):
        serialize_bare_item(value)


def _theirs(text: str) -> str | None:
    dictionary = http_sfv.Dictionary()
    try:
        dictionary.parse(text.encode())
    except ValueError:
        return None
    return str(dictionary)


def _ours(text: str) -> str | None:
    try:
        return serialize_dictionary(parse_dictionary(text))
    except SFError:
        return None


def _agree(text: str) -> None:
    ours, theirs = _ours(text), _theirs(text)
    if ours is None and theirs is not None:
        # http_sfv accepts "1." although RFC 8941 §4.2.4 says to fail.
        assert re.search(r"\d\.(?!\d)", text), (text, theirs)
    elif ours is not None and theirs is None:
        # We accept unpadded byte sequences (RFC 8941 §4.2.7) and the empty field.
        assert ":" in text or not text.strip(" "), (text, ours)
    else:
        assert ours == theirs


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet='abz*-_.;=,() "\\:?019AZ/+\t', max_size=40))
def test_parse_dictionary_agrees_with_http_sfv_on_any_text(text: str) -> None:
    _agree(text)


KEYS = st.tuples(st.sampled_from("abz*"), st.text("az09_.*-", max_size=4)).map("".join)
BARE = st.one_of(
    st.integers(-(10**15) + 1, 10**15 - 1).map(str),
    st.builds(
        lambda i, frac: f"{i}.{frac}",
        st.integers(-(10**12) + 1, 10**12 - 1),
        st.text("0123456789", min_size=1, max_size=3),
    ),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=8).map(
        lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
    ),
    st.tuples(st.sampled_from("aZ*"), st.text("aZ09!#$%&'*+.^_`|~:/-", max_size=6)).map("".join),
    st.binary(max_size=8).map(lambda b: ":" + base64.b64encode(b).decode() + ":"),
    st.sampled_from(["?0", "?1"]),
)
PARAMS = st.lists(st.tuples(KEYS, st.none() | BARE), max_size=3).map(
    lambda ps: "".join(f";{k}" if v is None else f";{k}={v}" for k, v in ps)
)
ITEM = st.tuples(BARE, PARAMS).map("".join)
INNER = st.tuples(st.lists(ITEM, max_size=4), st.sampled_from([" ", "  "]), PARAMS).map(
    lambda t: "(" + t[1].join(t[0]) + ")" + t[2]
)
MEMBER = st.tuples(
    KEYS, st.one_of(ITEM.map(lambda i: "=" + i), INNER.map(lambda i: "=" + i), PARAMS)
)
DICTIONARY = st.tuples(
    st.lists(MEMBER.map("".join), min_size=1, max_size=4), st.sampled_from([",", ", ", " ,\t"])
).map(lambda t: t[1].join(t[0]))


@settings(max_examples=150, deadline=None)
@given(DICTIONARY)
def test_parse_dictionary_agrees_with_http_sfv_on_valid_fields(text: str) -> None:
    assert _theirs(text) is not None
    _agree(text)
