"""Properties of the inbox endpoint under arbitrary input (hypothesis).

Whatever arrives, the inbox never answers 5xx (Mastodon retries those for days), every refusal
is a 4xx with a JSON ``{"error": "<reason>"}`` body, and nothing is stored unless the answer is
202. The remote side (``fake_remote``) answers every key fetch, so no 5xx is ever "temporary".
One app instance (per database back end) serves all examples of a test.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.db.models import Follower, InboxItem, Notification
from federation.httpsig import Scheme, Signer
from tests.support.fake_remote import FakeActor, FakeRemote, pooled_rsa_key, signed_headers

BASE = "https://myna.test"
MYNA = f"{BASE}/users/myna"
ALICE = "https://remote.example/users/alice"
BOB = "https://other.example/users/bob"
PATHS = ("/users/myna/inbox", "/inbox")

PROPERTY = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# -- strategies ---------------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=25,
)

# Header values as they could arrive on the wire: latin-1 text without line breaks.
header_text = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=200,
) | st.sampled_from(
    [
        "",
        'keyId="https://remote.example/users/alice#main-key",signature="AAAA"',
        'keyId="https://[",headers="date",signature="AAAA"',
        'keyId="http://remote.example:99999/x",headers="date",signature="AAAA"',
        'sig1=("@method" "@target-uri");created=1;keyid="https://remote.example/k"',
        "sig1=:AAAA:",
        "SHA-256=AAAA",
        "sha-256=:AAAA:",
        "Fri, 21 Aug 2026 10:00:00 GMT",
    ]
)
header_names = st.sampled_from(
    ["signature", "signature-input", "digest", "content-digest", "date", "content-type",
     "authorization", "content-length"]
) | st.from_regex(r"[a-z][a-z0-9-]{0,15}", fullmatch=True)  # fmt: skip

url_paths = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)
surrogate_text = st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
                         min_size=1, max_size=3)  # fmt: skip


@st.composite
def urls(draw: st.DrawFn) -> Any:
    """Ids as a sender might put them: on alice's origin, elsewhere, or no URL at all."""
    origin = draw(st.sampled_from(["https://remote.example", "https://REMOTE.example",
                                   "https://other.example", "http://remote.example"]))  # fmt: skip
    kind = draw(st.sampled_from(["path", "path", "surrogate", "text", "json"]))
    if kind == "path":
        return f"{origin}/{draw(url_paths)}"
    if kind == "surrogate":
        return f"{origin}/x{draw(surrogate_text)}"
    if kind == "text":
        return draw(st.text(max_size=30))
    return draw(json_values)


@st.composite
def activity_like(draw: st.DrawFn) -> dict[str, Any]:
    """Objects shaped like activities, often valid enough to reach the later checks."""
    doc: dict[str, Any] = draw(st.dictionaries(st.text(max_size=10), json_values, max_size=3))
    if draw(st.booleans()):
        doc["@context"] = "https://www.w3.org/ns/activitystreams"
    doc["id"] = draw(urls())
    doc["type"] = draw(
        st.sampled_from(["Follow", "Undo", "Accept", "Reject", "Create", "Update", "Delete",
                         "Like", "Announce", "Frobnicate"])
        | st.lists(st.sampled_from(["Follow", "Like"]), max_size=2)
        | json_values
    )  # fmt: skip
    doc["actor"] = draw(
        st.sampled_from([ALICE, ALICE, BOB, "alice", {"id": ALICE, "type": "Person"}, None])
        | urls()
    )  # fmt: skip
    doc["object"] = draw(
        st.sampled_from([MYNA, f"{BASE}/notes/1"])
        | urls()
        | st.fixed_dictionaries({"id": urls(), "type": st.sampled_from(["Note", "Follow"])})
        | json_values
    )  # fmt: skip
    return doc


# -- helpers ------------------------------------------------------------------------------------


async def stored_counts(rt: Any) -> tuple[int, ...]:
    """Row counts of inbox_items, followers and notifications (one query)."""
    models = (InboxItem, Follower, Notification)
    stmt = select(*(select(func.count()).select_from(m).scalar_subquery() for m in models))
    async with rt.sessions() as session:
        return tuple(int(n) for n in (await session.execute(stmt)).one())


async def inbox_actors(rt: Any) -> set[str]:
    async with rt.sessions() as session:
        return set((await session.scalars(select(InboxItem.actor_uri))).all())


