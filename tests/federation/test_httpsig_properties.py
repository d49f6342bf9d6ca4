"""Property tests: verify_request raises only SignatureError on any input; sign -> verify holds."""

from __future__ import annotations

import asyncio
import base64
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from federation.errors import DigestMismatch, KeyNotFound, SignatureError
from federation.httpsig import (
    Scheme,
    Verified,
    content_digest_header,
    digest_header,
    http_date,
    sign_request,
    verify_request,
)
from federation.httpsig_common import HeaderView
from federation.httpsig_sfv import parse_dictionary
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

SETTINGS = settings(max_examples=200, deadline=None)
STAMP = int(NOW.timestamp())
SIG64 = base64.b64encode(b"\x01" * 64).decode()

TEXT = st.text(max_size=120) | st.text(st.characters(max_codepoint=255), max_size=120)
TOKEN = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.", max_size=12)

CAVAGE_PARAMS = st.sampled_from(
    [
        f'keyId="{KEY_ID}"',
        'algorithm="rsa-sha256"',
        "algorithm=hs2019",
        'algorithm="ed25519"',
        'headers="(request-target) host date digest"',
        'headers="(request-target) (created) (expires) host"',
        'headers="date"',
        'headers=""',
        f'signature="{SIG64}"',
        'signature="AAAA"',
        f"created={STAMP}",
        f"expires={STAMP + 60}",
        "created=1.5",
        "expires=x",
    ]
) | st.builds(lambda k, v: f'{k}="{v}"', TOKEN, TEXT)
SIGNED_HEADERS = st.sampled_from(
    [
        "(request-target) host date digest",
        "(request-target) host date",
        "host date content-type digest (request-target)",
        "(request-target) (created) (expires) host digest",
        "(created) digest",
        "date host",
        "(request-target) host date x-absent",
    ]
).map(lambda names: f'headers="{names}"')
CAVAGE = st.one_of(
    st.builds(
        lambda names, extra: ",".join([f'keyId="{KEY_ID}"', f'signature="{SIG64}"', names, *extra]),
        SIGNED_HEADERS,
        st.lists(CAVAGE_PARAMS, max_size=3),
    ),
    st.lists(CAVAGE_PARAMS, max_size=7).map(",".join),
    TEXT,
)

COMPONENTS = st.sampled_from(
    [
        '"@method"',
        '"@target-uri"',
        '"content-digest"',
        '"@authority"',
        '"@scheme"',
        '"@path"',
        '"@query"',
        '"@request-target"',
        '"@query-param";name="a"',
        '"@query-param"',
        '"date"',
        '"host"',
        '"x-absent"',
        '"@status"',
        '"content-digest";sf',
        "@method",
        '"Date"',
    ]
)
RFC_PARAMS = st.sampled_from(
    [
        f";created={STAMP}",
        f';keyid="{KEY_ID}"',
        f";expires={STAMP + 60}",
        ';alg="ed25519"',
        ';alg="rsa-v1_5-sha256"',
        ';alg="hmac-sha256"',
        ";created=?1",
        ";keyid=:AAAA:",
        ";created=1.5",
    ]
)
SIGNATURE_INPUT = st.one_of(
    st.builds(
        lambda comps, params: (
            f'sig1=({" ".join(comps)});created={STAMP};keyid="{KEY_ID}"' + "".join(params)
        ),
        st.lists(COMPONENTS, max_size=6).map(lambda c: ['"@method"', '"@target-uri"', *c]),
        st.lists(RFC_PARAMS, max_size=2),
    ),
    st.builds(
        lambda label, comps, params: f"{label}=({' '.join(comps)}){''.join(params)}",
        st.sampled_from(["sig1", "sig2", "Sig", "a"]),
        st.lists(COMPONENTS, max_size=6),
        st.lists(RFC_PARAMS, max_size=5),
    ),
    TEXT,
)
RFC_SIGNATURE = st.sampled_from(["sig1=:AAAA:", f"sig1=:{SIG64}:", "sig1=?1", "sig2=:AAAA:"]) | TEXT
DATES = (
    st.builds(lambda minutes: http_date(NOW + timedelta(minutes=minutes)), st.integers(-120, 120))
    | TEXT
)
DIGESTS = (
    st.sampled_from(
        [digest_header(FOLLOW), digest_header(b""), "SHA-256=AAAA", "md5=x", "sha-512=="]
    )
    | TEXT
)
CONTENT_DIGESTS = (
    st.sampled_from(
        [content_digest_header(FOLLOW), content_digest_header(b""), "sha-256=:AAAA:", "md5=:AA==:"]
    )
    | TEXT
)
NAMES = st.sampled_from(["Content-Type", "Accept", "Host", "X-Thing", "date", "DIGEST"]) | TEXT

