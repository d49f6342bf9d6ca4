"""A fake remote fediverse behind ``httpx.MockTransport`` for unit tests of edge cases.

It serves actor documents (with their keys) to Myna's outbound fetches, records the POSTs Myna
delivers, and signs requests as one of its actors so tests can POST to Myna's inbox.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from federation.httpsig import Scheme, Signer, digest_header, http_date, sign_request
from federation.httpsig_common import sign_bytes
from federation.keys import (
    ed25519_to_multibase,
    generate_ed25519_key,
    generate_rsa_key,
    public_key_to_pem,
)

AS2 = "application/activity+json"
_KEY_POOL: dict[int, RSAPrivateKey] = {}


def pooled_rsa_key(index: int) -> RSAPrivateKey:
    """The RSA key number ``index`` of a per-process pool: generated once, then reused, so
    tests that make many actors do not pay for key generation each time."""
    if index not in _KEY_POOL:
        _KEY_POOL[index] = generate_rsa_key()
    return _KEY_POOL[index]


@dataclass
class FakeActor:
    id: str
    key: RSAPrivateKey
    inbox: str
    document: dict[str, Any]

    @property
    def key_id(self) -> str:
        return f"{self.id}#main-key"

    @property
    def signer(self) -> Signer:
        return Signer(self.key_id, self.key)


@dataclass
class FakeRemote:
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)  # URL -> forced status
    posts: list[httpx.Request] = field(default_factory=list)
    gets: list[httpx.Request] = field(default_factory=list)
    inbox_status: Callable[[httpx.Request], int] = lambda request: 202
    # Extra response headers of an inbox POST (e.g. Retry-After), decided per request.
    inbox_headers: Callable[[httpx.Request], dict[str, str]] = lambda request: {}

    def add_actor(
        self,
        origin: str = "https://remote.example",
        username: str = "alice",
        key: RSAPrivateKey | None = None,
    ) -> FakeActor:
        actor_id = f"{origin}/users/{username}"
        key = key or generate_rsa_key()
        inbox = f"{actor_id}/inbox"
        document = {
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
            "id": actor_id,
            "type": "Person",
            "preferredUsername": username,
            "name": username.title(),
            "inbox": inbox,
            "outbox": f"{actor_id}/outbox",
            "followers": f"{actor_id}/followers",
            "endpoints": {"sharedInbox": f"{origin}/inbox"},
            "publicKey": {
                "id": f"{actor_id}#main-key",
                "owner": actor_id,
                "publicKeyPem": public_key_to_pem(key.public_key()),
            },
        }
        self.documents[actor_id] = document
        return FakeActor(actor_id, key, inbox, document)

    def rotate_key(self, actor: FakeActor) -> FakeActor:
        """Give ``actor`` a new key pair, published in its document."""
        key = generate_rsa_key()
        actor.document["publicKey"]["publicKeyPem"] = public_key_to_pem(key.public_key())
        actor.key = key
        return actor

    def add_ed25519_key(self, actor: FakeActor, fragment: str = "ed25519-key") -> Signer:
        """Publish an Ed25519 Multikey in ``actor``'s ``assertionMethod``; return its signer."""
        key = generate_ed25519_key()
        key_id = f"{actor.id}#{fragment}"
        actor.document.setdefault("assertionMethod", []).append(
            {"id": key_id, "type": "Multikey", "controller": actor.id,
             "publicKeyMultibase": ed25519_to_multibase(key.public_key())}
        )  # fmt: skip
        return Signer(key_id, key)

    def gets_of(self, url: str) -> list[httpx.Request]:
        """The GETs Myna made of ``url`` (fragment ignored)."""
        wanted = url.split("#", 1)[0]
        return [r for r in self.gets if str(r.url).split("#", 1)[0] == wanted]

    def handle(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url).split("#", 1)[0]
        if url in self.statuses:
            return httpx.Response(self.statuses[url], json={"error": "forced"})
        if request.method == "POST":
            self.posts.append(request)
            return httpx.Response(self.inbox_status(request), headers=self.inbox_headers(request))
        self.gets.append(request)
        document = self.documents.get(url)
        if document is None:
            return httpx.Response(404, json={"error": "not found"})
        return httpx.Response(
            200, content=json.dumps(document).encode(), headers={"Content-Type": AS2}
        )

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def posted_json(self) -> list[dict[str, Any]]:
        return [json.loads(request.content) for request in self.posts]


def signed_headers(
    actor: FakeActor | Signer,
    url: str,
    body: bytes,
    *,
    scheme: Scheme = Scheme.CAVAGE,
    now: datetime | None = None,
    signer: Signer | None = None,
) -> dict[str, str]:
    """Headers of a POST of ``body`` to ``url`` signed as ``actor`` (or by ``signer``)."""
    sign_as = signer or (actor.signer if isinstance(actor, FakeActor) else actor)
    headers = {"Content-Type": AS2}
    headers.update(sign_request("POST", url, headers, body, sign_as, scheme, now=now))
    return headers


def activity(actor: FakeActor, kind: str, obj: Any, suffix: str = "1") -> dict[str, Any]:
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{actor.id}/activities/{kind.lower()}-{suffix}",
        "type": kind,
        "actor": actor.id,
        "object": obj,
    }


def cavage_headers(
    signer: Signer, url: str, body: bytes, *, covered: tuple[str, ...] = (
        "(request-target)", "host", "date", "digest", "content-type"),
    algorithm: str | None = "rsa-sha256", now: datetime | None = None,
) -> dict[str, str]:  # fmt: skip
    """Headers of a POST signed with draft-cavage over exactly ``covered``, in that order.

    Unlike ``signed_headers`` this lets a test choose the covered headers (e.g. leave out
    ``digest``) and the ``algorithm`` parameter (``hs2019``, or None to omit it). ``Digest``
    is sent only when covered.
    """
    parts = urlsplit(url)
    headers = {"Content-Type": AS2, "Host": parts.netloc,
               "Date": http_date(now or datetime.now(UTC))}  # fmt: skip
    if "digest" in covered:
        headers["Digest"] = digest_header(body)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"(request-target): post {target}" if name == "(request-target)"
             else f"{name}: {headers[next(k for k in headers if k.lower() == name)]}"
             for name in covered]  # fmt: skip
    signature = base64.b64encode(sign_bytes(signer.key, "\n".join(lines).encode())).decode()
    params = [f'keyId="{signer.key_id}"']
    if algorithm is not None:
        params.append(f'algorithm="{algorithm}"')
    params += [f'headers="{" ".join(covered)}"', f'signature="{signature}"']
    headers["Signature"] = ",".join(params)
    return headers
