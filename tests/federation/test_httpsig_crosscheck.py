"""Cross-checks with independent implementations, both directions.

RFC 9421: ``http_message_signatures`` (pyauth). draft-cavage: ``httpsig`` (ahknight),
which only does RSA. Both libraries check ``created``/``Date`` against the real clock,
so these tests sign and verify at the current time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    InvalidSignature,
    MappingKeyResolver,
    algorithms,
)
from httpsig import HeaderSigner, HeaderVerifier

from federation.errors import SignatureInvalid
from federation.httpsig import Scheme, digest_header, http_date, sign_request, verify_request
from tests.federation.httpsig_testkit import (
    AS2,
    FOLLOW,
    KEY_ID,
    Fetcher,
    ed_key,
    private_pem,
    public,
    public_pem,
    rsa_key,
    signer,
)

URL = "https://remote.example/users/bob/inbox?x=1"
PATH = "/users/bob/inbox?x=1"


@dataclass
class Message:
    """The request shape http_message_signatures reads: method, url and mutable headers."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)


def pyauth_algorithm(key_type: str) -> type[algorithms.HTTPSignatureAlgorithm]:
    return algorithms.RSA_V1_5_SHA256 if key_type == "rsa" else algorithms.ED25519


def private_key(key_type: str):
    return rsa_key() if key_type == "rsa" else ed_key()


@pytest.mark.parametrize("key_type", ["rsa", "ed25519"])
@pytest.mark.parametrize("include_alg", [False, True])
@pytest.mark.parametrize(
    "components",
    [("@method", "@target-uri", "content-digest"), ("@method", "@authority", "@target-uri")],
)
async def test_pyauth_signature_verifies_with_ours(
    key_type: str, include_alg: bool, components: tuple[str, ...]
) -> None:
    key = private_key(key_type)
    message = Message("POST", URL, {"Host": "remote.example", "Content-Type": AS2})
    resolver = MappingKeyResolver(public_keys={}, private_keys={KEY_ID: key})
    theirs = HTTPMessageSigner(
        signature_algorithm=pyauth_algorithm(key_type), key_resolver=resolver
    )
    theirs.sign(
        message,
        key_id=KEY_ID,
        label="sig1",
        include_alg=include_alg,
        covered_component_ids=components,
        body=FOLLOW,  # adds a SHA-256 Content-Digest (and covers it)
        created=datetime.now(UTC),
    )
    assert "content-digest" in message.headers["Signature-Input"]
    fetcher = Fetcher(public(key))
    verified = await verify_request("POST", URL, message.headers, FOLLOW, fetcher)
    assert verified.scheme is Scheme.RFC9421
    assert fetcher.calls == [(KEY_ID, False)]
    with pytest.raises(SignatureInvalid):
        await verify_request("PUT", URL, message.headers, FOLLOW, fetcher)


@pytest.mark.parametrize("key_type", ["rsa", "ed25519"])
@pytest.mark.parametrize(("method", "body"), [("POST", FOLLOW), ("GET", None)])
def test_our_rfc9421_signature_verifies_with_pyauth(
    key_type: str, method: str, body: bytes | None
) -> None:
    key = private_key(key_type)
    headers = {"Content-Type": AS2} if body else {}
    headers.update(sign_request(method, URL, headers, body, signer(key), Scheme.RFC9421))
    message = Message(method, URL, headers)
    resolver = MappingKeyResolver(public_keys={KEY_ID: key.public_key()}, private_keys={})
    theirs = HTTPMessageVerifier(
        signature_algorithm=pyauth_algorithm(key_type), key_resolver=resolver
    )
    required = ("@method", "@target-uri") + (("content-digest",) if body else ())
    [result] = theirs.verify(message, body=body or b"", require_components=required)
    assert result.label == "sig1"
    assert result.parameters["keyid"] == KEY_ID
    assert result.body == body
    message.url = URL.replace("x=1", "x=2")
    with pytest.raises(InvalidSignature):
        theirs.verify(message, body=body or b"")


@pytest.mark.parametrize("sign_header", ["signature", "authorization"])
@pytest.mark.parametrize(
    "names",
    [
        ["(request-target)", "host", "date", "digest", "content-type"],
        ["host", "date", "content-type", "digest", "(request-target)"],
    ],
)
async def test_httpsig_cavage_signature_verifies_with_ours(
    sign_header: str, names: list[str]
) -> None:
    headers = {
        "Host": "remote.example",
        "Date": http_date(datetime.now(UTC)),
        "Digest": digest_header(FOLLOW),
        "Content-Type": AS2,
    }
    theirs = HeaderSigner(
        KEY_ID,
        private_pem(rsa_key()),
        algorithm="rsa-sha256",
        headers=names,
        sign_header=sign_header,
    )
    signed = theirs.sign(headers, method="POST", path=PATH)
    fetcher = Fetcher(public(rsa_key()))
    verified = await verify_request("POST", URL, dict(signed), FOLLOW, fetcher)
    assert verified.scheme is Scheme.CAVAGE
    tampered = {**signed, "Content-Type": "text/html"}
    with pytest.raises(SignatureInvalid):
        await verify_request("POST", URL, tampered, FOLLOW, fetcher)


@pytest.mark.parametrize(("method", "body"), [("POST", FOLLOW), ("GET", None)])
def test_our_cavage_signature_verifies_with_httpsig(method: str, body: bytes | None) -> None:
    headers = {"Content-Type": AS2} if body else {"Accept": AS2}
    headers.update(sign_request(method, URL, headers, body, signer(rsa_key()), Scheme.CAVAGE))
    required = ["(request-target)", "host", "date"] + (["digest"] if body else [])
    theirs = HeaderVerifier(
        headers,
        public_pem(rsa_key()),
        required_headers=required,
        method=method,
        path=PATH,
        sign_header="signature",
    )
    assert theirs.verify() is True
    wrong_path = HeaderVerifier(
        headers, public_pem(rsa_key()), method=method, path="/elsewhere", sign_header="signature"
    )
    assert wrong_path.verify() is False