SIGNATURES = st.one_of(
    CAVAGE.map(lambda value: [("Signature", value)]),
    CAVAGE.map(lambda value: [("Authorization", "Signature " + value)]),
    st.tuples(SIGNATURE_INPUT, RFC_SIGNATURE).map(
        lambda pair: [("Signature-Input", pair[0]), ("Signature", pair[1])]
    ),
    st.just([]),
)
HEADER = st.one_of(
    st.tuples(st.just("Date"), DATES),
    st.tuples(st.just("Digest"), DIGESTS),
    st.tuples(st.just("Content-Digest"), CONTENT_DIGESTS),
    st.tuples(st.just("Host"), st.sampled_from(["small.example", ""]) | TEXT),
    st.tuples(NAMES, TEXT),
)
PLAUSIBLE = [
    ("Host", "small.example"),
    ("Date", http_date(NOW)),
    ("Digest", digest_header(FOLLOW)),
    ("Content-Digest", content_digest_header(FOLLOW)),
]
HEADERS = st.builds(
    lambda plausible, signature, extra: [*plausible, *signature, *extra],
    st.lists(st.sampled_from(PLAUSIBLE), max_size=4, unique=True),
    SIGNATURES,
    st.lists(HEADER, max_size=4),
)
METHODS = st.sampled_from(["GET", "POST", "post", "PUT", "DELETE"]) | st.text(max_size=8)
VALID_URLS = st.sampled_from(
    [
        "https://small.example/inbox",
        "https://small.example/users/me/outbox?page=true&a=%7E",
        "http://127.0.0.1:8000/users/me/inbox?a=1&a=2",
    ]
)
URLS = st.one_of(
    VALID_URLS,
    st.sampled_from(
        [
            "http://[::1]:8080/p?a=%zz",
            "https://small.example:99999/",
            "https://[::1/",
            "//no-scheme/x",
            "",
            "not a url",
        ]
    ),
    st.builds(lambda p, q: f"https://small.example/{p}?{q}", TEXT, TEXT),
)
BODIES = st.none() | st.binary(max_size=64) | st.just(FOLLOW)
FETCHERS = st.sampled_from(["rsa", "ed25519", "missing"]).map(
    lambda kind: Fetcher(
        KeyNotFound("No such key")
        if kind == "missing"
        else public(rsa_key() if kind == "rsa" else ed_key())
    )
)


@SETTINGS
@given(
    method=METHODS,
    url=URLS,
    headers=HEADERS,
    as_mapping=st.booleans(),
    body=BODIES,
    fetcher=FETCHERS,
    require_digest=st.sampled_from([None, True, False]),
)
def test_verify_request_raises_only_signature_errors(
    method: str,
    url: str,
    headers: list[tuple[str, str]],
    as_mapping: bool,
    body: bytes | None,
    fetcher: Fetcher,
    require_digest: bool | None,
) -> None:
    received = dict(headers) if as_mapping else headers
    try:
        result = asyncio.run(
            verify_request(
                method, url, received, body, fetcher, now=NOW, require_digest=require_digest
            )
        )
    except SignatureError:
        return
    assert isinstance(result, Verified)  # only reachable with a genuine signature


PATH_CHARS = "abcXYZ019-._~!$&'()*+,;=:@/%"
QUERY_CHARS = PATH_CHARS + "?"


