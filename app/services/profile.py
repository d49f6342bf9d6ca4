"""The owner's public profile: actor document, counts, and the instance actor."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from app.db.models import LocalActor
from app.runtime import Runtime
from app.services import labels
from app.store import follows as follow_store
from app.store import posts as post_store
from federation.builders import ActorProfile, Image, build_actor, build_instance_actor
from federation.keys import ed25519_to_multibase, public_key_to_pem

AVATAR = "avatar.png"
HEADER = "header.png"


def text_to_html(text: str) -> str:
    """Plain text as HTML paragraphs, everything escaped."""
    paragraphs = [p for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]
    return "".join(
        "<p>" + "<br>".join(html.escape(line) for line in p.split("\n")) + "</p>"
        for p in paragraphs
    )


def _media_image(rt: Runtime, name: str, description: str) -> Image | None:
    if not (rt.settings.media_dir / name).is_file():
        return None
    return Image(url=rt.urls.media(name), media_type="image/png", description=description)


def actor_document(rt: Runtime, owner: LocalActor) -> dict[str, Any]:
    """The owner's actor document as served at its id."""
    s, urls = rt.settings, rt.urls
    fields = [
        (name, text_to_html(value).removeprefix("<p>").removesuffix("</p>"))
        for name, value in (*s.profile_fields, *labels.profile_fields(s))
    ]
    profile = ActorProfile(
        id=urls.actor(owner.username),
        type=s.actor_type,
        username=owner.username,
        webfinger=f"{owner.username}@{s.domain}",
        name=s.display_name,
        summary_html=text_to_html(s.summary),
        profile_url=urls.profile(owner.username),
        inbox=urls.inbox(owner.username),
        outbox=urls.outbox(owner.username),
        followers=urls.followers(owner.username),
        following=urls.following(owner.username),
        featured=urls.featured(owner.username),
        featured_tags=urls.featured_tags(owner.username),
        shared_inbox=urls.shared_inbox,
        public_key_pem=public_key_to_pem(rt.keys.actor_rsa.public_key()),
        ed25519_multibase=ed25519_to_multibase(rt.keys.actor_ed25519.public_key()),
        manually_approves_followers=s.manually_approves_followers,
        discoverable=s.discoverable,
        indexable=s.indexable,
        published=owner.created_at.replace(hour=0, minute=0, second=0, microsecond=0),
        icon=_media_image(rt, AVATAR, f"Avatar of {s.display_name}"),
        header=_media_image(rt, HEADER, f"Header image of {s.display_name}"),
        fields=fields,
    )
    return build_actor(profile)


def instance_actor_document(rt: Runtime) -> dict[str, Any]:
    urls = rt.urls
    return build_instance_actor(
        actor_id=urls.instance_actor,
        domain=rt.settings.domain,
        inbox=urls.shared_inbox,
        outbox=urls.instance_actor + "/outbox",
        profile_url=urls.base + "/",
        public_key_pem=public_key_to_pem(rt.keys.instance_rsa.public_key()),
    )


@dataclass(frozen=True)
class Counts:
    followers: int
    following: int
    posts: int
    active_month: int
    active_halfyear: int


async def counts(rt: Runtime, owner: LocalActor) -> Counts:
    """Real usage figures for collections and NodeInfo."""
    async with rt.sessions() as session:
        followers = await follow_store.count_followers(session, owner.id)
        following = await follow_store.count_following(session, owner.id)
        posts = await post_store.count_local_posts(session, owner.id)
        last = await post_store.last_local_post_at(session, owner.id)
    now = rt.clock()
    last = last or owner.created_at
    return Counts(
        followers=followers,
        following=following,
        posts=posts,
        active_month=int(now - last <= timedelta(days=30)),
        active_halfyear=int(now - last <= timedelta(days=180)),
    )
