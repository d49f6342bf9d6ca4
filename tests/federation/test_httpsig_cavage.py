"""draft-cavage-12 signatures: Mastodon's formats, strength rules, window, digest, key rotation."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta

import pytest

from federation.errors import (
    DigestMismatch,
    KeyGone,
    KeyUnavailable,
    SignatureExpired,
    SignatureInvalid,
    SignatureMalformed,
    SignatureMissing,
)
from federation.httpsig import Scheme, digest_header, http_date, sign_request, verify_request
from federation.httpsig_cavage import parse_signature_header
from tests.federation.httpsig_testkit import (
    AS2,
    FOLLOW,
    KEY_ID,
    NOW,
    Fetcher,
    ed_key,
    peer_cavage_signature,
    public,
    raw_sign,
    rsa_key,
    signer,
)

INBOX = "https://small.example/users/me/inbox"
OUTBOX = "https://small.example/users/me/outbox?page=true"
ACCEPT = "application/activity+json, application/ld+json"
SYNC = 'collectionId="https://mastodon.example/users/bob/followers", digest="abc"'


def post_headers(date: str | None = None, body: bytes = FOLLOW) -> dict[str, str]:
    return {
        "host": "small.example",
        "date": date or http_date(NOW - timedelta(seconds=30)),
        "digest": digest_header(body),
        "content-type": AS2,
        "collection-synchronization": SYNC,
    }


def signed_post(
    names: str = "(request-target) host date digest content-type",
    *,
    headers: dict[str, str] | None = None,
    algorithm: str | None = "rsa-sha256",
    key=None,
    params: dict[str, str] | None = None,
    path: str = "/users/me/inbox",
) -> list[tuple[str, str]]:
    """A POST as a peer would send it: received header pairs, original casing."""
    values = headers if headers is not None else post_headers()
    signature = peer_cavage_signature(
        "POST",
        path,
        values,
        names.split(),
        key or rsa_key(),
        algorithm=algorithm,
        params=params,
    )
    return [(name.title(), value) for name, value in values.items()] + [("Signature", signature)]


async def verify_post(pairs, body: bytes = FOLLOW, fetcher: Fetcher | None = None, **kwargs):
    fetch = fetcher or Fetcher(public(rsa_key()))
    return await verify_request("POST", INBOX, pairs, body, fetch, now=NOW, **kwargs)


# interop.md 3.3: the exact signing string for a POST to a Mastodon inbox.
INTEROP_3_3 = (
    "(request-target): post /users/alice/inbox\n"
    "host: mastodon.example\n"
    "date: Fri, 21 Aug 2026 10:00:00 GMT\n"
    "digest: SHA-256=aLuSRyePOxP0LUQYgmNvzDMRtmxpN0mY+bU83mDtjUo=\n"
    "content-type: application/activity+json"
)


def test_sign_request_reproduces_the_interop_signing_string() -> None:
    me = "https://small.example/users/me#main-key"
    added = sign_request(
        "POST",
        "https://mastodon.example/users/alice/inbox",
        {"Content-Type": AS2},
        FOLLOW,
        signer(rsa_key(), me),
        Scheme.CAVAGE,
        now=NOW,
    )
    # RSASSA-PKCS1-v1_5 is deterministic: equal signatures mean equal signing strings.
    expected = raw_sign(rsa_key(), INTEROP_3_3.encode())
    assert added == {
        "Host": "mastodon.example",
        "Date": "Fri, 21 Aug 2026 10:00:00 GMT",
        "Digest": "SHA-256=aLuSRyePOxP0LUQYgmNvzDMRtmxpN0mY+bU83mDtjUo=",
        "Signature": f'keyId="{me}",algorithm="rsa-sha256",'
        f'headers="(request-target) host date digest content-type",signature="{expected}"',
    }


def test_sign_request_get_signs_request_target_host_date_only() -> None:
    added = sign_request(
        "GET", OUTBOX, {"Accept": ACCEPT}, None, signer(rsa_key()), Scheme.CAVAGE, now=NOW
    )
    assert "Digest" not in added
    assert 'headers="(request-target) host date"' in added["Signature"]
    text = "(request-target): get /users/me/outbox?page=true\nhost: small.example\n"
    text += "date: Fri, 21 Aug 2026 10:00:00 GMT"
    assert f'signature="{raw_sign(rsa_key(), text.encode())}"' in added["Signature"]


def test_sign_request_uses_hs2019_for_ed25519_keys() -> None:
    added = sign_request("POST", INBOX, {}, FOLLOW, signer(ed_key()), Scheme.CAVAGE, now=NOW)
    assert 'algorithm="hs2019"' in added["Signature"]
    assert 'headers="(request-target) host date digest"' in added["Signature"]


# interop.md 3.9: header orders real senders use.
MASTODON_ORDERS = [
    ("mastodon<=4.3 POST", "POST", "(request-target) host date digest content-type", "rsa-sha256"),
    ("mastodon<=4.3 GET", "GET", "(request-target) host date accept", "rsa-sha256"),
    (
        "mastodon4.4-4.6 POST",
        "POST",
        "host date digest content-type (request-target)",
        "rsa-sha256",
    ),
    ("mastodon4.4-4.6 GET", "GET", "host date accept (request-target)", "rsa-sha256"),
    ("mastodon4.7 POST", "POST", "host date content-type digest (request-target)", "rsa-sha256"),
    (
        "mastodon4.7 POST followers-only",
        "POST",
        "host date content-type collection-synchronization digest (request-target)",
        "rsa-sha256",
    ),
    ("mastodon4.7 GET", "GET", "host date (request-target)", "rsa-sha256"),
    ("gotosocial POST", "POST", "(request-target) host date digest", "hs2019"),
    ("gotosocial GET", "GET", "(request-target) host date", "hs2019"),
]


@pytest.mark.parametrize("key_type", ["rsa", "ed25519"])
@pytest.mark.parametrize(("sender", "method", "names", "algorithm"), MASTODON_ORDERS)
async def test_verify_request_accepts_every_known_header_order(
    sender: str, method: str, names: str, algorithm: str, key_type: str
) -> None:
    key = rsa_key() if key_type == "rsa" else ed_key()
    if key_type == "ed25519":
        algorithm = "hs2019"
    url, path = (INBOX, "/users/me/inbox") if method == "POST" else (OUTBOX, OUTBOX[21:])
    values = post_headers() if method == "POST" else {}
    values.update({"host": "small.example", "date": http_date(NOW), "accept": ACCEPT})
    signature = peer_cavage_signature(method, path, values, names.split(), key, algorithm=algorithm)
    pairs = [(n.title(), v) for n, v in values.items()] + [("Signature", signature)]
    body = FOLLOW if method == "POST" else None
    fetcher = Fetcher(public(key))
    verified = await verify_request(method, url, pairs, body, fetcher, now=NOW)
    assert verified.scheme is Scheme.CAVAGE
    assert verified.key.key_id == KEY_ID
    assert verified.created == NOW
    assert fetcher.calls == [(KEY_ID, False)]


async def test_verify_request_reports_the_signing_time() -> None:
    verified = await verify_post(signed_post())
    assert verified.created == NOW - timedelta(seconds=30)


async def test_verify_request_accepts_a_mapping_of_headers() -> None:
    verified = await verify_post(dict(signed_post()))
    assert verified.scheme is Scheme.CAVAGE


async def test_verify_request_combines_repeated_headers() -> None:
    values = {"host": "small.example", "date": http_date(NOW), "accept": "a/b, c/d"}
    names = ["(request-target)", "host", "date", "accept"]
    signature = peer_cavage_signature("GET", "/x", values, names, rsa_key())
    pairs = [("Host", "small.example"), ("Date", values["date"]), ("Accept", "a/b")]
    pairs += [("accept", " c/d "), ("Signature", signature)]
    fetcher = Fetcher(public(rsa_key()))
    await verify_request("GET", "https://small.example/x", pairs, None, fetcher, now=NOW)


async def test_verify_request_accepts_authorization_signature() -> None:
    pairs = signed_post()
    pairs[-1] = ("Authorization", "Signature " + pairs[-1][1])
    assert (await verify_post(pairs)).scheme is Scheme.CAVAGE


async def test_verify_request_tolerates_legacy_prefix_and_whitespace() -> None:
    pairs = signed_post()
    spaced = pairs[-1][1].replace('",', '" ,  ')
    for name in ("keyId", "algorithm", "headers", "signature"):
        spaced = spaced.replace(f'{name}="', f'{name} = "')
    pairs[-1] = ("Signature", "Signature " + spaced)
    assert (await verify_post(pairs)).scheme is Scheme.CAVAGE


async def test_verify_request_retries_without_the_query() -> None:
    values = {"host": "small.example", "date": http_date(NOW)}
    names = ["(request-target)", "host", "date"]
    signature = peer_cavage_signature("GET", "/users/me/outbox", values, names, rsa_key())
    pairs = [("Host", "small.example"), ("Date", values["date"]), ("Signature", signature)]
    fetcher = Fetcher(public(rsa_key()))
    verified = await verify_request("GET", OUTBOX, pairs, None, fetcher, now=NOW)
    assert fetcher.calls == [(KEY_ID, False)]
    assert verified.key.key_id == KEY_ID


async def test_verify_request_honours_signed_created_and_expires() -> None:
    created = int((NOW - timedelta(hours=3)).timestamp())
    params = {"created": str(created), "expires": str(created + 4 * 3600)}
    headers = {"host": "small.example", "digest": digest_header(FOLLOW)}
    pairs = signed_post(
        "(request-target) (created) (expires) host digest",
        headers=headers,
        algorithm="hs2019",
        params=params,
    )
    verified = await verify_post(pairs)
    assert verified.created == NOW - timedelta(hours=3)


async def test_verify_request_caps_expires_at_twelve_hours() -> None:
    created = int((NOW - timedelta(hours=14)).timestamp())
    params = {"created": str(created), "expires": str(created + 24 * 3600)}
    headers = {"host": "small.example", "digest": digest_header(FOLLOW)}
    pairs = signed_post(
        "(request-target) (created) (expires) host digest",
        headers=headers,
        algorithm="hs2019",
        params=params,
    )
    with pytest.raises(SignatureExpired):
        await verify_post(pairs)


async def test_verify_request_ignores_unsigned_expires() -> None:
    pairs = signed_post(headers=post_headers(http_date(NOW - timedelta(hours=3))))
    pairs[-1] = ("Signature", pairs[-1][1] + f",expires={int(NOW.timestamp())}")
    with pytest.raises(SignatureExpired):
        await verify_post(pairs)


@pytest.mark.parametrize("digest", ["sha-256=", "SHA-256=", "Sha-256="])
async def test_verify_request_digest_name_is_case_insensitive(digest: str) -> None:
    headers = post_headers()
    headers["digest"] = headers["digest"].replace("SHA-256=", digest)
    assert (await verify_post(signed_post(headers=headers))).scheme is Scheme.CAVAGE


async def test_verify_request_accepts_several_matching_digests() -> None:
    headers = post_headers()
    sha512 = base64.b64encode(hashlib.sha512(FOLLOW).digest()).decode()
    headers["digest"] = f"MD5=abc=, {headers['digest']},SHA-512={sha512}"
    assert (await verify_post(signed_post(headers=headers))).scheme is Scheme.CAVAGE


@pytest.mark.parametrize(
    "value",
    [
        "SHA-256=" + base64.b64encode(hashlib.sha256(b"other").digest()).decode(),
        "MD5=" + base64.b64encode(hashlib.md5(FOLLOW).digest()).decode(),
        digest_header(FOLLOW) + ",SHA-512=" + base64.b64encode(b"x" * 64).decode(),
        "SHA-256=not base64!",
        "garbage",
    ],
)
async def test_verify_request_rejects_wrong_digest(value: str) -> None:
    headers = post_headers()
    headers["digest"] = value
    fetcher = Fetcher(public(rsa_key()))
    with pytest.raises(DigestMismatch):
        await verify_post(signed_post(headers=headers), fetcher=fetcher)
    assert fetcher.calls == []


async def test_verify_request_rejects_tampered_body() -> None:
    with pytest.raises(DigestMismatch):
        await verify_post(signed_post(), body=FOLLOW.replace(b"Follow", b"Block"))


async def test_verify_request_rejects_post_without_digest() -> None:
    headers = post_headers()
    del headers["digest"]
    pairs = signed_post("(request-target) host date content-type", headers=headers)
    with pytest.raises(DigestMismatch):
        await verify_post(pairs)


async def test_verify_request_rejects_post_with_unsigned_digest() -> None:
    with pytest.raises(DigestMismatch):
        await verify_post(signed_post("(request-target) host date content-type"))


async def test_verify_request_rejects_signed_digest_that_is_absent() -> None:
    pairs = [p for p in signed_post() if p[0] != "Digest"]
    with pytest.raises(DigestMismatch):
        await verify_post(pairs)


async def test_verify_request_digest_may_be_waived() -> None:
    pairs = signed_post("(request-target) host date content-type")
    verified = await verify_post(pairs, require_digest=False)
    assert verified.scheme is Scheme.CAVAGE


async def test_verify_request_rejects_missing_signature() -> None:
    pairs = [p for p in signed_post() if p[0] != "Signature"]
    with pytest.raises(SignatureMissing):
        await verify_post(pairs)


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [
        (timedelta(minutes=-70), False),
        (timedelta(minutes=-65, seconds=-1), False),
        (timedelta(minutes=-65), True),
        (timedelta(minutes=-60), True),
        (timedelta(minutes=59), True),
        (timedelta(minutes=60), True),
        (timedelta(minutes=61), False),
    ],
)
async def test_verify_request_time_window(offset: timedelta, accepted: bool) -> None:
    pairs = signed_post(headers=post_headers(http_date(NOW + offset)))
    if accepted:
        assert (await verify_post(pairs)).created == NOW + offset
    else:
        fetcher = Fetcher(public(rsa_key()))
        with pytest.raises(SignatureExpired):
            await verify_post(pairs, fetcher=fetcher)
        assert fetcher.calls == []


@pytest.mark.parametrize(
    "date",
    [
        "21 Aug 2026 10:00:00 GMT",  # the Mastodon docs' example: no weekday
        "Fri, 21 Aug 2026 10:00:00 UTC",
        "2026-08-21T10:00:00Z",
        "Friday, 21-Aug-26 10:00:00 GMT",
        "Fri, 31 Feb 2026 10:00:00 GMT",
    ],
)
async def test_verify_request_rejects_dates_that_are_not_imf_fixdate(date: str) -> None:
    with pytest.raises(SignatureMalformed):
        await verify_post(signed_post(headers=post_headers(date)))


async def test_verify_request_rejects_wrong_key_after_one_refresh() -> None:
    fetcher = Fetcher(public(rsa_key(1)))
    with pytest.raises(SignatureInvalid):
        await verify_post(signed_post(), fetcher=fetcher)
    assert fetcher.calls == [(KEY_ID, False), (KEY_ID, True)]


async def test_verify_request_refetches_a_rotated_key() -> None:
    fetcher = Fetcher(public(rsa_key(1)), fresh=public(rsa_key()))
    verified = await verify_post(signed_post(), fetcher=fetcher)
    assert fetcher.calls == [(KEY_ID, False), (KEY_ID, True)]
    assert verified.key == public(rsa_key())


@pytest.mark.parametrize("error", [KeyGone("Actor is gone"), KeyUnavailable("timeout")])
async def test_verify_request_propagates_key_errors(error: Exception) -> None:
    fetcher = Fetcher(error)
    with pytest.raises(type(error)):
        await verify_post(signed_post(), fetcher=fetcher)
    assert fetcher.calls == [(KEY_ID, False)]


async def test_verify_request_propagates_key_errors_on_refresh() -> None:
    fetcher = Fetcher(public(rsa_key(1)), fresh=KeyGone("Actor is gone"))
    with pytest.raises(KeyGone):
        await verify_post(signed_post(), fetcher=fetcher)


async def test_verify_request_rejects_algorithm_that_does_not_match_the_key() -> None:
    fetcher = Fetcher(public(ed_key()))
    with pytest.raises(SignatureInvalid):
        await verify_post(signed_post(key=ed_key(), algorithm="rsa-sha256"), fetcher=fetcher)


async def test_verify_request_accepts_missing_algorithm() -> None:
    assert (await verify_post(signed_post(algorithm=None))).scheme is Scheme.CAVAGE


@pytest.mark.parametrize(
    "names",
    [
        "(request-target) host digest content-type",  # neither date nor (created)
        "host date content-type",  # neither (request-target) nor digest
        "(request-target) host date digest x-missing",  # a signed header that is absent
    ],
)
async def test_verify_request_applies_mastodon_strength_rules(names: str) -> None:
    values = post_headers()
    values["x-missing"] = "only the signer saw this"
    pairs = [p for p in signed_post(names, headers=values) if p[0] != "X-Missing"]
    fetcher = Fetcher(public(rsa_key()))
    with pytest.raises(SignatureInvalid):
        await verify_post(pairs, fetcher=fetcher, require_digest=False)
    assert fetcher.calls == []


async def test_verify_request_accepts_digest_in_place_of_request_target() -> None:
    assert (await verify_post(signed_post("host date digest content-type"))).created


async def test_verify_request_get_must_sign_host() -> None:
    values = {"date": http_date(NOW)}
    signature = peer_cavage_signature("GET", "/x", values, ["(request-target)", "date"], rsa_key())
    pairs = [("Date", values["date"]), ("Signature", signature)]
    with pytest.raises(SignatureInvalid):
        await verify_request(
            "GET", "https://small.example/x", pairs, None, Fetcher(public(rsa_key())), now=NOW
        )


async def test_verify_request_rejects_unsupported_algorithm_without_fetching() -> None:
    fetcher = Fetcher(public(rsa_key()))
    with pytest.raises(SignatureInvalid):
        await verify_post(signed_post(algorithm="hmac-sha256"), fetcher=fetcher)
    assert fetcher.calls == []


async def test_verify_request_rejects_created_with_rsa_sha256() -> None:
    params = {"created": str(int(NOW.timestamp()))}
    headers = {"host": "small.example", "digest": digest_header(FOLLOW)}
    pairs = signed_post("(request-target) (created) host digest", headers=headers, params=params)
    with pytest.raises(SignatureInvalid):
        await verify_post(pairs)


@pytest.mark.parametrize(
    "value",
    [
        'keyId="a",keyId="b",headers="date",signature="AAAA"',
        'keyId="a",KEYID="b",signature="AAAA"',
        'keyId="a" signature="AAAA"',
        'keyId="a",signature="AAAA",',
        'keyId="a",signature="AAAA',
        'keyId="a",signature="AA=A!"',
        'headers="date",signature="AAAA"',
        "",
        "Signature ",
        'keyId="a",signature="AAAA",(created)=1',
        "x" * 20_000,
    ],
)
async def test_verify_request_rejects_malformed_signature_header(value: str) -> None:
    pairs = [p for p in signed_post() if p[0] != "Signature"] + [("Signature", value)]
    fetcher = Fetcher(public(rsa_key()))
    with pytest.raises(SignatureMalformed):
        await verify_post(pairs, fetcher=fetcher)
    assert fetcher.calls == []


def test_parse_signature_header_unquotes_and_lowercases_names() -> None:
    params = parse_signature_header(
        'Signature keyId = "https://a.example/u#k" , algorithm=hs2019,'
        'headers="(request-target) date",signature="a\\"b"'
    )
    assert params == {
        "keyid": "https://a.example/u#k",
        "algorithm": "hs2019",
        "headers": "(request-target) date",
        "signature": 'a"b',
    }


async def test_verify_request_takes_host_from_the_url_when_the_header_is_absent() -> None:
    # HTTP/2 carries the host as :authority; ASGI servers may not synthesise a Host header.
    pairs = [p for p in signed_post() if p[0] != "Host"]
    assert (await verify_post(pairs)).scheme is Scheme.CAVAGE
    with pytest.raises(SignatureInvalid):
        await verify_request(
            "POST",
            "https://other.example/users/me/inbox",
            pairs,
            FOLLOW,
            Fetcher(public(rsa_key())),
            now=NOW,
        )
