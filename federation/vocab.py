"""ActivityStreams terms Myna knows, and the JSON-LD contexts it sends (never fetched)."""

from __future__ import annotations

from typing import Any, Final

AS_NS: Final = "https://www.w3.org/ns/activitystreams"
PUBLIC: Final = "https://www.w3.org/ns/activitystreams#Public"
PUBLIC_ALIASES: Final = frozenset({PUBLIC, "as:Public", "Public"})
SECURITY_V1: Final = "https://w3id.org/security/v1"
MULTIKEY_V1: Final = "https://w3id.org/security/multikey/v1"

# Mirrors Mastodon's ContextHelper so that JSON-LD consumers and Mastodon read the same terms.
EXTENSIONS: Final[dict[str, Any]] = {
    "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
    "sensitive": "as:sensitive",
    "Hashtag": "as:Hashtag",
    "movedTo": {"@id": "as:movedTo", "@type": "@id"},
    "alsoKnownAs": {"@id": "as:alsoKnownAs", "@type": "@id"},
    "toot": "http://joinmastodon.org/ns#",
    "featured": {"@id": "toot:featured", "@type": "@id"},
    "featuredTags": {"@id": "toot:featuredTags", "@type": "@id"},
    "discoverable": "toot:discoverable",
    "indexable": "toot:indexable",
    "Emoji": "toot:Emoji",
    "blurhash": "toot:blurhash",
    "focalPoint": {"@container": "@list", "@id": "toot:focalPoint"},
    "schema": "http://schema.org#",
    "PropertyValue": "schema:PropertyValue",
    "value": "schema:value",
}

ACTOR_CONTEXT: Final[list[Any]] = [AS_NS, SECURITY_V1, MULTIKEY_V1, EXTENSIONS]
ACTIVITY_CONTEXT: Final[list[Any]] = [AS_NS, EXTENSIONS]

ACTOR_TYPES: Final = frozenset({"Person", "Service", "Application", "Group", "Organization"})

# Every Activity type of the ActivityStreams vocabulary plus the common extensions other
# servers send; anything else is refused at the inbox as unsupported.
ACTIVITY_TYPES: Final = frozenset(
    {
        "Accept",
        "Add",
        "Announce",
        "Arrive",
        "Block",
        "Create",
        "Delete",
        "Dislike",
        "Flag",
        "Follow",
        "Ignore",
        "Invite",
        "Join",
        "Leave",
        "Like",
        "Listen",
        "Move",
        "Offer",
        "Question",
        "Reject",
        "Read",
        "Remove",
        "TentativeReject",
        "TentativeAccept",
        "Travel",
        "Undo",
        "Update",
        "View",
        # Interop: Misskey/Pleroma emoji reactions, FEP-044f quote requests, Pixelfed/Bonfire.
        "EmojiReact",
        "QuoteRequest",
    }
)

# Activities whose object must live on the actor's own origin (Mastodon create.rb/update.rb).
SAME_ORIGIN_OBJECT_TYPES: Final = frozenset({"Create", "Update", "Delete"})