async def check_invariants(asgi: Any, before: tuple[int, ...], response: Any) -> None:
    """No 5xx; 4xx carries a JSON error; only a 202 "accepted" stores (exactly one row)."""
    status = response.status_code
    assert status < 500, (status, response.text)
    after = await stored_counts(asgi.rt)
    if status >= 400:
        assert response.headers["content-type"].startswith("application/json"), response.text
        body = response.json()
        assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"]
    if status == 202 and response.json() == {"status": "accepted"}:
        assert after == (before[0] + 1, before[1], before[2])
    else:
        assert after == before, (status, response.text)


async def post(asgi: Any, path: str, body: bytes, headers: Any) -> Any:
    return await asgi.client.post(path, content=body, headers=headers)


@pytest.fixture
def alice(fake_remote: FakeRemote) -> FakeActor:
    """Alice (and bob, whom documents may name) for every example of one test."""
    fake_remote.add_actor("https://other.example", "bob", key=pooled_rsa_key(1))
    return fake_remote.add_actor("https://remote.example", "alice", key=pooled_rsa_key(0))


def wire(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    """Header pairs as raw bytes (values as UTF-8, which the server reads as latin-1)."""
    return [(name.encode(), value.encode("utf-8", "surrogatepass")) for name, value in headers]


# -- properties ---------------------------------------------------------------------------------


@PROPERTY
@given(
    path=st.sampled_from(PATHS),
    body=st.binary(max_size=512) | json_values.map(lambda v: json.dumps(v).encode()),
    headers=st.lists(st.tuples(header_names, header_text), max_size=6),
)
async def test_unsigned_or_badly_signed_requests_are_refused_cleanly(
    asgi, alice, path, body, headers
):
    before = await stored_counts(asgi.rt)
    response = await post(asgi, path, body, wire(headers))
    await check_invariants(asgi, before, response)
    assert response.status_code != 202


@PROPERTY
@given(
    path=st.sampled_from(PATHS),
    value=json_values,
    scheme=st.sampled_from(list(Scheme)),
    ascii_only=st.booleans(),
)
async def test_validly_signed_arbitrary_json_is_refused_cleanly(
    asgi, alice, path, value, scheme, ascii_only
):
    body = json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    headers = signed_headers(alice, BASE + path, body, scheme=scheme, now=asgi.rt.clock())
    before = await stored_counts(asgi.rt)
    response = await post(asgi, path, body, headers)
    await check_invariants(asgi, before, response)


@PROPERTY
@given(
    path=st.sampled_from(PATHS),
    doc=activity_like(),
    scheme=st.sampled_from(list(Scheme)),
    ascii_only=st.booleans(),
)
async def test_validly_signed_activity_like_documents_store_only_when_accepted(
    asgi, alice, path, doc, scheme, ascii_only
):
    body = json.dumps(doc, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    headers = signed_headers(alice, BASE + path, body, scheme=scheme, now=asgi.rt.clock())
    before = await stored_counts(asgi.rt)
    response = await post(asgi, path, body, headers)
    await check_invariants(asgi, before, response)
    # Whatever was stored was signed by its actor.
    assert await inbox_actors(asgi.rt) <= {ALICE}


@PROPERTY
@given(
    path=st.sampled_from(PATHS),
    scheme=st.sampled_from(list(Scheme)),
    mutations=st.lists(
        st.tuples(st.sampled_from(["set", "drop", "append"]), header_names, header_text),
        min_size=1,
        max_size=3,
    ),
    key_id=st.none() | st.text(max_size=40) | url_paths.map(lambda p: f"https://{p}"),
)
async def test_tampered_signed_requests_are_refused_cleanly(
    asgi, alice, path, scheme, mutations, key_id
):
    doc = {"@context": "https://www.w3.org/ns/activitystreams", "type": "Follow",
           "id": f"{ALICE}/follows/tampered", "actor": ALICE, "object": MYNA}  # fmt: skip
    body = json.dumps(doc).encode()
    signer = Signer(key_id, alice.key) if key_id is not None else None
    try:
        signed = signed_headers(alice, BASE + path, body, scheme=scheme, now=asgi.rt.clock(),
                                signer=signer)  # fmt: skip
    except ValueError:
        return  # a key id RFC 9421 cannot carry: nothing to send
    headers = {name.lower(): value for name, value in signed.items()}
    extra: list[tuple[str, str]] = []
    for action, name, value in mutations:
        if action == "set":
            headers[name] = value
        elif action == "drop":
            headers.pop(name, None)
        else:
            extra.append((name, value))
    before = await stored_counts(asgi.rt)
    response = await post(asgi, path, body, wire([*headers.items(), *extra]))
    await check_invariants(asgi, before, response)
