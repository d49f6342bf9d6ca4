"""Publishing from the owner's side: the Note on the wire, its audience, edits, deletes, pins."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image
from sqlalchemy import func, select

from app.db.models import Delivery, Follower, OutgoingActivity, RemoteActor
from app.errors import UserError
from app.services import posting
from app.store.actors import upsert_remote_actor
from federation.parse import parse_actor
from federation.vocab import PUBLIC

ACTOR = "https://myna.test/users/myna"
FOLLOWERS = ACTOR + "/followers"
AS2 = {"Accept": "application/activity+json"}


async def add_followers(asgi, fake_remote, specs):
    """Followers from ``specs`` [(origin, username)]; they share their origin's shared inbox."""
    rt = asgi.rt
    actors = []
    async with rt.writes.begin() as session:
        me_id = 1
        for origin, username in specs:
            actor = fake_remote.add_actor(origin, username)
            row = await upsert_remote_actor(session, parse_actor(actor.document), rt.clock())
            session.add(
                Follower(
                    local_actor_id=me_id,
                    remote_actor_id=row.id,
                    follow_activity_id=f"{actor.id}#follow",
                    follow_activity="{}",
                    state="accepted",
                    created_at=rt.clock(),
                    updated_at=rt.clock(),
                )
            )
            actors.append(actor)
    return actors


async def queued(rt, activity_type):
    """(payload of the latest activity of that type, its target inboxes) or (None, [])."""
    async with rt.sessions() as session:
        activity = await session.scalar(
            select(OutgoingActivity)
            .where(OutgoingActivity.type == activity_type)
            .order_by(OutgoingActivity.id.desc())
        )
        if activity is None:
            return None, []
        inboxes = await session.scalars(
            select(Delivery.inbox_url).where(Delivery.activity_id == activity.id)
        )
        return json.loads(activity.payload), sorted(inboxes.all())


async def test_public_post_reaches_each_shared_inbox_once(asgi, fake_remote):
    await add_followers(
        asgi,
        fake_remote,
        [("https://a.example", "x"), ("https://a.example", "y"), ("https://b.example", "z")],
    )
    post = await posting.publish(asgi.rt, posting.Draft(text="Hello #Fediverse world"))
    create, inboxes = await queued(asgi.rt, "Create")
    assert inboxes == ["https://a.example/inbox", "https://b.example/inbox"]
    note = create["object"]
    assert create["actor"] == ACTOR and create["id"] == post.uri + "/activity"
    assert note["id"] == post.uri and note["attributedTo"] == ACTOR and note["type"] == "Note"
    assert note["to"] == [PUBLIC] and FOLLOWERS in note["cc"]
    assert create["to"] == note["to"] and create["cc"] == note["cc"]
    assert "https://www.w3.org/ns/activitystreams" in create["@context"]
    tags = [t for t in note["tag"] if t["type"] == "Hashtag"]
    assert tags == [
        {"type": "Hashtag", "href": "https://myna.test/tags/fediverse", "name": "#Fediverse"}
    ] or tags[0]["href"].endswith("/tags/fediverse")
    assert 'rel="tag"' in note["content"] and note["url"].startswith("https://myna.test/@myna/")
    assert note["published"].endswith("Z") and "updated" not in note


@pytest.mark.parametrize(
    ("visibility", "to", "cc_has"),
    [
        ("public", [PUBLIC], [FOLLOWERS]),
        ("unlisted", [FOLLOWERS], [PUBLIC]),
        ("followers", [FOLLOWERS], []),
    ],
)
async def test_visibility_addressing(asgi, fake_remote, visibility, to, cc_has):
    await add_followers(asgi, fake_remote, [("https://a.example", "x")])
    await posting.publish(asgi.rt, posting.Draft(text="hi", visibility=visibility))
    create, inboxes = await queued(asgi.rt, "Create")
    assert create["object"]["to"] == to
    assert all(item in create["object"]["cc"] for item in cc_has)
    assert (
        PUBLIC not in create["object"]["to"] + create["object"]["cc"] or visibility != "followers"
    )
    assert inboxes == ["https://a.example/inbox"]


