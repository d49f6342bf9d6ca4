"""Every URL Myna mints, in one place, derived from the settings."""

from __future__ import annotations

from dataclasses import dataclass

from app.config import Settings


@dataclass(frozen=True)
class Urls:
    base: str
    username: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Urls:
        return cls(settings.base_url, settings.username)

    def actor(self, username: str | None = None) -> str:
        return f"{self.base}/users/{username or self.username}"

    def actor_key(self, username: str | None = None) -> str:
        return f"{self.actor(username)}#main-key"

    def actor_ed25519_key(self, username: str | None = None) -> str:
        return f"{self.actor(username)}#ed25519-key"

    def inbox(self, username: str | None = None) -> str:
        return f"{self.actor(username)}/inbox"

    def outbox(self, username: str | None = None) -> str:
        return f"{self.actor(username)}/outbox"

    def followers(self, username: str | None = None) -> str:
        return f"{self.actor(username)}/followers"

    def following(self, username: str | None = None) -> str:
        return f"{self.actor(username)}/following"

    def featured(self, username: str | None = None) -> str:
        return f"{self.actor(username)}/collections/featured"

    def featured_tags(self, username: str | None = None) -> str:
        return f"{self.actor(username)}/collections/tags"

    def profile(self, username: str | None = None) -> str:
        return f"{self.base}/@{username or self.username}"

    @property
    def shared_inbox(self) -> str:
        return f"{self.base}/inbox"

    @property
    def instance_actor(self) -> str:
        return f"{self.base}/actor"

    @property
    def instance_key(self) -> str:
        return f"{self.instance_actor}#main-key"

    def activity(self, token: str) -> str:
        return f"{self.base}/activities/{token}"

    def tag(self, name: str) -> str:
        return f"{self.base}/tags/{name.lower()}"

    def media(self, name: str) -> str:
        return f"{self.base}/media/{name}"
