"""Followers get an Update of the actor when the profile changed, and only then."""

from __future__ import annotations

from dataclasses import replace

from app.services.profile_updates import announce_profile_change
from tests.app.test_posting import add_followers, queued


async def test_profile_change_is_announced_once(asgi, fake_remote):
    await add_followers(asgi, fake_remote, [("https://a.example", "x")])
    rt = asgi.rt
    assert await announce_profile_change(rt) is True
    update, inboxes = await queued(rt, "Update")
    assert update["object"]["id"] == "https://myna.test/users/myna"
    assert update["object"]["type"] == "Service" and inboxes == ["https://a.example/inbox"]

    assert await announce_profile_change(rt) is False  # nothing changed since

    rt.settings = replace(rt.settings, display_name="Myna the Second")
    assert await announce_profile_change(rt) is True
    update, _ = await queued(rt, "Update")
    assert update["object"]["name"] == "Myna the Second"
    assert await announce_profile_change(rt) is False
