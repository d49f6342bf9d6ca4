"""Errors raised by the federation package.

FederationError
├── SignatureError            a request's signature cannot be accepted (HTTP 401)
│   ├── SignatureMissing      no Signature / Signature-Input header
│   ├── SignatureMalformed    headers present but unparsable (HTTP 400)
│   ├── SignatureExpired      Date / created outside the accepted window
│   ├── DigestMismatch        Digest / Content-Digest absent, unsupported or wrong
│   ├── SignatureInvalid      the cryptographic check failed
│   └── KeyError_             the signing key could not be had
│       ├── KeyNotFound       the key or its owner does not exist (404, no such key)
│       ├── KeyGone           the key's owner answered 410 Gone
│       └── KeyUnavailable    a temporary failure fetching the key (HTTP 503)
├── FetchError                an outbound request failed
│   ├── BlockedAddress        the target resolves to a refused (private, loopback...) address
│   ├── ResponseTooLarge      the body exceeded the size cap
│   ├── FetchStatusError      the peer answered a non-success status (``.status``)
│   └── InvalidDocument       the body is not the document that was asked for
├── ParseError                an ActivityStreams document is malformed
└── WebFingerError            a WebFinger lookup failed or did not loop back
"""

from __future__ import annotations


class FederationError(Exception):
    """Base class of every error raised by ``federation``."""


class SignatureError(FederationError):
    """A request's HTTP signature cannot be accepted."""


class SignatureMissing(SignatureError):
    """The request carries no signature."""


class SignatureMalformed(SignatureError):
    """The signature headers are present but cannot be parsed."""


class SignatureExpired(SignatureError):
    """The signature's date lies outside the accepted window."""


class DigestMismatch(SignatureError):
    """The body digest is missing, unsupported or does not match the body."""


class SignatureInvalid(SignatureError):
    """The cryptographic verification failed."""


class KeyError_(SignatureError):
    """The key that signed the request could not be obtained."""


class KeyNotFound(KeyError_):
    """The key, or the actor owning it, does not exist."""


class KeyGone(KeyError_):
    """The key's owner answered 410 Gone (a deleted actor)."""

    def __init__(self, message: str, key_id: str = "") -> None:
        super().__init__(message)
        self.key_id = key_id


class KeyUnavailable(KeyError_):
    """A temporary failure while fetching the key."""


class FetchError(FederationError):
    """An outbound HTTP request failed."""


class BlockedAddress(FetchError):
    """The target host resolves to an address outbound requests may not reach."""


class ResponseTooLarge(FetchError):
    """The response body exceeded the configured cap."""


class FetchStatusError(FetchError):
    """The peer answered with a non-success status."""

    def __init__(self, status: int, url: str) -> None:
        super().__init__(f"{url} answered {status}")
        self.status = status
        self.url = url


class InvalidDocument(FetchError):
    """The response is not the ActivityStreams document that was asked for."""


class ParseError(FederationError):
    """An ActivityStreams document is malformed."""


class WebFingerError(FederationError):
    """A WebFinger lookup failed or did not loop back to the actor."""