async def test_direct_post_reaches_only_the_mentioned_actor(asgi, fake_remote):
    await add_followers(asgi, fake_remote, [("https://a.example", "x")])
    bob = fake_remote.add_actor("https://b.example", "bob")
    fake_remote.documents["https://b.example/.well-known/webfinger?resource=acct:bob@b.example"] = {
        "subject": "acct:bob@b.example",
        "links": [{"rel": "self", "type": "application/activity+json", "href": bob.id}],
    }
    await posting.publish(asgi.rt, posting.Draft(text="@bob@b.example psst", visibility="direct"))
    create, inboxes = await queued(asgi.rt, "Create")
    note = create["object"]
    assert note["to"] == [bob.id] and note["cc"] == []
    assert {"type": "Mention", "href": bob.id, "name": "@bob@b.example"} in note["tag"]
    assert inboxes == ["https://b.example/inbox"]
    assert 'class="u-url mention"' in note["content"]


async def test_direct_post_without_mention_is_refused_and_stores_nothing(asgi):
    with pytest.raises(UserError):
        await posting.publish(asgi.rt, posting.Draft(text="to nobody", visibility="direct"))
    create, _ = await queued(asgi.rt, "Create")
    assert create is None


async def test_content_warning_and_language(asgi):
    await posting.publish(asgi.rt, posting.Draft(text="spoiler <b>", summary="Film", language="en"))
    note = (await queued(asgi.rt, "Create"))[0]["object"] if False else None
    response = await asgi.client.get("/users/myna/outbox?page=true", headers=AS2)
    note = response.json()["orderedItems"][0]["object"]
    assert note["summary"] == "Film" and note["sensitive"] is True
    assert note["contentMap"] == {"en": note["content"]}
    assert "&lt;b&gt;" in note["content"] and "<b>" not in note["content"]


