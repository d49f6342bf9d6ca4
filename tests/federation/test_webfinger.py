"""Tests for federation.webfinger: resource parsing, JRD / host-meta builders, lookups."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from federation.client import create_client
from federation.errors import (
    BlockedAddress,
    FetchStatusError,
    ParseError,
    ResponseTooLarge,
    WebFingerError,
)
from federation.webfinger import (
    JRD_ACCEPT,
    AcctResource,
    UrlResource,
    build_host_meta_json,
    build_host_meta_xrd,
    build_jrd,
    parse_resource,
    resolve_handle,
)

ACTOR = "https://example.com/users/alice"
XRD_NS = "{http://docs.oasis-open.org/ns/xri/xrd-1.0}"

# --- parse_resource -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "acct:alice@example.com",
        "alice@example.com",
        "@alice@example.com",
        "acct%3Aalice%40example.com",
        "ACCT%3aalice%40example.com",
        "%40alice%40example.com",
        "ACCT:alice@EXAMPLE.COM",
        "  acct:alice@example.com  ",
    ],
)
def test_parse_resource_accepts_acct_forms(value: str) -> None:
    parsed = parse_resource(value)
    assert isinstance(parsed, AcctResource)
    assert parsed.username == "alice"
    assert parsed.host == "example.com"
    assert parsed.acct == "acct:alice@example.com"
    assert parsed.handle == "alice@example.com"


def test_parse_resource_keeps_username_case_and_compares_insensitively() -> None:
    parsed = parse_resource("acct:Alice.B-c_d@Example.COM")
    assert isinstance(parsed, AcctResource)
    assert parsed.username == "Alice.B-c_d"
    assert parsed.host == "example.com"
    assert parsed.matches("alice.b-c_d", "EXAMPLE.com")
    assert not parsed.matches("alice", "example.com")
    assert not parsed.matches("alice.b-c_d", "example.org")


def test_parse_resource_accepts_host_with_port_and_idn() -> None:
    assert parse_resource("bob@127.0.0.1:8080") == AcctResource("bob", "127.0.0.1:8080")
    assert parse_resource("bob@bücher.example") == AcctResource("bob", "xn--bcher-kva.example")


@pytest.mark.parametrize(
    "value",
    [
        "https://example.com/users/alice",
        "http://example.com/@alice",
        "HTTPS://example.com/",
        "https://example.com/users/a%20b",  # a URL keeps its own percent-encoding
    ],
)
def test_parse_resource_accepts_urls(value: str) -> None:
    assert parse_resource(value) == UrlResource(value)


def test_parse_resource_decodes_encoded_url() -> None:
    assert parse_resource("https%3A%2F%2Fexample.com%2Fusers%2Falice") == UrlResource(ACTOR)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "acct:",
        "alice",
        "acct:alice",
        "@alice",
        "alice@",
        "@example.com",
        "acct:@example.com",
        "alice@@example.com",
        "alice@bob@example.com",
        "al ice@example.com",
        "al/ice@example.com",
        "alice@exa mple.com",
        "alice@example..com",
        "alice@-example.com",
        "alice@example.com/path",
        "alice@example.com:port",
        "alice@[::1]",
        "mailto:alice@example.com",
        "acct%3Aalice%ZZexample.com",
        "acct%3Aalice%FF%40example.com",  # invalid UTF-8
        "https://",
        "https:///path",
        "https://example.com:99999999/",
        "https://exa mple.com/",
        "ftp://example.com/",
    ],
)
def test_parse_resource_rejects(value: str) -> None:
    with pytest.raises(ParseError):
        parse_resource(value)


@given(st.text())
def test_parse_resource_raises_only_parse_error(value: str) -> None:
    try:
        parse_resource(value)
    except ParseError:
        pass


_usernames = st.from_regex(r"[a-z0-9_]+([.-][a-z0-9_]+)*", fullmatch=True).filter(
    lambda u: len(u) <= 64
)
_hosts = st.lists(
    st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True), min_size=1, max_size=4
).map(".".join)


@given(_usernames, _hosts, st.sampled_from(["acct:{u}@{h}", "{u}@{h}", "@{u}@{h}"]))
def test_parse_resource_round_trips_valid_handles(username: str, host: str, form: str) -> None:
    assert parse_resource(form.format(u=username, h=host)) == AcctResource(username, host)


# --- builders -----------------------------------------------------------------------------


def test_build_jrd_has_exactly_one_self_link() -> None:
    jrd = build_jrd(
        subject="acct:alice@example.com",
        actor_id=ACTOR,
        profile_url="https://example.com/@alice",
        aliases=["https://example.com/@alice", ACTOR],
        subscribe_template="https://example.com/authorize_interaction?uri={uri}",
    )
    assert jrd["subject"] == "acct:alice@example.com"
    assert jrd["aliases"] == ["https://example.com/@alice", ACTOR]
    self_links = [link for link in jrd["links"] if link["rel"] == "self"]
    assert self_links == [{"rel": "self", "type": "application/activity+json", "href": ACTOR}]
    rels = {link["rel"]: link for link in jrd["links"]}
    assert rels["http://webfinger.net/rel/profile-page"] == {
        "rel": "http://webfinger.net/rel/profile-page",
        "type": "text/html",
        "href": "https://example.com/@alice",
    }
    assert rels["http://ostatus.org/schema/1.0/subscribe"]["template"] == (
        "https://example.com/authorize_interaction?uri={uri}"
    )
    json.dumps(jrd)  # serialisable as is


def test_build_jrd_without_subscribe_template() -> None:
    jrd = build_jrd(
        subject="acct:alice@example.com",
        actor_id=ACTOR,
        profile_url="https://example.com/@alice",
        aliases=[],
        subscribe_template=None,
    )
    assert [link["rel"] for link in jrd["links"]] == [
        "http://webfinger.net/rel/profile-page",
        "self",
    ]


def test_build_host_meta_xrd_points_to_webfinger() -> None:
    template = 'https://example.com/.well-known/webfinger?resource={uri}&x="1"'
    root = ET.fromstring(build_host_meta_xrd(template))
    assert root.tag == f"{XRD_NS}XRD"
    links = root.findall(f"{XRD_NS}Link")
    assert len(links) == 1
    assert links[0].get("rel") == "lrdd"
    assert links[0].get("template") == template


def test_build_host_meta_json() -> None:
    template = "https://example.com/.well-known/webfinger?resource={uri}"
    assert build_host_meta_json(template) == {"links": [{"rel": "lrdd", "template": template}]}


# --- resolve_handle -----------------------------------------------------------------------


def jrd(subject: str = "acct:alice@example.com", links: list[Any] | None = None) -> dict[str, Any]:
    if links is None:
        links = [
            {"rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": "x"},
            {"rel": "self", "type": "application/activity+json", "href": ACTOR},
        ]
    return {"subject": subject, "links": links}


def mock_client(
    handler: Callable[[httpx.Request], httpx.Response], seen: list[httpx.Request] | None = None
) -> httpx.AsyncClient:
    def record(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return handler(request)

    return create_client(
        user_agent="Myna/test", allow_private=True, transport=httpx.MockTransport(record)
    )


def answer(document: object, status: int = 200) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(status, json=document)


async def test_resolve_handle_returns_self_link() -> None:
    seen: list[httpx.Request] = []
    async with mock_client(answer(jrd()), seen) as client:
        assert await resolve_handle(client, "@alice@example.com") == ACTOR
    assert len(seen) == 1
    assert str(seen[0].url) == (
        "https://example.com/.well-known/webfinger?resource=acct:alice@example.com"
    )
    assert seen[0].headers["accept"] == JRD_ACCEPT


async def test_resolve_handle_uses_given_scheme_and_port() -> None:
    seen: list[httpx.Request] = []
    document = jrd(subject="acct:bob@127.0.0.1:8000")
    async with mock_client(answer(document), seen) as client:
        await resolve_handle(client, "bob@127.0.0.1:8000", scheme="http")
    assert str(seen[0].url).startswith("http://127.0.0.1:8000/.well-known/webfinger?")


async def test_resolve_handle_compares_subject_case_insensitively() -> None:
    async with mock_client(answer(jrd(subject="acct:Alice@Example.COM"))) as client:
        assert await resolve_handle(client, "alice@example.com") == ACTOR


async def test_resolve_handle_accepts_ld_json_self_link_next_to_other_self_types() -> None:
    links = [
        {"rel": "self", "type": "text/html", "href": "https://example.com/@alice"},
        {
            "rel": "self",
            "type": 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
            "href": ACTOR,
        },
    ]
    async with mock_client(answer(jrd(links=links))) as client:
        assert await resolve_handle(client, "alice@example.com") == ACTOR


async def test_resolve_handle_follows_redirect_to_other_host() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "example.com":
            target = (
                "https://social.example.com/.well-known/webfinger?resource=acct:alice@example.com"
            )
            return httpx.Response(301, headers={"Location": target})
        return httpx.Response(200, json=jrd())

    async with mock_client(handler) as client:
        assert await resolve_handle(client, "alice@example.com") == ACTOR


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            jrd(links=[{"rel": "self", "type": "application/activity+json", "href": ACTOR}] * 2),
            "several",
        ),
        (
            jrd(
                links=[
                    {"rel": "self", "type": "application/activity+json", "href": ACTOR},
                    {"rel": "self", "type": "application/activity+json", "href": ACTOR + "2"},
                ]
            ),
            "several",
        ),
        (
            jrd(links=[{"rel": "http://webfinger.net/rel/profile-page", "href": "x"}]),
            "no ActivityPub",
        ),
        (jrd(links=[{"rel": "self", "type": "text/html", "href": ACTOR}]), "no ActivityPub"),
        (jrd(links=[{"rel": "self", "href": ACTOR}]), "no ActivityPub"),
        (jrd(links=[{"rel": "self", "type": "application/activity+json"}]), "invalid self href"),
        (
            jrd(
                links=[{"rel": "self", "type": "application/activity+json", "href": "javascript:x"}]
            ),
            "invalid self href",
        ),
        (jrd(links=["self"]), "no ActivityPub"),
        ({"subject": "acct:alice@example.com"}, "no links"),
        (jrd(subject="acct:mallory@example.com"), "does not match"),
        (jrd(subject="acct:alice@evil.example"), "does not match"),
        (jrd(subject=ACTOR), "does not match"),
        (jrd(subject="nonsense"), "invalid subject"),
        ({"links": jrd()["links"]}, "no subject"),
        ([jrd()], "not a JSON object"),
    ],
)
async def test_resolve_handle_rejects_bad_jrd(document: object, message: str) -> None:
    async with mock_client(answer(document)) as client:
        with pytest.raises(WebFingerError, match=message):
            await resolve_handle(client, "alice@example.com")


async def test_resolve_handle_rejects_non_json() -> None:
    async with mock_client(lambda request: httpx.Response(200, text="<html>")) as client:
        with pytest.raises(WebFingerError, match="not JSON"):
            await resolve_handle(client, "alice@example.com")


@pytest.mark.parametrize("status", [404, 410, 500])
async def test_resolve_handle_reports_status(status: int) -> None:
    async with mock_client(answer({"error": "x"}, status=status)) as client:
        with pytest.raises(WebFingerError) as caught:
            await resolve_handle(client, "alice@example.com")
    cause = caught.value.__cause__
    assert isinstance(cause, FetchStatusError)
    assert cause.status == status


async def test_resolve_handle_limits_body_size() -> None:
    document = jrd() | {"aliases": ["x" * 1_100_000]}
    async with mock_client(answer(document)) as client:
        with pytest.raises(ResponseTooLarge):
            await resolve_handle(client, "alice@example.com")


@pytest.mark.parametrize("handle", ["alice", "", "https://example.com/users/alice", "a b@c"])
async def test_resolve_handle_rejects_invalid_handles(handle: str) -> None:
    seen: list[httpx.Request] = []
    async with mock_client(answer(jrd()), seen) as client:
        with pytest.raises(WebFingerError):
            await resolve_handle(client, handle)
    assert seen == []


async def test_resolve_handle_goes_through_the_address_guard() -> None:
    async with create_client(user_agent="Myna/test") as client:
        with pytest.raises(BlockedAddress):
            await resolve_handle(client, "alice@127.0.0.1", scheme="http")
