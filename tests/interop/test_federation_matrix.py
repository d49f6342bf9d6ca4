"""The federation matrix: two Myna servers and a Fedify peer on loopback, one scenario per
database back end, checking that every receiver sees exactly what Mastodon would show.

Cast (all real processes, shared by the steps of one back end):

- A, the poster (Myna);
- B, a Myna that follows A;
- C, a Myna that does not follow A (it is only ever mentioned, and later blocks A);
- P, the Fedify peer (``tests/interop/fedify/peer.mjs``), which follows A.

The steps run in order against the same processes, each a test of its own so a report says
which behaviour broke. A step whose prerequisite step failed is skipped, not failed again.
Every wait is a poll with a timeout. "Absent" checks use A's delivery queue (``myna
deliveries``): a delivery row is written in the same transaction as the post, so a missing
row proves the activity can never reach that inbox.

Visibility rules checked (interop.md 4.10): public has Public in ``to``; unlisted has the
followers collection in ``to`` and Public in ``cc``; followers-only has the followers
collection in ``to`` and Public nowhere, and is never delivered to a non-follower; direct is
delivered only to the mentioned actors.

Needs ``node`` and the Fedify peer's ``node_modules`` (skipped otherwise, as test_fedify.py).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.interop.test_fedify import (
    AS_CONTEXT,
    RFC9421,
    FedifyPeer,
    _activity,
    _skip_reason,
)
from tests.interop.test_two_mynas import _follow_and_wait, _verified_receipt
from tests.support.json_search import entries_mentioning
from tests.support.myna_proc import (
    DATABASE_KINDS,
    MynaProcess,
    database_url,
    postgres_skip_reason,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.interop]
if (_reason := _skip_reason()) is not None:
    pytestmark.append(pytest.mark.skip(reason=_reason))

PUBLIC = f"{AS_CONTEXT}#Public"
AS2 = "application/activity+json"
#: How long any one remote effect may take to show (delivery, then inbox processing).
WAIT = 20.0
VISIBILITIES = ("public", "unlisted", "followers")


# ------------------------------------------------------------------ the cast --
@dataclass
class Matrix:
    """The processes of one back end and what the steps produced so far."""

    kind: str
    a: MynaProcess
    b: MynaProcess
    c: MynaProcess
    p: FedifyPeer
    posts: dict[str, str] = field(default_factory=dict)  # name -> post id (URL)
    done: set[str] = field(default_factory=set)  # steps that passed
    a_doc: dict[str, Any] = field(default_factory=dict)  # A's actor document

    def need(self, *steps: str) -> None:
        """Skip the calling step when a step it builds on did not pass."""
        missing = [s for s in steps if s not in self.done]
        if missing:
            pytest.skip(f"needs the step(s) {', '.join(missing)}, which did not pass")

    def describe(self) -> str:
        return "\n".join(
            [
                f"=== A {self.a.describe()}",
                f"=== B {self.b.describe()}",
                f"=== C {self.c.describe()}",
                f"=== P {self.p.describe()}",
            ]
        )

    @property
    def followers_url(self) -> str:
        return str(self.a_doc["followers"])


@pytest.fixture(scope="class", params=DATABASE_KINDS)
def matrix(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Matrix]:
    kind: str = request.param
    if kind == "postgresql" and (reason := postgres_skip_reason()) is not None:
        pytest.skip(reason)
    root = tmp_path_factory.mktemp(f"matrix-{kind}")
    with ExitStack() as stack:
        mynas = [
            MynaProcess(root / name, database_url=stack.enter_context(database_url(kind)))
            for name in ("a", "b", "c")
        ]
        peer = FedifyPeer(root / "fedify")
        for proc in [*mynas, peer]:
            stack.callback(proc.stop)
        # Start the four processes together: each `myna init` alone takes seconds.
        _concurrently(*(proc.start for proc in mynas), peer.start)
        a, b, c = mynas
        with httpx.Client(timeout=10.0) as http:
            response = http.get(a.actor_url, headers={"Accept": AS2})
        assert response.status_code == 200, response.text
        yield Matrix(kind=kind, a=a, b=b, c=c, p=peer, a_doc=response.json())


# ------------------------------------------------------------------ helpers --
def _concurrently(*calls: Callable[[], object]) -> list[object]:
    """Run ``calls`` in threads (CLI calls are separate processes); return their results.

    Raises the error of the one failed call, or an AssertionError naming every failure.
    """
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(call) for call in calls]
    errors = [exc for f in futures if (exc := f.exception()) is not None]
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise AssertionError(
            f"{len(errors)} checks failed:\n\n" + "\n\n".join(f"{e!r}" for e in errors)
        )
    return [f.result() for f in futures]


def _tag() -> str:
    return uuid.uuid4().hex[:8]


def _post(proc: MynaProcess, text: str, *args: str) -> str:
    """Publish with ``myna post``; return the new post's id."""
    created = proc.cli_json("post", text, *args)
    post_id = created["id"]
    assert isinstance(post_id, str) and post_id.startswith(proc.base_url + "/"), created
    return post_id