def _jpeg_with_exif() -> bytes:
    image = Image.new("RGB", (64, 48), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "SecretCamera"  # Make
    exif[0x0131] = "GPS-Leaking-Software"  # Software
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()


async def test_image_is_stripped_and_described(asgi):
    data = _jpeg_with_exif()
    assert b"SecretCamera" in data
    await posting.publish(
        asgi.rt,
        posting.Draft(text="a red card", images=[posting.ImageInput(data, "A red rectangle")]),
    )
    create, _ = await queued(asgi.rt, "Create")
    (attachment,) = create["object"]["attachment"]
    assert attachment["type"] == "Document" and attachment["mediaType"] == "image/jpeg"
    assert attachment["name"] == "A red rectangle"
    assert (attachment["width"], attachment["height"]) == (64, 48)
    assert isinstance(attachment["blurhash"], str) and len(attachment["blurhash"]) > 6
    served = await asgi.client.get(attachment["url"].removeprefix("https://myna.test"))
    assert served.status_code == 200 and "max-age" in served.headers["cache-control"]
    assert b"SecretCamera" not in served.content and b"Exif" not in served.content


async def test_not_an_image_is_refused(asgi):
    with pytest.raises(UserError):
        await posting.publish(
            asgi.rt, posting.Draft(text="x", images=[posting.ImageInput(b"not an image", None)])
        )


async def test_note_is_served_at_its_id_and_as_html(asgi):
    post = await posting.publish(asgi.rt, posting.Draft(text="served"))
    path = post.uri.removeprefix("https://myna.test")
    note = (await asgi.client.get(path, headers=AS2)).json()
    assert note["id"] == post.uri
    page = await asgi.client.get(post.url.removeprefix("https://myna.test"))
    assert page.status_code == 200 and "served" in page.text
    assert f'href="{post.uri}"' in page.text


async def test_edit_sends_update_with_updated(asgi, fake_remote, clock):
    await add_followers(asgi, fake_remote, [("https://a.example", "x")])
    post = await posting.publish(asgi.rt, posting.Draft(text="first"))
    from datetime import timedelta

    clock.now += timedelta(minutes=5)
    await posting.edit(asgi.rt, post.url, "second")
    update, inboxes = await queued(asgi.rt, "Update")
    assert update["object"]["id"] == post.uri and "second" in update["object"]["content"]
    assert update["object"]["updated"] > update["object"]["published"]
    assert inboxes == ["https://a.example/inbox"]


async def test_delete_sends_tombstone_and_answers_410(asgi, fake_remote):
    await add_followers(asgi, fake_remote, [("https://a.example", "x")])
    post = await posting.publish(asgi.rt, posting.Draft(text="soon gone"))
    await posting.delete(asgi.rt, post.uri)
    delete, inboxes = await queued(asgi.rt, "Delete")
    assert delete["object"] == {"id": post.uri, "type": "Tombstone"} or (
        delete["object"]["id"] == post.uri and delete["object"]["type"] == "Tombstone"
    )
    assert inboxes == ["https://a.example/inbox"]
    gone = await asgi.client.get(post.uri.removeprefix("https://myna.test"), headers=AS2)
    assert gone.status_code == 410 and gone.json()["type"] == "Tombstone"
    with pytest.raises(UserError):
        await posting.edit(asgi.rt, post.uri, "zombie")


async def test_pin_adds_to_featured(asgi, fake_remote):
    await add_followers(asgi, fake_remote, [("https://a.example", "x")])
    post = await posting.publish(asgi.rt, posting.Draft(text="pin me"))
    await posting.set_pinned(asgi.rt, post.uri, True)
    add, _ = await queued(asgi.rt, "Add")
    assert add["object"] == post.uri and add["target"] == ACTOR + "/collections/featured"
    featured = (await asgi.client.get("/users/myna/collections/featured", headers=AS2)).json()
    assert [item["id"] for item in featured["orderedItems"]] == [post.uri]
    await posting.set_pinned(asgi.rt, post.uri, False)
    remove, _ = await queued(asgi.rt, "Remove")
    assert remove["object"] == post.uri
    featured = (await asgi.client.get("/users/myna/collections/featured", headers=AS2)).json()
    assert featured["totalItems"] == 0


async def test_outbox_pages_through_the_whole_public_history(asgi):
    uris = [
        (await posting.publish(asgi.rt, posting.Draft(text=f"post {n}"))).uri for n in range(45)
    ]
    await posting.publish(asgi.rt, posting.Draft(text="secret", visibility="followers"))
    outbox = (await asgi.client.get("/users/myna/outbox", headers=AS2)).json()
    assert outbox["totalItems"] == 45
    seen, page_url = [], outbox["first"]
    while page_url:
        page = (
            await asgi.client.get(page_url.removeprefix("https://myna.test"), headers=AS2)
        ).json()
        seen += [item["object"]["id"] for item in page["orderedItems"]]
        page_url = page.get("next")
    assert seen == list(reversed(uris))


async def test_followers_only_post_is_hidden_from_anonymous_fetch(asgi):
    post = await posting.publish(asgi.rt, posting.Draft(text="friends", visibility="followers"))
    response = await asgi.client.get(post.uri.removeprefix("https://myna.test"), headers=AS2)
    assert response.status_code == 404


async def test_never_delivers_to_blocked_or_gone_actors(asgi, fake_remote):
    _, b = await add_followers(
        asgi, fake_remote, [("https://a.example", "x"), ("https://b.example", "y")]
    )
    async with asgi.rt.writes.begin() as session:
        row = await session.scalar(select(RemoteActor).where(RemoteActor.uri == b.id))
        row.blocked_us_at = asgi.rt.clock()
    await posting.publish(asgi.rt, posting.Draft(text="hi"))
    _, inboxes = await queued(asgi.rt, "Create")
    assert inboxes == ["https://a.example/inbox"]
    async with asgi.rt.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Delivery)) == 1


async def test_deleted_followers_only_post_answers_410_too(asgi):
    post = await posting.publish(asgi.rt, posting.Draft(text="private", visibility="followers"))
    await posting.delete(asgi.rt, post.uri)
    gone = await asgi.client.get(post.uri.removeprefix("https://myna.test"), headers=AS2)
    assert gone.status_code == 410
    assert gone.json() == {**gone.json(), "id": post.uri, "type": "Tombstone"}
    assert "private" not in gone.text
