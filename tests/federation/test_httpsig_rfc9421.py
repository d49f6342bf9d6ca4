"""RFC 9421 signatures: the RFC's own test vectors, Mastodon's format and acceptance rules."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from federation.errors import (
    DigestMismatch,
    KeyGone,
    SignatureExpired,
    SignatureInvalid,
    SignatureMalformed,
)
from federation.httpsig import Scheme, content_digest_header, sign_request, verify_request
from federation.httpsig_common import HeaderView, parse_target, verify_bytes
from federation.httpsig_rfc9421 import signature_base
from federation.httpsig_sfv import InnerList, parse_dictionary
from tests.federation.httpsig_testkit import (
    FOLLOW,
    KEY_ID,
    NOW,
    TEST_KEY_ED25519_PRIVATE,
    TEST_KEY_ED25519_PUBLIC,
    TEST_KEY_RSA_PRIVATE,
    TEST_KEY_RSA_PSS_PUBLIC,
    TEST_SHARED_SECRET,
    Fetcher,
    ed_key,
    public,
    raw_sign,
    rsa_key,
    signer,
)

# --- RFC 9421 Appendix B.2: the test-request and its signatures -------------------------

RFC_URL = "https://example.com/foo?param=Value&Pet=dog"
RFC_DIGEST = (
    "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+"
    "AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:"
)
RFC_HEADERS = [
    ("Host", "example.com"),
    ("Date", "Tue, 20 Apr 2021 02:07:55 GMT"),
    ("Content-Type", "application/json"),
    ("Content-Digest", RFC_DIGEST),
    ("Content-Length", "18"),
]
RFC_BODY = b'{"hello": "world"}'
RFC_CREATED = datetime.fromtimestamp(1618884473, UTC)


def rfc_base(member: str, method: str = "POST", url: str = RFC_URL, headers=None) -> str:
    """Our signature base for the Signature-Input member text ``label=(...)...``."""
    label = member.split("=", 1)[0]
    inner = parse_dictionary(member)[label]
    assert isinstance(inner, InnerList)
    return signature_base(inner, parse_target(method, url), HeaderView(headers or RFC_HEADERS))


B21_INPUT = 'sig-b21=();created=1618884473;keyid="test-key-rsa-pss";nonce="b3k2pp5k7z-50gnwp.yemd"'
B21_BASE = (
    '"@signature-params": ();created=1618884473;keyid="test-key-rsa-pss"'
    ';nonce="b3k2pp5k7z-50gnwp.yemd"'
)
B21_SIGNATURE = (
    "d2pmTvmbncD3xQm8E9ZV2828BjQWGgiwAaw5bAkgibUopemLJcWDy/lkbbHAve4cRAtx31Iq786U7it++wgGxbtRxf8U"
    "dx7zFZsckzXaJMkA7ChG52eSkFxykJeNqsrWH5S+oxNFlD4dzVuwe8DhTSja8xxbR/Z2cOGdCbzR72rgFWhzx2VjBqJz"
    "sPLMIQKhO4DGezXehhWwE56YCE+O6c0mKZsfxVrogUvA4HELjVKWmAvtl6UnCh8jYzuVG5WSb/QEVPnP5TmcAnLH1g+s"
    "++v6d4s8m0gCw1fV5/SITLq9mhho8K3+7EPYTU8IU1bLhdxO5Nyt8C8ssinQ98Xw9Q=="
)
B22_INPUT = (
    'sig-b22=("@authority" "content-digest" "@query-param";name="Pet")'
    ';created=1618884473;keyid="test-key-rsa-pss";tag="header-example"'
)
B22_BASE = (
    '"@authority": example.com\n'
    f'"content-digest": {RFC_DIGEST}\n'
    '"@query-param";name="Pet": dog\n'
    '"@signature-params": ("@authority" "content-digest" "@query-param";name="Pet")'
    ';created=1618884473;keyid="test-key-rsa-pss";tag="header-example"'
)
B22_SIGNATURE = (
    "LjbtqUbfmvjj5C5kr1Ugj4PmLYvx9wVjZvD9GsTT4F7GrcQEdJzgI9qHxICagShLRiLMlAJjtq6N4CDfKtjvuJyE5qH7"
    "KT8UCMkSowOB4+ECxCmT8rtAmj/0PIXxi0A0nxKyB09RNrCQibbUjsLS/2YyFYXEu4TRJQzRw1rLEuEfY17SARYhpTla"
    "qwZVtR8NV7+4UKkjqpcAoFqWFQh62s7Cl+H2fjBSpqfZUJcsIk4N6wiKYd4je2U/lankenQ99PZfB4jY3I5rSV2DSBVk"
    "SFsURIjYErOs0tFTQosMTAoxk//0RoKUqiYY8Bh0aaUEb0rQl3/XaVe4bXTugEjHSw=="
)
B23_INPUT = (
    'sig-b23=("date" "@method" "@path" "@query" "@authority" "content-type" "content-digest" '
    '"content-length");created=1618884473;keyid="test-key-rsa-pss"'
)
B23_BASE = (
    '"date": Tue, 20 Apr 2021 02:07:55 GMT\n'
    '"@method": POST\n'
    '"@path": /foo\n'
    '"@query": ?param=Value&Pet=dog\n'
    '"@authority": example.com\n'
    '"content-type": application/json\n'
    f'"content-digest": {RFC_DIGEST}\n'
    '"content-length": 18\n'
    '"@signature-params": ("date" "@method" "@path" "@query" "@authority" "content-type" '
    '"content-digest" "content-length");created=1618884473;keyid="test-key-rsa-pss"'
)
B23_SIGNATURE = (
    "bbN8oArOxYoyylQQUU6QYwrTuaxLwjAC9fbY2F6SVWvh0yBiMIRGOnMYwZ/5MR6fb0Kh1rIRASVxFkeGt683+qRpRRU5"
    "p2voTp768ZrCUb38K0fUxN0O0iC59DzYx8DFll5GmydPxSmme9v6ULbMFkl+V5B1TP/yPViV7KsLNmvKiLJH1pFkh/aY"
    "A2HXXZzNBXmIkoQoLd7YfW91kE9o/CCoC1xMy7JA1ipwvKvfrs65ldmlu9bpG6A9BmzhuzF8Eim5f8ui9eH8LZH896+Q"
    "IF61ka39VBrohr9iyMUJpvRX2Zbhl5ZJzSRxpJyoEZAFL2FUo5fTIztsDZKEgM4cUA=="
)
B25_INPUT = (
    'sig-b25=("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret"'
)
B25_BASE = (
    '"date": Tue, 20 Apr 2021 02:07:55 GMT\n'
    '"@authority": example.com\n'
    '"content-type": application/json\n'
    '"@signature-params": ("date" "@authority" "content-type");created=1618884473'
    ';keyid="test-shared-secret"'
)
B26_INPUT = (
    'sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length")'
    ';created=1618884473;keyid="test-key-ed25519"'
)
B26_BASE = (
    '"date": Tue, 20 Apr 2021 02:07:55 GMT\n'
    '"@method": POST\n'
    '"@path": /foo\n'
    '"@authority": example.com\n'
    '"content-type": application/json\n'
    '"content-length": 18\n'
    '"@signature-params": ("date" "@method" "@path" "@authority" "content-type" '
    '"content-length");created=1618884473;keyid="test-key-ed25519"'
)
B26_SIGNATURE = (
    "wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw=="
)


def pss_public() -> RSAPublicKey:
    key = serialization.load_pem_public_key(TEST_KEY_RSA_PSS_PUBLIC)
    assert isinstance(key, RSAPublicKey)
    return key


def ed25519_test_key() -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(TEST_KEY_ED25519_PRIVATE, password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return key


def test_rfc_test_request_digest_is_sha512_of_the_body() -> None:
    digest = base64.b64encode(hashlib.sha512(RFC_BODY).digest()).decode()
    assert RFC_DIGEST == f"sha-512=:{digest}:"


@pytest.mark.parametrize(
    ("member", "base", "signature"),
    [
        (B21_INPUT, B21_BASE, B21_SIGNATURE),
        (B22_INPUT, B22_BASE, B22_SIGNATURE),
        (B23_INPUT, B23_BASE, B23_SIGNATURE),
    ],
    ids=["B.2.1", "B.2.2", "B.2.3"],
)
def test_rfc9421_rsa_pss_vectors(member: str, base: str, signature: str) -> None:
    assert rfc_base(member) == base
    # RSA-PSS is randomised: the RFC's signature must verify over our base.
    assert verify_bytes(pss_public(), "rsa-pss-sha512", base64.b64decode(signature), base.encode())
    assert not verify_bytes(pss_public(), "rsa-pss-sha512", base64.b64decode(signature), b"x")


def test_rfc9421_b25_hmac_vector_base() -> None:
    assert rfc_base(B25_INPUT) == B25_BASE
    mac = hmac.new(TEST_SHARED_SECRET, B25_BASE.encode(), hashlib.sha256).digest()
    assert base64.b64encode(mac).decode() == "pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8="


def test_rfc9421_b26_ed25519_vector_byte_for_byte() -> None:
    assert rfc_base(B26_INPUT) == B26_BASE
    # Ed25519 is deterministic: signing our base must give the RFC's exact bytes.
    assert raw_sign(ed25519_test_key(), B26_BASE.encode()) == B26_SIGNATURE
    public_key = serialization.load_pem_public_key(TEST_KEY_ED25519_PUBLIC)
    assert public_key == ed25519_test_key().public_key()


# RFC 9421 Appendix B.4: a GET with a repeated Accept field, signed with Ed25519.
TRANSFORM_INPUT = (
    'transform=("@method" "@path" "@authority" "accept");created=1618884473'
    ';keyid="test-key-ed25519"'
)
TRANSFORM_BASE = (
    '"@method": GET\n'
    '"@path": /demo\n'
    '"@authority": example.org\n'
    '"accept": application/json, */*\n'
    '"@signature-params": ("@method" "@path" "@authority" "accept");created=1618884473'
    ';keyid="test-key-ed25519"'
)
TRANSFORM_SIGNATURE = (
    "ZT1kooQsEHpZ0I1IjCqtQppOmIqlJPeo7DHR3SoMn0s5JZ1eRGS0A+vyYP9t/LXlh5QMFFQ6cpLt2m0pmj3NDA=="
)
TRANSFORM_URL = "https://example.org/demo?name1=Value1&Name2=value2"


@pytest.mark.parametrize(
    "headers",
    [
        [("Host", "example.org"), ("Accept", "application/json"), ("Accept", "*/*")],
        [("Accept", "application/json"), ("Accept", "*/*"), ("Host", "example.org")],
        [("Host", "example.org"), ("Accept", "application/json, */*")],
    ],
    ids=["original", "reordered", "collapsed"],
)
def test_rfc9421_transformation_vector(headers: list[tuple[str, str]]) -> None:
    headers = [*headers, ("Date", "Fri, 15 Jul 2022 14:24:55 GMT")]
    base = rfc_base(TRANSFORM_INPUT, "GET", TRANSFORM_URL, headers)
    assert base == TRANSFORM_BASE
    assert raw_sign(ed25519_test_key(), base.encode()) == TRANSFORM_SIGNATURE


def test_rfc9421_transformation_vector_field_order_matters() -> None:
    headers = [("Host", "example.org"), ("Accept", "*/*"), ("Accept", "application/json")]
    assert rfc_base(TRANSFORM_INPUT, "GET", TRANSFORM_URL, headers) != TRANSFORM_BASE


# RFC 9421 §4.3: a proxy's rsa-v1_5-sha256 signature with test-key-rsa (deterministic).
PROXY_INPUT = (
    'proxy_sig=("@method" "@authority" "@path" "content-digest" "content-type" "content-length" '
    '"forwarded");created=1618884480;keyid="test-key-rsa";alg="rsa-v1_5-sha256";expires=1618884540'
)
PROXY_HEADERS = [
    ("Host", "origin.host.internal.example"),
    ("Date", "Tue, 20 Apr 2021 02:07:56 GMT"),
    ("Content-Type", "application/json"),
    ("Content-Length", "18"),
    ("Forwarded", "for=192.0.2.123;host=example.com;proto=https"),
    ("Content-Digest", RFC_DIGEST),
]
PROXY_BASE = (
    '"@method": POST\n'
    '"@authority": origin.host.internal.example\n'
    '"@path": /foo\n'
    f'"content-digest": {RFC_DIGEST}\n'
    '"content-type": application/json\n'
    '"content-length": 18\n'
    '"forwarded": for=192.0.2.123;host=example.com;proto=https\n'
    '"@signature-params": ("@method" "@authority" "@path" "content-digest" "content-type" '
    '"content-length" "forwarded");created=1618884480;keyid="test-key-rsa"'
    ';alg="rsa-v1_5-sha256";expires=1618884540'
)
PROXY_SIGNATURE = (
    "S6ZzPXSdAMOPjN/6KXfXWNO/f7V6cHm7BXYUh3YD/fRad4BCaRZxP+JH+8XY1I6+8Cy+CM5g92iHgxtRPz+MjniOaYmd"
    "kDcnL9cCpXJleXsOckpURl49GwiyUpZ10KHgOEe11sx3G2gxI8S0jnxQB+Pu68U9vVcasqOWAEObtNKKZd8tSFu7LB5Y"
    "Av0RAGhB8tmpv7sFnIm9y+7X5kXQfi8NMaZaA8i2ZHwpBdg7a6CMfwnnrtflzvZdXAsD3LH2TwevU+/PBPv0B6NMNk93"
    "wUs/vfJvye+YuI87HU38lZHowtznbLVdp770I6VHR6WfgS9ddzirrswsE1w5o0LV/g=="
)


def test_rfc9421_rsa_v1_5_vector_byte_for_byte() -> None:
    url = "https://origin.host.internal.example/foo?param=Value&Pet=dog"
    base = rfc_base(PROXY_INPUT, "POST", url, PROXY_HEADERS)
    assert base == PROXY_BASE
    key = serialization.load_pem_private_key(TEST_KEY_RSA_PRIVATE, password=None)
    assert isinstance(key, RSAPrivateKey)
    assert raw_sign(key, base.encode()) == PROXY_SIGNATURE


async def test_verify_request_rejects_rfc_vector_that_does_not_cover_target_uri() -> None:
    signature = f"sig-b26=:{B26_SIGNATURE}:"
    headers = [*RFC_HEADERS, ("Signature-Input", B26_INPUT), ("Signature", signature)]
    fetcher = Fetcher(public(ed25519_test_key(), "test-key-ed25519"))
    with pytest.raises(SignatureInvalid, match="@target-uri"):
        await verify_request("POST", RFC_URL, headers, RFC_BODY, fetcher, now=RFC_CREATED)
    assert fetcher.calls == []


# --- interop.md 3.8: exactly what Mastodon 4.7 sends ---------------------------------------

INTEROP_3_8_INPUT = (
    'sig1=("@method" "@target-uri" "content-digest");created=1787306400'
    ';keyid="https://mastodon.example/users/bob#main-key"'
)
INTEROP_3_8_BASE = (
    '"@method": POST\n'
    '"@target-uri": https://small.example/inbox\n'
    '"content-digest": sha-256=:aLuSRyePOxP0LUQYgmNvzDMRtmxpN0mY+bU83mDtjUo=:\n'
    '"@signature-params": ("@method" "@target-uri" "content-digest");created=1787306400'
    ';keyid="https://mastodon.example/users/bob#main-key"'
)


def test_sign_request_reproduces_the_interop_signature_base() -> None:
    bob = "https://mastodon.example/users/bob#main-key"
    url = "https://small.example/inbox"
    added = sign_request("POST", url, {}, FOLLOW, signer(rsa_key(), bob), Scheme.RFC9421, now=NOW)
    expected = raw_sign(rsa_key(), INTEROP_3_8_BASE.encode())
    assert added == {
        "Host": "small.example",
        "Date": "Fri, 21 Aug 2026 10:00:00 GMT",
        "Content-Digest": "sha-256=:aLuSRyePOxP0LUQYgmNvzDMRtmxpN0mY+bU83mDtjUo=:",
        "Signature-Input": INTEROP_3_8_INPUT,
        "Signature": f"sig1=:{expected}:",
    }
    headers = [(n, v) for n, v in added.items()]
    assert rfc_base(INTEROP_3_8_INPUT, "POST", url, headers) == INTEROP_3_8_BASE


def test_sign_request_get_covers_method_and_target_uri_only() -> None:
    url = "https://small.example:8443/users/me/outbox?page=true"
    added = sign_request("GET", url, {}, None, signer(ed_key()), Scheme.RFC9421, now=NOW)
    assert added["Host"] == "small.example:8443"
    assert "Content-Digest" not in added
    assert added["Signature-Input"] == (
        f'sig1=("@method" "@target-uri");created=1787306400;keyid="{KEY_ID}"'
    )
    base = (
        f'"@method": GET\n"@target-uri": {url}\n'
        f'"@signature-params": ("@method" "@target-uri");created=1787306400;keyid="{KEY_ID}"'
    )
    assert added["Signature"] == f"sig1=:{raw_sign(ed_key(), base.encode())}:"


def test_sign_request_rejects_key_ids_rfc9421_cannot_carry() -> None:
    with pytest.raises(ValueError):
        sign_request(
            "GET", "https://a.example/", {}, None, signer(ed_key(), "k\u00e9y"), Scheme.RFC9421
        )


# --- verification -------------------------------------------------------------------------

INBOX = "https://small.example/users/me/inbox"
POST_HEADERS = [
    ("Host", "small.example"),
    ("Content-Type", "application/activity+json"),
    ("Content-Digest", content_digest_header(FOLLOW)),
]
COVERED = '("@method" "@target-uri" "content-digest")'
GOOD_PARAMS = f';created={int(NOW.timestamp()) - 30};keyid="{KEY_ID}"'


def peer_signed(
    member: str,
    *,
    key=None,
    headers=None,
    method: str = "POST",
    url: str = INBOX,
    pss: bool = False,
) -> list[tuple[str, str]]:
    """Headers as an RFC 9421 peer sends them; ``member`` is ``label=(...);params``."""
    headers = list(POST_HEADERS if headers is None else headers)
    label = member.split("=", 1)[0]
    inner = parse_dictionary(member)[label]
    assert isinstance(inner, InnerList)
    base = signature_base(inner, parse_target(method, url), HeaderView(headers)).encode()
    key = key or rsa_key()
    if pss:
        mgf = padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=64)
        signature = base64.b64encode(key.sign(base, mgf, hashes.SHA512())).decode()
    else:
        signature = raw_sign(key, base)
    return [*headers, ("Signature-Input", member), ("Signature", f"{label}=:{signature}:")]


async def verify(pairs, body: bytes | None = FOLLOW, fetcher=None, method="POST", url=INBOX, **kw):
    fetch = fetcher or Fetcher(public(rsa_key()))
    return await verify_request(method, url, pairs, body, fetch, now=NOW, **kw)


@pytest.mark.parametrize("key_type", ["rsa", "ed25519"])
async def test_verify_request_accepts_mastodon_format(key_type: str) -> None:
    key = rsa_key() if key_type == "rsa" else ed_key()
    fetcher = Fetcher(public(key))
    verified = await verify(peer_signed(f"sig1={COVERED}{GOOD_PARAMS}", key=key), fetcher=fetcher)
    assert verified.scheme is Scheme.RFC9421
    assert verified.created == NOW - timedelta(seconds=30)
    assert fetcher.calls == [(KEY_ID, False)]


async def test_verify_request_accepts_more_components_and_alg() -> None:
    member = (
        'sig1=("@method" "@target-uri" "@authority" "@scheme" "@request-target" "@path" '
        '"@query" "content-type" "content-digest")'
        f'{GOOD_PARAMS};alg="rsa-v1_5-sha256";nonce="n";tag="t"'
    )
    url = INBOX + "?a=1"
    assert (await verify(peer_signed(member, url=url), url=url)).scheme is Scheme.RFC9421


async def test_verify_request_accepts_rsa_pss_when_alg_says_so() -> None:
    member = f'sig1={COVERED}{GOOD_PARAMS};alg="rsa-pss-sha512"'
    assert (await verify(peer_signed(member, pss=True))).scheme is Scheme.RFC9421


async def test_verify_request_uses_first_signature_with_a_keyid() -> None:
    good = peer_signed(f"sig2={COVERED}{GOOD_PARAMS}")
    first = 'sig1=("@method");created=1'
    pairs = [
        *POST_HEADERS,
        ("Signature-Input", f"{first}, {good[-2][1]}"),
        ("Signature", f"sig1=:AAAA:, {good[-1][1]}"),
    ]
    assert (await verify(pairs)).scheme is Scheme.RFC9421


async def test_verify_request_accepts_sha512_content_digest() -> None:
    sha512 = base64.b64encode(hashlib.sha512(FOLLOW).digest()).decode()
    headers = [*POST_HEADERS[:2], ("Content-Digest", f"sha-512=:{sha512}:, md5=:AAAA:")]
    pairs = peer_signed(f"sig1={COVERED}{GOOD_PARAMS}", headers=headers)
    assert (await verify(pairs)).scheme is Scheme.RFC9421


async def test_verify_request_rejects_wrong_key_and_refetches_once() -> None:
    fetcher = Fetcher(public(rsa_key(1)))
    with pytest.raises(SignatureInvalid):
        await verify(peer_signed(f"sig1={COVERED}{GOOD_PARAMS}"), fetcher=fetcher)
    assert fetcher.calls == [(KEY_ID, False), (KEY_ID, True)]


async def test_verify_request_refetches_a_rotated_key_rfc9421() -> None:
    fetcher = Fetcher(public(rsa_key(1)), fresh=public(ed_key()))
    pairs = peer_signed(f"sig1={COVERED}{GOOD_PARAMS}", key=ed_key())
    verified = await verify(pairs, fetcher=fetcher)
    assert verified.key == public(ed_key())
    assert fetcher.calls == [(KEY_ID, False), (KEY_ID, True)]


async def test_verify_request_propagates_key_gone_rfc9421() -> None:
    with pytest.raises(KeyGone):
        await verify(peer_signed(f"sig1={COVERED}{GOOD_PARAMS}"), fetcher=Fetcher(KeyGone("gone")))


async def test_verify_request_rejects_a_different_target_uri() -> None:
    pairs = peer_signed(f"sig1={COVERED}{GOOD_PARAMS}")
    with pytest.raises(SignatureInvalid):
        await verify(pairs, url="https://small.example/inbox")


async def test_verify_request_rejects_alg_that_does_not_match_the_key() -> None:
    member = f'sig1={COVERED}{GOOD_PARAMS};alg="ed25519"'
    with pytest.raises(SignatureInvalid):
        await verify(peer_signed(member))


@pytest.mark.parametrize(
    ("member", "error"),
    [
        (f'sig1={COVERED};keyid="{KEY_ID}"', SignatureMalformed),  # no created
        (f"sig1={COVERED};created={int(NOW.timestamp())}", SignatureMalformed),  # no keyid
        (f'sig1={COVERED};created="1";keyid="{KEY_ID}"', SignatureMalformed),
        (f"sig1={COVERED}{GOOD_PARAMS};expires=?1", SignatureMalformed),
        (f"sig1={COVERED};created={int(NOW.timestamp())};keyid=:AAAA:", SignatureMalformed),
        (f'sig1=("@method" "content-digest"){GOOD_PARAMS}', SignatureInvalid),
        (f'sig1=("@target-uri" "content-digest"){GOOD_PARAMS}', SignatureInvalid),
        (f'sig1=("@method" "@target-uri"){GOOD_PARAMS}', DigestMismatch),
        (f'sig1={COVERED}{GOOD_PARAMS};alg="hmac-sha256"', SignatureInvalid),
        (
            f'sig1=("@method" "@target-uri" "content-digest" "x-absent"){GOOD_PARAMS}',
            SignatureInvalid,
        ),
        (
            f'sig1=("@method" "@target-uri" "content-digest" "@status"){GOOD_PARAMS}',
            SignatureInvalid,
        ),
        (f'sig1=("@method" "@target-uri" "content-digest";sf){GOOD_PARAMS}', SignatureInvalid),
        (
            f'sig1=("@method" "@target-uri" "content-digest" "@method"){GOOD_PARAMS}',
            SignatureMalformed,
        ),
        (
            f'sig1=("@method" "@target-uri" "content-digest" "Date"){GOOD_PARAMS}',
            SignatureMalformed,
        ),
        (f"sig1=(@method){GOOD_PARAMS}", SignatureMalformed),
        (
            f"sig1={COVERED};created={int((NOW - timedelta(minutes=70)).timestamp())}"
            f';keyid="{KEY_ID}"',
            SignatureExpired,
        ),
        (
            f"sig1={COVERED};created={int((NOW + timedelta(minutes=61)).timestamp())}"
            f';keyid="{KEY_ID}"',
            SignatureExpired,
        ),
        (f"sig1={COVERED}{GOOD_PARAMS};expires={int(NOW.timestamp()) - 3601}", SignatureExpired),
    ],
)
async def test_verify_request_rfc9421_rejects_before_fetching(member: str, error: type) -> None:
    label = member.split("=", 1)[0]
    pairs = [
        *POST_HEADERS,
        ("Signature-Input", member),
        ("Signature", f"{label}=:{base64.b64encode(b'x' * 256).decode()}:"),
    ]
    fetcher = Fetcher(public(rsa_key()))
    with pytest.raises(error):
        await verify(pairs, fetcher=fetcher)
    assert fetcher.calls == []


async def test_verify_request_honours_a_long_expires() -> None:
    created = int((NOW - timedelta(hours=3)).timestamp())
    member = f'sig1={COVERED};created={created};keyid="{KEY_ID}";expires={created + 4 * 3600}'
    verified = await verify(peer_signed(member))
    assert verified.created == NOW - timedelta(hours=3)


@pytest.mark.parametrize(
    ("digest", "error"),
    [
        (content_digest_header(b"other"), DigestMismatch),
        ("md5=:" + base64.b64encode(hashlib.md5(FOLLOW).digest()).decode() + ":", DigestMismatch),
        (
            "sha-1=:" + base64.b64encode(hashlib.sha1(FOLLOW).digest()).decode() + ":",
            DigestMismatch,
        ),
        (content_digest_header(FOLLOW) + ", sha-512=:AAAA:", DigestMismatch),
        ("SHA-256=:AAAA:", SignatureMalformed),
        ("sha-256=AAAA", SignatureMalformed),
        ("sha-256=:AAAA", SignatureMalformed),
        ("sha-256=(:AAAA:)", SignatureMalformed),
    ],
)
async def test_verify_request_checks_content_digest(digest: str, error: type) -> None:
    headers = [*POST_HEADERS[:2], ("Content-Digest", digest)]
    fetcher = Fetcher(public(rsa_key()))
    with pytest.raises(error):
        await verify(peer_signed(f"sig1={COVERED}{GOOD_PARAMS}", headers=headers), fetcher=fetcher)
    assert fetcher.calls == []


async def test_verify_request_rejects_tampered_body_rfc9421() -> None:
    with pytest.raises(DigestMismatch):
        await verify(peer_signed(f"sig1={COVERED}{GOOD_PARAMS}"), body=b"{}")


async def test_verify_request_rejects_covered_digest_that_is_absent() -> None:
    pairs = [p for p in peer_signed(f"sig1={COVERED}{GOOD_PARAMS}") if p[0] != "Content-Digest"]
    with pytest.raises(DigestMismatch):
        await verify(pairs)


@pytest.mark.parametrize(
    ("signature_input", "signature"),
    [
        (f"sig1={COVERED}{GOOD_PARAMS}", None),
        (f"sig1={COVERED}{GOOD_PARAMS}", "sig2=:AAAA:"),
        (f"sig1={COVERED}{GOOD_PARAMS}", 'sig1="AAAA"'),
        (f"sig1={COVERED}{GOOD_PARAMS},", "sig1=:AAAA:"),
        ("sig1", "sig1=:AAAA:"),
        ("", "sig1=:AAAA:"),
        (f"Sig1={COVERED}{GOOD_PARAMS}", "Sig1=:AAAA:"),
        (f"sig1={COVERED}{GOOD_PARAMS}", "sig1=:AAA*:"),
    ],
)
async def test_verify_request_rejects_malformed_rfc9421_headers(
    signature_input: str, signature: str | None
) -> None:
    pairs = [*POST_HEADERS, ("Signature-Input", signature_input)]
    if signature is not None:
        pairs.append(("Signature", signature))
    fetcher = Fetcher(public(rsa_key()))
    with pytest.raises(SignatureMalformed):
        await verify(pairs, fetcher=fetcher)
    assert fetcher.calls == []


async def test_verify_request_get_needs_no_digest_rfc9421() -> None:
    url = "https://small.example/users/me/outbox?page=true"
    member = f'sig1=("@method" "@target-uri"){GOOD_PARAMS}'
    pairs = peer_signed(member, headers=[("Host", "small.example")], method="GET", url=url)
    verified = await verify(pairs, body=None, method="GET", url=url)
    assert verified.scheme is Scheme.RFC9421


async def test_verify_request_query_param_component() -> None:
    url = "https://small.example/search?q=a%20b+c&n=%7E1&e="
    components = '"@method" "@target-uri" "@query-param";name="q" "@query-param";name="n"'
    member = f"sig1=({components}){GOOD_PARAMS}"
    pairs = peer_signed(member, headers=[], method="GET", url=url)
    inner = parse_dictionary(member)["sig1"]
    assert isinstance(inner, InnerList)
    base = signature_base(inner, parse_target("GET", url), HeaderView([]))
    assert '"@query-param";name="q": a%20b%20c\n"@query-param";name="n": %7E1\n' in base
    assert (await verify(pairs, body=None, method="GET", url=url)).scheme is Scheme.RFC9421
