"""Signing outgoing requests: helpers, sign_request's headers, and HttpSignatureAuth with httpx."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from federation.httpsig import (
    HttpSignatureAuth,
    Scheme,
    Verified,
    content_digest_header,
    digest_header,
    http_date,
    sign_request,
    verify_request,
)
from tests.federation.httpsig_testkit import (
    AS2,
    FOLLOW,
    KEY_ID,
    NOW,
    Fetcher,
    ed_key,
    public,
    rsa_key,
    signer,
)

IMF_FIXDATE = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"\d{4} \d{2}:\d{2}:\d{2} GMT$"
)


def test_http_date_is_imf_fixdate() -> None:
    assert http_date(NOW) == "Fri, 21 Aug 2026 10:00:00 GMT"
    assert http_date(datetime(2026, 1, 4, 3, 2, 1)) == "Sun, 04 Jan 2026 03:02:01 GMT"
    plus_two = timezone(timedelta(hours=2))
    assert http_date(datetime(2026, 3, 1, 1, 0, tzinfo=plus_two)) == "Sat, 28 Feb 2026 23:00:00 GMT"
    for day in range(7):
        assert IMF_FIXDATE.match(http_date(NOW + timedelta(days=day, minutes=day * 37)))


def test_digest_helpers() -> None:
    empty = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    assert digest_header(b"") == f"SHA-256={empty}"
    assert content_digest_header(b"") == f"sha-256=:{empty}:"
    assert digest_header(FOLLOW) == "SHA-256=aLuSRyePOxP0LUQYgmNvzDMRtmxpN0mY+bU83mDtjUo="


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://Remote.Example/inbox", "remote.example"),
        ("https://remote.example:443/inbox", "remote.example"),
        ("http://remote.example:80/inbox", "remote.example"),
        ("https://remote.example:8443/inbox", "remote.example:8443"),
        ("http://[::1]:8000/inbox", "[::1]:8000"),
    ],
)
@pytest.mark.parametrize("scheme", list(Scheme))
def test_sign_request_adds_host_without_default_port(url: str, host: str, scheme: Scheme) -> None:
    assert sign_request("GET", url, {}, None, signer(ed_key()), scheme)["Host"] == host


@pytest.mark.parametrize("scheme", list(Scheme))
def test_sign_request_keeps_an_existing_host(scheme: Scheme) -> None:
    added = sign_request(
        "POST", "https://remote.example/x", {"host": "other.example"}, b"", signer(ed_key()), scheme
    )
    assert "Host" not in added
    assert set(added) >= {"Date", "Signature"}
    assert ("Digest" in added) is (scheme is Scheme.CAVAGE)
    assert ("Content-Digest" in added) is (scheme is Scheme.RFC9421)


def test_sign_request_rejects_a_url_without_host() -> None:
    with pytest.raises(ValueError):
        sign_request("GET", "/inbox", {}, None, signer(ed_key()), Scheme.CAVAGE)


def test_sign_request_escapes_quotes_in_cavage_key_ids() -> None:
    added = sign_request(
        "GET", "https://a.example/", {}, None, signer(ed_key(), 'k"\\1'), Scheme.CAVAGE
    )
    assert added["Signature"].startswith('keyId="k\\"\\\\1",')


class Clock:
    """Returns t0, t0 + 1 min, t0 + 2 min, ..."""

    def __init__(self, start: datetime) -> None:
        self.times: Iterator[datetime] = (start + timedelta(minutes=i) for i in range(1000))

    def __call__(self) -> datetime:
        return next(self.times)


def received(request: httpx.Request) -> tuple[str, list[tuple[str, str]]]:
    """The URL and raw header pairs a server would see for ``request``."""
    pairs = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
    host = request.headers["host"]
    return f"{request.url.scheme}://{host}{request.url.raw_path.decode()}", pairs


@pytest.mark.parametrize("key_type", ["rsa", "ed25519"])
@pytest.mark.parametrize("scheme", list(Scheme))
async def test_http_signature_auth_signs_what_httpx_sends(scheme: Scheme, key_type: str) -> None:
    key = rsa_key() if key_type == "rsa" else ed_key()
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202)

    auth = HttpSignatureAuth(signer(key), scheme, clock=Clock(NOW))
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler), auth=auth) as client:
        url = "https://remote.example:8443/users/b%C3%B6b/inbox?x=%20y&z"
        await client.post(url, content=FOLLOW, headers={"Content-Type": AS2})
        await client.get("https://remote.example/users/bob/outbox?page=1")

    post, get = seen
    assert post.headers["host"] == "remote.example:8443"
    fetcher = Fetcher(public(key))
    for request, when in ((post, NOW), (get, NOW + timedelta(minutes=1))):
        url, pairs = received(request)
        body = request.content or None
        verified = await verify_request(request.method, url, pairs, body, fetcher, now=when)
        assert verified == Verified(public(key), scheme, when)
    assert post.headers["date"] != get.headers["date"]
    assert ("digest" in get.headers) is False and "content-digest" not in get.headers


@pytest.mark.parametrize("scheme", list(Scheme))
async def test_http_signature_auth_signs_each_attempt_afresh(scheme: Scheme) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(401 if len(seen) == 1 else 202)

    auth = HttpSignatureAuth(signer(rsa_key()), scheme, clock=Clock(NOW))
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        for _ in range(2):
            await client.post("https://remote.example/inbox", content=FOLLOW, auth=auth)

    first, second = seen
    assert first.headers["date"] == "Fri, 21 Aug 2026 10:00:00 GMT"
    assert second.headers["date"] == "Fri, 21 Aug 2026 10:01:00 GMT"
    assert first.headers["signature"] != second.headers["signature"]
    for request, when in ((first, NOW), (second, NOW + timedelta(minutes=1))):
        url, pairs = received(request)
        fetcher = Fetcher(public(rsa_key()))
        verified = await verify_request("POST", url, pairs, request.content, fetcher, now=when)
        assert verified.created == when
        assert verified.key.key_id == KEY_ID


def test_http_signature_auth_works_with_the_sync_client() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    auth = HttpSignatureAuth(signer(ed_key()), Scheme.CAVAGE)
    with httpx.Client(transport=httpx.MockTransport(handler), auth=auth) as client:
        client.put("https://remote.example/thing", content=b"x")
    [request] = seen
    assert 'headers="(request-target) host date digest"' in request.headers["signature"]
    assert request.headers["digest"] == digest_header(b"x")