def _timeline(proc: MynaProcess) -> dict[str, dict[str, Any]]:
    """The owner's timeline, own posts (not boosts) by id."""
    return {e["id"]: e for e in proc.cli_json("timeline", "--limit", "200") if not e["boosted_by"]}


def _notifications(proc: MynaProcess, kind: str, actor: str, obj: str | None = None) -> list[Any]:
    return [
        n
        for n in proc.cli_json("notifications", "--limit", "200")
        if n["type"] == kind and n["actor"] == actor and (obj is None or n["object"] == obj)
    ]


def _deliveries(proc: MynaProcess, post: str | None = None) -> list[dict[str, Any]]:
    args = ("--post", post) if post else ()
    rows: list[dict[str, Any]] = proc.cli_json("deliveries", "--limit", "1000", *args)
    return rows


def _inboxes_on(rows: list[dict[str, Any]], base_url: str, kind: str | None = None) -> list[str]:
    """Inboxes among the delivery ``rows`` (of activity type ``kind``) on ``base_url``."""
    return [
        r["inbox"]
        for r in rows
        if r["inbox"].startswith(base_url + "/") and (kind is None or r["type"] == kind)
    ]


def _follower_uris(proc: MynaProcess) -> set[str]:
    return {f["actor"] for f in proc.cli_json("followers")}


def _peer_saw(m: Matrix, event: str, post: str, kind: str | None = None) -> list[dict[str, Any]]:
    """The peer's events of type ``event`` (and activity ``kind``) about ``post``."""
    found = []
    for e in m.p.events():
        if e["event"] != event or (kind is not None and e.get("type") != kind):
            continue
        if event == "create" and (e.get("object") or {}).get("id") == post:
            found.append(e)
        elif event != "create" and entries_mentioning(e.get("json"), post):
            found.append(e)
    return found


def _get(url: str, accept: str) -> httpx.Response:
    with httpx.Client(timeout=10.0) as http:
        return http.get(url, headers={"Accept": accept})


def _collection_ids(doc: dict[str, Any]) -> list[str]:
    items = doc.get("orderedItems", doc.get("items", []))
    return [i if isinstance(i, str) else i.get("id") for i in items]


def _page_counts(post: str) -> tuple[int, int]:
    """(likes, boosts) shown on the post's HTML page."""
    response = _get(post, "text/html")
    assert response.status_code == 200, f"GET {post} (HTML): {response.status_code}"
    found = re.search(r"(\d+) likes · (\d+) boosts", response.text)
    assert found, f"no like/boost counts on the page of {post}:\n{response.text[-1500:]}"
    return int(found.group(1)), int(found.group(2))