@SETTINGS
@given(
    scheme=st.sampled_from(list(Scheme)),
    key_type=st.sampled_from(["rsa", "ed25519"]),
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
    path=st.text(PATH_CHARS, max_size=30),
    query=st.text(QUERY_CHARS, max_size=30),
    port=st.sampled_from(["", ":443", ":8443"]),
    body=st.binary(max_size=300),
    content_type=st.booleans(),
    as_mapping=st.booleans(),
    upper_names=st.booleans(),
    age=st.integers(-3000, 3000),
)
def test_signed_requests_verify(
    scheme: Scheme,
    key_type: str,
    method: str,
    path: str,
    query: str,
    port: str,
    body: bytes,
    content_type: bool,
    as_mapping: bool,
    upper_names: bool,
    age: int,
) -> None:
    key = rsa_key() if key_type == "rsa" else ed_key()
    sent_body = None if method == "GET" else body
    headers = {"Content-Type": AS2} if content_type else {}
    suffix = f"/{path}" + (f"?{query}" if query else "")
    added = sign_request(
        method,
        f"https://Small.Example{port}{suffix}",
        headers,
        sent_body,
        signer(key),
        scheme,
        now=NOW,
    )
    received = [
        (name.upper() if upper_names else name.lower(), value)
        for name, value in {**headers, **added}.items()
    ]
    url = f"https://{added['Host']}{suffix}"
    fetcher = Fetcher(public(key))
    verified = asyncio.run(
        verify_request(
            method,
            url,
            dict(received) if as_mapping else received,
            sent_body,
            fetcher,
            now=NOW + timedelta(seconds=age),
        )
    )
    assert verified == Verified(public(key), scheme, NOW)
    assert fetcher.calls == [(KEY_ID, False)]


@SETTINGS
@given(
    scheme=st.sampled_from(list(Scheme)),
    sent=st.binary(max_size=100),
    received=st.binary(max_size=100),
)
def test_changed_bodies_never_verify(scheme: Scheme, sent: bytes, received: bytes) -> None:
    if sent == received:
        received += b"!"
    url = "https://small.example/inbox"
    added = sign_request("POST", url, {}, sent, signer(ed_key()), scheme, now=NOW)
    fetcher = Fetcher(public(ed_key()))
    try:
        asyncio.run(verify_request("POST", url, added, received, fetcher, now=NOW))
    except DigestMismatch:
        assert fetcher.calls == []
    else:
        raise AssertionError("a changed body verified")


@SETTINGS
@given(
    scheme=st.sampled_from(list(Scheme)),
    index=st.integers(0, 10),
    action=st.sampled_from(["replace", "drop", "repeat", "rename"]),
    value=TEXT,
)
def test_mutated_signed_requests_raise_only_signature_errors(
    scheme: Scheme, index: int, action: str, value: str
) -> None:
    url = "https://small.example/users/me/inbox?a=1"
    headers = {"Content-Type": AS2}
    added = sign_request("POST", url, headers, FOLLOW, signer(rsa_key()), scheme, now=NOW)
    pairs = list({**headers, **added}.items())
    name, original = pairs[index % len(pairs)]
    if action == "replace":
        pairs[index % len(pairs)] = (name, value)
    elif action == "drop":
        del pairs[index % len(pairs)]
    elif action == "repeat":
        pairs.append((name, value))
    else:
        pairs[index % len(pairs)] = (value, original)
    fetcher = Fetcher(public(rsa_key()))
    try:
        verified = asyncio.run(verify_request("POST", url, pairs, FOLLOW, fetcher, now=NOW))
    except SignatureError:
        return
    # Only a change that leaves every signed value as it was may verify.
    assert verified.key == public(rsa_key())
    before, after = HeaderView(list({**headers, **added}.items())), HeaderView(pairs)
    if scheme is Scheme.CAVAGE:
        # A dropped Host falls back to the URL's authority, which is what was signed.
        assert after.get("host") in (before.get("host"), None)
        signed = ["signature", "date", "digest", "content-type"]
        assert all(before.get(name) == after.get(name) for name in signed)
    else:
        # Other labels may be added to the dictionaries; sig1 itself must be intact.
        assert before.get("content-digest") == after.get("content-digest")
        for name in ("signature-input", "signature"):
            assert (
                parse_dictionary(after.get(name) or "")["sig1"]
                == parse_dictionary(before.get(name) or "")["sig1"]
            )
