"""WebFinger, host-meta, NodeInfo, the actor document and content negotiation."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from federation.keys import multibase_to_public_key

AS2_ACCEPTS = [
    "application/activity+json",
    "application/ld+json",
    'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
    "application/activity+json, application/ld+json",
    'application/ld+json; profile="https://www.w3.org/ns/activitystreams", '
    "application/activity+json, text/html;q=0.1",
]
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.mark.parametrize(
    "resource",
    [
        "acct:myna@myna.test",
        "acct%3Amyna%40myna.test",
        "myna@myna.test",
        "acct:MYNA@Myna.Test",
        "https://myna.test/users/myna",
        "https://myna.test/@myna",
    ],
)
async def test_webfinger_resolves_owner_in_every_form(asgi, resource):
    response = await asgi.client.get(f"/.well-known/webfinger?resource={resource}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/jrd+json")
    jrd = response.json()
    assert jrd["subject"] == "acct:myna@myna.test"
    selves = [link for link in jrd["links"] if link["rel"] == "self"]
    assert len(selves) == 1
    assert selves[0]["href"] == "https://myna.test/users/myna"
    assert selves[0]["type"] == "application/activity+json"
    rels = {link["rel"] for link in jrd["links"]}
    assert "http://webfinger.net/rel/profile-page" in rels
    assert "http://ostatus.org/schema/1.0/subscribe" in rels


async def test_webfinger_resolves_instance_actor(asgi):
    response = await asgi.client.get("/.well-known/webfinger?resource=acct:myna.test@myna.test")
    assert response.status_code == 200
    assert [link["href"] for link in response.json()["links"] if link["rel"] == "self"] == [
        "https://myna.test/actor"
    ]


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("", 400),
        ("?resource=", 400),
        ("?resource=nonsense", 400),
        ("?resource=acct:other@myna.test", 404),
        ("?resource=acct:myna@elsewhere.example", 404),
    ],
)
async def test_webfinger_errors(asgi, query, status):
    response = await asgi.client.get(f"/.well-known/webfinger{query}")
    assert response.status_code == status
    assert "error" in response.json()


async def test_webfinger_round_trip_closes(asgi):
    actor = (
        await asgi.client.get("/users/myna", headers={"Accept": "application/activity+json"})
    ).json()
    host = actor["id"].split("/")[2]
    jrd = (
        await asgi.client.get(
            f"/.well-known/webfinger?resource=acct:{actor['preferredUsername']}@{host}"
        )
    ).json()
    assert jrd["subject"] == f"acct:{actor['preferredUsername']}@{host}"
    assert [link["href"] for link in jrd["links"] if link["rel"] == "self"] == [actor["id"]]


async def test_host_meta_xrd_and_json(asgi):
    xrd = await asgi.client.get("/.well-known/host-meta")
    assert xrd.headers["content-type"].startswith("application/xrd+xml")
    assert 'template="https://myna.test/.well-known/webfinger?resource={uri}"' in xrd.text
    as_json = await asgi.client.get(
        "/.well-known/host-meta", headers={"Accept": "application/json"}
    )
    assert as_json.json()["links"][0]["template"].endswith("resource={uri}")


@pytest.mark.parametrize("version", ["2.0", "2.1"])
async def test_nodeinfo_validates_against_schema(asgi, version):
    links = (await asgi.client.get("/.well-known/nodeinfo")).json()["links"]
    href = next(link["href"] for link in links if link["rel"].endswith(f"/schema/{version}"))
    response = await asgi.client.get(href.removeprefix("https://myna.test"))
    assert response.status_code == 200
    assert f"schema/{version}#" in response.headers["content-type"]
    document = response.json()
    schema = json.loads((FIXTURES / f"nodeinfo-{version}.schema.json").read_text())
    jsonschema.validate(document, schema)
    assert document["usage"]["users"]["total"] == 1
    assert document["openRegistrations"] is False


@pytest.mark.parametrize("accept", AS2_ACCEPTS)
async def test_actor_served_as_activitystreams(asgi, accept):
    response = await asgi.client.get("/users/myna", headers={"Accept": accept})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/activity+json")
    assert "Accept" in response.headers["vary"]


async def test_actor_served_as_html_to_browsers(asgi):
    response = await asgi.client.get("/users/myna", headers={"Accept": "text/html,*/*;q=0.8"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<link rel="alternate" type="application/activity+json"' in response.text
    assert "@myna@myna.test" in response.text


async def test_actor_document_has_every_field(asgi):
    actor = (
        await asgi.client.get("/users/myna", headers={"Accept": "application/activity+json"})
    ).json()
    assert "https://www.w3.org/ns/activitystreams" in actor["@context"]
    assert actor["id"] == "https://myna.test/users/myna"
    assert actor["type"] == "Service"
    assert actor["preferredUsername"] == "myna"
    for key in (
        "inbox",
        "outbox",
        "followers",
        "following",
        "featured",
        "url",
        "name",
        "summary",
        "published",
        "icon",
        "image",
    ):
        assert actor[key], key
    assert actor["endpoints"]["sharedInbox"] == "https://myna.test/inbox"
    assert actor["manuallyApprovesFollowers"] is False
    assert actor["discoverable"] is True and actor["indexable"] is True
    assert actor["publicKey"]["owner"] == actor["id"]
    assert actor["publicKey"]["id"] == actor["id"] + "#main-key"
    assert load_pem_public_key(actor["publicKey"]["publicKeyPem"].encode()).key_size == 2048
    (method,) = actor["assertionMethod"]
    assert method["type"] == "Multikey" and method["controller"] == actor["id"]
    multibase_to_public_key(method["publicKeyMultibase"])
    assert isinstance(actor["attachment"], list)
    assert actor["icon"]["type"] == "Image" and actor["icon"]["url"].startswith("https://")
    icon = await asgi.client.get(actor["icon"]["url"].removeprefix("https://myna.test"))
    assert icon.status_code == 200 and icon.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert actor["published"].endswith("T00:00:00Z")


async def test_unknown_actor_is_404(asgi):
    response = await asgi.client.get(
        "/users/nobody", headers={"Accept": "application/activity+json"}
    )
    assert response.status_code == 404


async def test_instance_actor_is_served_unsigned(asgi):
    response = await asgi.client.get("/actor", headers={"Accept": "application/activity+json"})
    assert response.status_code == 200
    doc = response.json()
    assert doc["type"] == "Application"
    assert doc["publicKey"]["owner"] == doc["id"] == "https://myna.test/actor"


@pytest.mark.parametrize(
    "path",
    [
        "/users/myna/followers",
        "/users/myna/following",
        "/users/myna/outbox",
        "/users/myna/collections/featured",
    ],
)
async def test_collections_have_counts(asgi, path):
    response = await asgi.client.get(path, headers={"Accept": "application/activity+json"})
    assert response.status_code == 200
    doc = response.json()
    assert doc["type"] == "OrderedCollection"
    assert doc["totalItems"] == 0
    assert doc["id"] == "https://myna.test" + path


async def test_healthz(asgi):
    response = await asgi.client.get("/healthz")
    assert response.json() == {"status": "ok"}


async def test_subscribe_template_target_explains_how_to_interact(asgi):
    jrd = (await asgi.client.get("/.well-known/webfinger?resource=acct:myna@myna.test")).json()
    template = next(link["template"] for link in jrd["links"] if "template" in link)
    url = template.replace("{uri}", "https://remote.example/users/alice")
    page = await asgi.client.get(url.removeprefix("https://myna.test"))
    assert page.status_code == 200
    assert "myna follow https://remote.example/users/alice" in page.text
    assert (await asgi.client.get("/authorize_interaction")).status_code == 400


@pytest.mark.parametrize("show", [True, False])
async def test_follower_pages_follow_the_setting(asgi, fake_remote, show):
    from dataclasses import replace

    from app.db.models import Follower
    from app.store.actors import upsert_remote_actor
    from federation.parse import parse_actor

    rt = asgi.rt
    rt.settings = replace(rt.settings, show_follows=show)
    actor = fake_remote.add_actor("https://a.example", "x")
    async with rt.writes.begin() as session:
        row = await upsert_remote_actor(session, parse_actor(actor.document), rt.clock())
        session.add(
            Follower(
                local_actor_id=1,
                remote_actor_id=row.id,
                follow_activity_id="f",
                follow_activity="{}",
                state="accepted",
                created_at=rt.clock(),
                updated_at=rt.clock(),
            )
        )
    accept = {"Accept": "application/activity+json"}
    doc = (await asgi.client.get("/users/myna/followers", headers=accept)).json()
    assert doc["totalItems"] == 1
    if show:
        page = (
            await asgi.client.get(doc["first"].removeprefix("https://myna.test"), headers=accept)
        ).json()
        assert page["orderedItems"] == [actor.id]
    else:
        assert "first" not in doc and "orderedItems" not in doc


async def test_metrics_report_queue_depths_and_counts(asgi):
    from app.services import posting

    await posting.publish(asgi.rt, posting.Draft(text="counted"))
    response = await asgi.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    lines = response.text.splitlines()
    assert "myna_local_posts 1" in lines
    assert "myna_followers 0" in lines
    assert "# TYPE myna_deliveries gauge" in lines