# -------------------------------------------------------------------- steps --
class TestFederationMatrix:
    """One scenario per back end; the steps run in the order written."""

    def test_b_and_peer_follow_a(self, matrix: Matrix) -> None:
        m = matrix
        sent = m.p.control("follow", {"target": m.a.actor_url})
        assert sent["ok"], f"{sent}\n{m.describe()}"
        # B follows by handle (WebFinger), and waits for the verified Accept both ways.
        _follow_and_wait(m.b, m.a, target=f"@{m.a.handle}")
        m.p.wait_event(
            lambda e: e["event"] == "accept" and e["actor"] == m.a.actor_url,
            what="A's Accept",
            timeout=WAIT,
            extra=m.a.describe,
        )
        followers = wait_for(
            lambda: (uris := _follower_uris(m.a)) >= {m.b.actor_url, m.p.actor_url} and uris,
            timeout=WAIT,
            message=lambda: f"A's followers: {m.a.cli('followers').stdout}\n{m.describe()}",
        )
        assert m.c.actor_url not in followers
        m.done.add("follow")

    def test_posts_reach_followers_with_their_visibility(self, matrix: Matrix) -> None:
        m = matrix
        m.need("follow")
        tag = _tag()
        # Published concurrently: several processes share one database by design.
        ids = _concurrently(
            *(lambda v=v: _post(m.a, f"A {v} post {tag}", "--visibility", v) for v in VISIBILITIES)
        )
        m.posts.update(zip(VISIBILITIES, map(str, ids), strict=True))
        posted = {m.posts[v]: v for v in VISIBILITIES}

        def b_timeline() -> None:
            def arrived() -> dict[str, dict[str, Any]] | None:
                timeline = _timeline(m.b)
                return timeline if set(posted) <= set(timeline) else None

            timeline = wait_for(
                arrived,
                timeout=WAIT,
                message=lambda: (
                    f"B's timeline lacks some of {posted}: {m.b.cli('timeline').stdout}"
                    f"\n{m.describe()}"
                ),
            )
            for post, visibility in posted.items():
                entry = timeline[post]
                assert entry["visibility"] == visibility, entry
                assert entry["author"] == m.a.actor_url, entry
                assert f"A {visibility} post {tag}" in entry["text"], entry

        def peer_creates() -> None:
            for post, visibility in posted.items():
                create = m.p.wait_event(
                    lambda e, post=post: (
                        e["event"] == "create" and (e.get("object") or {}).get("id") == post
                    ),
                    what=f"the Create of the {visibility} post",
                    timeout=WAIT,
                    extra=lambda: f"{m.a.describe()}\n{m.a.cli('deliveries').stdout}",
                )
                note = create["object"]
                assert create["verified"] is True and create["actor"] == m.a.actor_url
                # interop.md 4.10 (e): the same to/cc on the Create and on the Note.
                assert sorted(note["to"]) == sorted(create["to"]), create
                assert sorted(note["cc"]) == sorted(create["cc"]), create
                to, cc = create["to"], create["cc"]
                if visibility == "public":
                    assert PUBLIC in to and m.followers_url in cc, create
                elif visibility == "unlisted":
                    assert m.followers_url in to and PUBLIC in cc and PUBLIC not in to, create
                else:  # followers-only: the followers collection in `to`, Public nowhere
                    assert m.followers_url in to, create
                    assert PUBLIC not in to + cc, create
                    assert "Public" not in repr(create["json"]), create["json"]

        def no_leak_to_c() -> None:
            rows = _deliveries(m.a, m.posts["followers"])
            assert _inboxes_on(rows, m.b.base_url) and _inboxes_on(rows, m.p.base_url), rows
            assert not _inboxes_on(rows, m.c.base_url), (
                f"the followers-only Create is queued for C, a non-follower: {rows}"
            )

        _concurrently(b_timeline, peer_creates, no_leak_to_c)
        assert not [e for e in m.p.events() if e["event"] in ("unverified", "inbox_error")], (
            m.p.describe()
        )
        m.done.add("posts")

    def test_direct_post_reaches_only_the_mentioned_actor(self, matrix: Matrix) -> None:
        m = matrix
        m.need("follow")
        # C is addressed by its handle, as a user would type it (host:port on loopback).
        direct = m.posts["direct"] = _post(
            m.a, f"@{m.c.handle} just for you {_tag()}", "--visibility", "direct"
        )

        def c_mention() -> None:
            wait_for(
                lambda: _notifications(m.c, "mention", m.a.actor_url, direct),
                timeout=WAIT,
                message=lambda: (
                    f"C has no mention notification for {direct}: "
                    f"{m.c.cli('notifications').stdout}\n{m.describe()}"
                ),
            )
            mentions = _notifications(m.c, "mention", m.a.actor_url)
            assert [n["object"] for n in mentions] == [direct], mentions
            # C does not follow A: none of A's posts is on C's timeline.
            assert not [e for e in _timeline(m.c).values() if e["author"] == m.a.actor_url]

        def only_c_is_addressed() -> None:
            rows = _deliveries(m.a, direct)
            assert rows and all(r["inbox"].startswith(m.c.base_url + "/") for r in rows), (
                f"the direct post is queued for someone other than C: {rows}"
            )

        _concurrently(c_mention, only_c_is_addressed)
        assert direct not in _timeline(m.b)
        assert not _peer_saw(m, "create", direct)
        m.done.add("direct")

    def test_reply_notifies_the_author_and_joins_the_thread(self, matrix: Matrix) -> None:
        m = matrix
        m.need("posts")
        public = m.posts["public"]
        tag = _tag()
        reply = _post(m.b, f"@{m.a.handle} agreed {tag}", "--reply-to", public)
        # A reply without a mention still goes to the replied-to author (Mastodon's
        # StatusReachFinder#replied_to_account_id) and joins the thread there.
        quiet = _post(m.b, f"A quiet reply {tag}", "--reply-to", public)

        def in_thread(post: str) -> bool:
            response = _get(f"{public}/replies", AS2)
            assert response.status_code == 200, response.text
            return post in _collection_ids(response.json())

        def evidence(post: str) -> Callable[[], str]:
            return lambda: (
                f"A's notifications: {m.a.cli('notifications').stdout}\n"
                f"A's replies collection: {_get(public + '/replies', AS2).text}\n"
                f"B's deliveries of {post}: {m.b.cli('deliveries', '--post', post).stdout}\n"
                f"{m.describe()}"
            )

        def mentioned_reply() -> None:
            wait_for(
                lambda: (
                    _notifications(m.a, "reply", m.b.actor_url, reply)
                    or _notifications(m.a, "mention", m.b.actor_url, reply)
                ),
                timeout=WAIT,
                message=lambda: (
                    f"A has no reply/mention notification for {reply}\n" + evidence(reply)()
                ),
            )
            assert in_thread(reply), evidence(reply)()
            # The handle in the text became a real mention: an h-card link and a Mention tag.
            note = _get(reply, AS2).json()
            assert 'class="u-url mention"' in note["content"], note
            assert {"type": "Mention", "href": m.a.actor_url} in [
                {"type": t.get("type"), "href": t.get("href")} for t in note.get("tag", [])
            ], note

        def quiet_reply() -> None:
            wait_for(
                lambda: in_thread(quiet),
                timeout=WAIT,
                message=lambda: (
                    f"the reply {quiet} (no mention) never reached A's thread\n" + evidence(quiet)()
                ),
            )

        _concurrently(mentioned_reply, quiet_reply)
        m.done.add("reply")

    def test_like_boost_and_unlike(self, matrix: Matrix) -> None:
        m = matrix
        m.need("posts")
        public = m.posts["public"]
        _concurrently(lambda: m.b.cli_json("like", public), lambda: m.b.cli_json("boost", public))

        def reactions() -> set[str]:
            return {
                n["type"]
                for n in m.a.cli_json("notifications", "--limit", "200")
                if n["actor"] == m.b.actor_url and n["object"] == public
            }

        wait_for(
            lambda: {"like", "boost"} <= reactions(),
            timeout=WAIT,
            message=lambda: (
                f"A lacks B's like or boost notification: "
                f"{m.a.cli('notifications').stdout}\n{m.describe()}"
            ),
        )
        assert _page_counts(public) == (1, 1)

        m.b.cli_json("unlike", public)
        wait_for(
            lambda: _page_counts(public) == (0, 1),
            timeout=WAIT,
            message=lambda: f"like count still shown after the Undo\n{m.describe()}",
        )
        # The Undo removes the like's notification, and only it.
        assert reactions() == {"boost"}
        m.done.add("reactions")

    def test_fedify_like_notifies_a(self, matrix: Matrix) -> None:
        m = matrix
        m.need("posts")
        public = m.posts["public"]
        like = _activity(m.p, "Like", public, "matrix-like")
        answer = m.p.control(
            "probe",
            {
                "name": "matrix-like",
                "kind": "signed",
                "spec": RFC9421,
                "url": f"{m.a.actor_url}/inbox",
                "activity": like,
            },
        )
        assert answer["status"] == 202, answer
        wait_for(
            lambda: _notifications(m.a, "like", m.p.actor_url, public),
            timeout=WAIT,
            message=lambda: (
                f"A has no like notification from P: {m.a.cli('notifications').stdout}"
                f"\n{m.describe()}"
            ),
        )

    def test_edit_reaches_followers(self, matrix: Matrix) -> None:
        m = matrix
        m.need("posts")
        public = m.posts["public"]
        text = f"A public post, edited {_tag()}"
        edited = m.a.cli_json("edit", public, text)
        assert edited["edited"], edited

        def b_sees_edit() -> dict[str, Any] | None:
            entry = _timeline(m.b).get(public)
            return entry if entry and text in entry["text"] and entry["edited"] else None

        def check_b() -> None:
            entry = wait_for(
                b_sees_edit,
                timeout=WAIT,
                message=lambda: f"B's timeline: {m.b.cli('timeline').stdout}\n{m.describe()}",
            )
            assert entry["visibility"] == "public", entry

        def check_p() -> None:
            wait_for(
                lambda: _peer_saw(m, "activity", public, "Update"),
                timeout=WAIT,
                message=lambda: f"P never saw the Update of {public}\n{m.p.describe()}",
            )

        _concurrently(check_b, check_p)
        m.done.add("edit")

    def test_delete_reaches_followers_and_leaves_410(self, matrix: Matrix) -> None:
        m = matrix
        m.need("posts")
        followers_only = m.posts["followers"]
        m.a.cli_json("delete", followers_only)

        def check_b() -> None:
            wait_for(
                lambda: followers_only not in _timeline(m.b),
                timeout=WAIT,
                message=lambda: f"B's timeline: {m.b.cli('timeline').stdout}\n{m.describe()}",
            )

        def check_p() -> None:
            wait_for(
                lambda: _peer_saw(m, "activity", followers_only, "Delete"),
                timeout=WAIT,
                message=lambda: f"P never saw the Delete of {followers_only}\n{m.p.describe()}",
            )

        def check_audience() -> None:
            rows = _deliveries(m.a, followers_only)
            assert _inboxes_on(rows, m.b.base_url, "Delete"), rows
            assert _inboxes_on(rows, m.p.base_url, "Delete"), rows
            assert not _inboxes_on(rows, m.c.base_url), f"C was never in the audience: {rows}"

        _concurrently(check_b, check_p, check_audience)
        for accept in (AS2, "text/html"):
            response = _get(followers_only, accept)
            assert response.status_code == 410, (
                f"GET {followers_only} (Accept: {accept}) after the delete answered "
                f"{response.status_code}, not 410 Gone: {response.text[:300]}"
            )
        m.done.add("delete")

    def test_pin_shows_in_featured(self, matrix: Matrix) -> None:
        m = matrix
        m.need("posts")
        public = m.posts["public"]
        pinned = m.a.cli_json("pin", public)
        assert pinned["pinned"] is True, pinned
        response = _get(str(m.a_doc["featured"]), AS2)
        assert response.status_code == 200, response.text
        assert public in _collection_ids(response.json()), response.json()
        wait_for(
            lambda: _peer_saw(m, "activity", public, "Add"),
            timeout=WAIT,
            message=lambda: f"P never saw the Add (pin) of {public}\n{m.p.describe()}",
        )

    def test_unfollow_stops_delivery(self, matrix: Matrix) -> None:
        m = matrix
        m.need("follow")
        m.b.cli_json("unfollow", m.a.actor_url)
        wait_for(
            lambda: m.b.actor_url not in _follower_uris(m.a),
            timeout=WAIT,
            message=lambda: f"A's followers: {m.a.cli('followers').stdout}\n{m.describe()}",
        )
        assert m.p.actor_url in _follower_uris(m.a)
        later = _post(m.a, f"After B left {_tag()}")
        rows = _deliveries(m.a, later)
        assert not _inboxes_on(rows, m.b.base_url), f"delivered to B after unfollow: {rows}"
        assert _inboxes_on(rows, m.p.base_url), rows
        # Once P (still a follower) has the post, the fan-out is over: B must not have it.
        m.p.wait_event(
            lambda e: e["event"] == "create" and (e.get("object") or {}).get("id") == later,
            what="the post after B's unfollow",
            timeout=WAIT,
            extra=m.a.describe,
        )
        assert later not in _timeline(m.b)

    def test_block_stops_delivery_to_the_blocker(self, matrix: Matrix) -> None:
        m = matrix
        c_post, blocked = _concurrently(
            lambda: _post(m.c, f"C's own public post {_tag()}"),
            lambda: m.c.cli_json("block", m.a.actor_url),
        )
        assert isinstance(c_post, str) and isinstance(blocked, dict)
        block_id = blocked["activity"]
        assert blocked["blocked"] == m.a.actor_url, blocked

        def a_processed_block() -> str | None:
            return next(
                (
                    line
                    for line in m.a.log.splitlines()
                    if "inbox.processed" in line and f"id={block_id} " in line
                ),
                None,
            )

        line = wait_for(
            a_processed_block,
            timeout=WAIT,
            message=lambda: (
                f"A never processed C's Block {block_id}; C's deliveries: "
                f"{m.c.cli('deliveries').stdout}\n{m.describe()}"
            ),
        )
        assert _verified_receipt(m.a, "Block", m.c), m.a.describe()
        assert "state=done" in line and "error=None" in line, f"A ignored C's Block: {line}"
        before = max((r["id"] for r in _deliveries(m.a)), default=0)

        def new_rows() -> list[dict[str, Any]]:
            return [r for r in _deliveries(m.a) if r["id"] > before]

        # A Like goes to the liked post's author; C blocked A, so it must not be queued.
        m.a.cli_json("like", c_post)
        rows = new_rows()
        assert not _inboxes_on(rows, m.c.base_url), f"A still delivers to C: {rows}"
        # Nor a direct post that mentions C.
        after_block = _post(m.a, f"@{m.c.handle} are you there? {_tag()}", "--visibility", "direct")
        rows = new_rows()
        assert not _inboxes_on(rows, m.c.base_url), f"A still delivers to C: {rows}"
        assert not _notifications(m.c, "mention", m.a.actor_url, after_block)
