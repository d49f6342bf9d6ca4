"""RFC 9421 HTTP message signatures for requests, as Mastodon 4.5+ checks and sends them.

``Signature-Input`` and ``Signature`` are structured-field dictionaries keyed by a
label; the signature base has one ``"component": value`` line per covered
component and ends with the ``"@signature-params"`` line. Content bodies are bound
by an RFC 9530 ``Content-Digest``. Sources: RFC 9421 §2-3, Mastodon
``app/lib/signed_request.rb`` (HttpMessageSignature), Linzer ``common.rb``.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeGuard
from urllib.parse import quote, unquote_plus

from federation.errors import DigestMismatch, SignatureInvalid, SignatureMalformed
from federation.httpsig_common import (
    ED25519,
    MAX_SIGNATURE_FIELD,
    RSA_PSS_SHA512,
    RSA_V1_5_SHA256,
    HeaderView,
    KeyFetcher,
    PublicKey,
    Scheme,
    Signer,
    Target,
    Verified,
    check_digests,
    check_window,
    content_digest_header,
    default_algorithm,
    encode_text,
    has_line_break,
    http_date,
    needs_digest,
    sign_bytes,
    verify_bytes,
    verify_with_rotation,
)
from federation.httpsig_sfv import (
    BareItem,
    InnerList,
    Item,
    SFError,
    Token,
    parse_dictionary,
    serialize_inner_list,
    serialize_item,
)

LABEL = "sig1"  # Linzer's default, what Mastodon sends
MAX_COMPONENTS = 32
_ALGORITHMS = (RSA_V1_5_SHA256, RSA_PSS_SHA512, ED25519)


def signature_base(inner: InnerList, target: Target, headers: HeaderView) -> str:
    """Return the RFC 9421 signature base for the components and parameters in ``inner``.

    Raises SignatureMalformed for invalid component identifiers and SignatureInvalid for
    components this module does not support or that the request lacks. Raises SFError
    when the parameters cannot be serialized (only possible for locally built input).
    """
    if len(inner.items) > MAX_COMPONENTS:
        raise SignatureMalformed("Too many covered components")
    lines = []
    seen: set[str] = set()
    for item in inner.items:
        name = item.value
        if not isinstance(name, str) or isinstance(name, Token):
            raise SignatureMalformed("Component identifiers must be strings")
        if name != name.lower() or name == "@signature-params":
            raise SignatureMalformed("Invalid component identifier")
        identifier = serialize_item(item)
        if identifier in seen:
            raise SignatureMalformed("Component covered twice")
        seen.add(identifier)
        value = _component_value(name, item.params, target, headers)
        if has_line_break(value):
            raise SignatureMalformed("Covered value holds a line break")
        lines.append(f"{identifier}: {value}")
    lines.append(f'"@signature-params": {serialize_inner_list(inner)}')
    return "\n".join(lines)


async def verify_rfc9421(
    target: Target,
    headers: HeaderView,
    body: bytes,
    fetch_key: KeyFetcher,
    *,
    now: datetime,
    require_digest: bool,
) -> Verified:
    """Verify an RFC 9421 signature; return the key, scheme and ``created`` time.

    Uses the first signature whose parameters carry a ``keyid``. Before any key fetch it
    checks the syntax, ``created``/``keyid``/``alg``, the covered components (supported,
    present, and including ``@method``, ``@target-uri`` and, when a digest is required,
    ``content-digest``), the time window and the Content-Digest. Raises the SignatureError
    family; errors of ``fetch_key`` propagate.
    """
    inner, signature = _select_signature(headers)
    params = inner.params
    key_id = params["keyid"]
    if not isinstance(key_id, str) or not key_id:
        raise SignatureMalformed("keyid must be a string")
    created, expires = params.get("created"), params.get("expires")
    if not _is_integer(created):
        raise SignatureMalformed("Signature-Input needs a created parameter")
    if expires is not None and not _is_integer(expires):
        raise SignatureMalformed("Invalid expires parameter")
    alg = params.get("alg")
    if alg is not None and alg not in _ALGORITHMS:
        raise SignatureInvalid("Unsupported signature algorithm (use rsa-v1_5-sha256 or ed25519)")
    data = encode_text(signature_base(inner, target, headers))
    covered = {item.value for item in inner.items if not item.params}
    if "@method" not in covered or "@target-uri" not in covered:
        raise SignatureInvalid("Signature must cover @method and @target-uri")
    if require_digest and "content-digest" not in covered:
        raise DigestMismatch("Signature must cover content-digest when there is a body")
    check_window(created, expires, now)
    if "content-digest" in covered:
        _check_content_digest(headers, body)

    def check(key: PublicKey) -> bool:
        algorithm = alg if isinstance(alg, str) else default_algorithm(key.key)
        return verify_bytes(key.key, algorithm, signature, data)

    key = await verify_with_rotation(key_id, fetch_key, check)
    return Verified(key, Scheme.RFC9421, datetime.fromtimestamp(created, UTC))


def sign_rfc9421(
    target: Target, headers: HeaderView, body: bytes | None, signer: Signer, now: datetime
) -> dict[str, str]:
    """Return the headers that sign a request with RFC 9421 the way Mastodon 4.7 does.

    Label ``sig1``; components ``("@method" "@target-uri" "content-digest")`` with a body,
    ``("@method" "@target-uri")`` without; parameters ``created`` then ``keyid``, no
    ``alg``. Raises ValueError (SFError) when the key id is not printable ASCII.
    """
    added: dict[str, str] = {}
    if "host" not in headers:
        added["Host"] = target.authority
    added["Date"] = http_date(now)
    components = ["@method", "@target-uri"]
    if needs_digest(target.method, body):
        added["Content-Digest"] = content_digest_header(body or b"")
        components.append("content-digest")
    params: dict[str, BareItem] = {"created": int(now.timestamp()), "keyid": signer.key_id}
    inner = InnerList(tuple(Item(name) for name in components), params)
    base = signature_base(inner, target, headers.replaced(added))
    signature = base64.b64encode(sign_bytes(signer.key, encode_text(base))).decode("ascii")
    added["Signature-Input"] = f"{LABEL}={serialize_inner_list(inner)}"
    added["Signature"] = f"{LABEL}=:{signature}:"
    return added


def _select_signature(headers: HeaderView) -> tuple[InnerList, bytes]:
    """Return the first signature input that has a keyid, and its signature bytes."""
    raw_input, raw_signature = headers.get("signature-input"), headers.get("signature")
    if raw_input is None or raw_signature is None:
        raise SignatureMalformed("Signature-Input needs a Signature header")
    if max(len(raw_input), len(raw_signature)) > MAX_SIGNATURE_FIELD:
        raise SignatureMalformed("Signature header too long")
    try:
        inputs, signatures = parse_dictionary(raw_input), parse_dictionary(raw_signature)
    except SFError as exc:
        raise SignatureMalformed("Unparsable Signature-Input or Signature header") from exc
    for label, member in inputs.items():
        if isinstance(member, InnerList) and "keyid" in member.params:
            signature = signatures.get(label)
            if not isinstance(signature, Item) or not isinstance(signature.value, bytes):
                raise SignatureMalformed("Signature lacks the value for its Signature-Input")
            return member, signature.value
    raise SignatureMalformed("Signature-Input has no signature with a keyid")


def _component_value(
    name: str, params: dict[str, BareItem], target: Target, headers: HeaderView
) -> str:
    """Return the value of one covered component (RFC 9421 §2.1-2.2)."""
    if name == "@query-param":
        param_name = params.get("name")
        if set(params) != {"name"} or not isinstance(param_name, str):
            raise SignatureInvalid("@query-param needs exactly a name parameter")
        return _query_param(target.query, param_name)
    if params:
        raise SignatureInvalid("Unsupported component parameter")
    derived: dict[str, Callable[[], str]] = {
        "@method": target.method.upper,
        "@target-uri": lambda: target.target_uri,
        "@authority": lambda: target.authority,
        "@scheme": lambda: target.scheme,
        "@request-target": lambda: target.request_target,
        "@path": lambda: target.path,
        "@query": lambda: f"?{target.query}",
    }
    if name.startswith("@"):
        if name not in derived:
            raise SignatureInvalid(f"Unsupported derived component {name[:40]}")
        return derived[name]()
    value = headers.get(name)
    if value is None and name == "content-digest":
        raise DigestMismatch("Content-Digest header missing")
    if value is None:
        raise SignatureInvalid(f"Covered field {name[:40]} is missing")
    return value


def _query_param(query: str, name: str) -> str:
    """Return the re-encoded value of the one query parameter called ``name``."""
    try:
        wanted = _form_encode(unquote_plus(name))
        values = [
            value
            for key, _, value in (pair.partition("=") for pair in query.split("&") if pair)
            if _form_encode(unquote_plus(key)) == wanted
        ]
        if len(values) != 1:
            raise SignatureInvalid("@query-param must name exactly one query parameter")
        return _form_encode(unquote_plus(values[0]))
    except UnicodeError as exc:
        raise SignatureInvalid("Undecodable query parameter") from exc


def _form_encode(text: str) -> str:
    # RFC 9421 §2.2.8: the application/x-www-form-urlencoded percent-encode set, with
    # spaces as %20 (what quote() does, apart from leaving "~" alone).
    return quote(text, safe="*").replace("~", "%7E")


def _check_content_digest(headers: HeaderView, body: bytes) -> None:
    """Check the Content-Digest dictionary against ``body``."""
    value = headers.get("content-digest")
    if value is None:
        raise DigestMismatch("Content-Digest header missing")
    try:
        members = parse_dictionary(value)
    except SFError as exc:
        raise SignatureMalformed("Unparsable Content-Digest header") from exc
    offered: dict[str, bytes] = {}
    for algorithm, member in members.items():
        if not isinstance(member, Item) or not isinstance(member.value, bytes):
            raise SignatureMalformed("Unparsable Content-Digest header")
        offered[algorithm] = member.value
    check_digests(offered, body, "Content-Digest")


def _is_integer(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)
