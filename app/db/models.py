"""Database models. Every durable queue row has a state, attempts, next-attempt time and errors."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, UTCDateTime


class LocalActor(Base):
    """An actor hosted here: the owner (and, later, personas)."""

    __tablename__ = "local_actors"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RemoteActor(Base):
    """A cached copy of another server's actor document."""

    __tablename__ = "remote_actors"

    id: Mapped[int] = mapped_column(primary_key=True)
    uri: Mapped[str] = mapped_column(String(2048), unique=True)
    type: Mapped[str] = mapped_column(String(32))
    username: Mapped[str | None] = mapped_column(String(255))
    domain: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str | None] = mapped_column(Text)
    inbox: Mapped[str] = mapped_column(String(2048))
    shared_inbox: Mapped[str | None] = mapped_column(String(2048))
    url: Mapped[str | None] = mapped_column(String(2048))
    document: Mapped[str] = mapped_column(Text)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime())
    gone_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    blocked_us_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    moved_to: Mapped[str | None] = mapped_column(String(2048))


class RemoteKey(Base):
    """A public key of another server's actor, cached by keyId."""

    __tablename__ = "remote_keys"

    key_id: Mapped[str] = mapped_column(String(2048), primary_key=True)
    owner_uri: Mapped[str] = mapped_column(String(2048), index=True)
    public_key: Mapped[str] = mapped_column(Text)  # PEM or multibase
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Follower(Base):
    """A remote actor following a local actor (pending until approved when locked)."""

    __tablename__ = "followers"
    __table_args__ = (UniqueConstraint("local_actor_id", "remote_actor_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    local_actor_id: Mapped[int] = mapped_column(ForeignKey("local_actors.id", ondelete="CASCADE"))
    remote_actor_id: Mapped[int] = mapped_column(
        ForeignKey("remote_actors.id", ondelete="CASCADE"), index=True
    )
    follow_activity_id: Mapped[str] = mapped_column(String(2048))
    follow_activity: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))  # pending | accepted
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Following(Base):
    """A local actor following a remote actor."""

    __tablename__ = "following"
    __table_args__ = (UniqueConstraint("local_actor_id", "remote_actor_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    local_actor_id: Mapped[int] = mapped_column(ForeignKey("local_actors.id", ondelete="CASCADE"))
    remote_actor_id: Mapped[int] = mapped_column(
        ForeignKey("remote_actors.id", ondelete="CASCADE"), index=True
    )
    follow_activity_id: Mapped[str] = mapped_column(String(2048), unique=True)
    state: Mapped[str] = mapped_column(String(16))  # pending | accepted | rejected
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class InboxItem(Base):
    """A verified incoming activity waiting for (or done with) processing."""

    __tablename__ = "inbox_items"
    __table_args__ = (Index("ix_inbox_items_state_next", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[str] = mapped_column(String(2048), unique=True)
    activity_type: Mapped[str] = mapped_column(String(64))
    actor_uri: Mapped[str] = mapped_column(String(2048))
    signer_key_id: Mapped[str] = mapped_column(String(2048))
    payload: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))  # pending|processing|done|unhandled|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Notification(Base):
    """Something the owner should see: a follow, a request, a mention..."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    local_actor_id: Mapped[int] = mapped_column(ForeignKey("local_actors.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    actor_uri: Mapped[str] = mapped_column(String(2048))
    object_uri: Mapped[str | None] = mapped_column(String(2048))
    activity_id: Mapped[str | None] = mapped_column(String(2048))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OutgoingActivity(Base):
    """An activity a local actor sent; its JSON is kept as delivered."""

    __tablename__ = "outgoing_activities"

    id: Mapped[int] = mapped_column(primary_key=True)
    uri: Mapped[str] = mapped_column(String(2048), unique=True)
    type: Mapped[str] = mapped_column(String(64))
    local_actor_id: Mapped[int] = mapped_column(ForeignKey("local_actors.id", ondelete="CASCADE"))
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class Delivery(Base):
    """One activity to one target inbox: the unit of the durable delivery queue."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("activity_id", "inbox_url"),
        Index("ix_deliveries_state_next", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(
        ForeignKey("outgoing_activities.id", ondelete="CASCADE")
    )
    inbox_url: Mapped[str] = mapped_column(String(2048))
    state: Mapped[str] = mapped_column(String(16))  # pending | processing | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DeliveryAttempt(Base):
    """One try of one delivery: what the inbox answered (or why there was no answer)."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), index=True
    )
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    scheme: Mapped[str | None] = mapped_column(String(32))


class RemoteHost(Base):
    """What we learned about another server: its signature scheme, and whether it is down."""

    __tablename__ = "remote_hosts"

    host: Mapped[str] = mapped_column(String(255), primary_key=True)
    signature_scheme: Mapped[str | None] = mapped_column(String(32))
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    circuit_open_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Post(Base):
    """A Note: written here (``local_actor_id`` set) or received from another server."""

    __tablename__ = "posts"
    __table_args__ = (
        Index("ix_posts_author_published", "author_uri", "published_at"),
        Index("ix_posts_local_published", "local_actor_id", "published_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uri: Mapped[str] = mapped_column(String(2048), unique=True)
    url: Mapped[str | None] = mapped_column(String(2048))
    local_actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("local_actors.id", ondelete="CASCADE")
    )
    author_uri: Mapped[str] = mapped_column(String(2048))
    visibility: Mapped[str] = mapped_column(String(16))  # public|unlisted|followers|direct
    summary: Mapped[str | None] = mapped_column(Text)  # content warning
    sensitive: Mapped[bool] = mapped_column(default=False)
    content: Mapped[str] = mapped_column(Text)  # HTML (sanitised when remote)
    source: Mapped[str | None] = mapped_column(Text)  # the plain text a local post was written in
    language: Mapped[str | None] = mapped_column(String(16))
    in_reply_to: Mapped[str | None] = mapped_column(String(2048), index=True)
    quote_of: Mapped[str | None] = mapped_column(String(2048))
    to_json: Mapped[str] = mapped_column(Text, default="[]")
    cc_json: Mapped[str] = mapped_column(Text, default="[]")
    tags_json: Mapped[str] = mapped_column(Text, default="[]")  # AS2 Mention/Hashtag tags
    generator_json: Mapped[str | None] = mapped_column(Text)  # AI provenance (AS2 generator)
    raw: Mapped[str | None] = mapped_column(Text)  # a remote post's original JSON
    published_at: Mapped[datetime] = mapped_column(UTCDateTime())
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    pinned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PostHashtag(Base):
    """A hashtag of a post, for tag pages (names lower-cased, without '#')."""

    __tablename__ = "post_hashtags"

    post_id: Mapped[int] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(255), primary_key=True, index=True)


class Media(Base):
    """An image attached to a post: a stripped local file, or a remote URL."""

    __tablename__ = "media"

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int | None] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    file_name: Mapped[str | None] = mapped_column(String(255))  # under MYNA_DATA_DIR/media
    remote_url: Mapped[str | None] = mapped_column(String(2048))
    media_type: Mapped[str] = mapped_column(String(64))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    blurhash: Mapped[str | None] = mapped_column(String(128))
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Interaction(Base):
    """A Like, Announce, emoji reaction or quote that another actor made of a post."""

    __tablename__ = "interactions"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # like | announce | react | quote
    actor_uri: Mapped[str] = mapped_column(String(2048))
    object_uri: Mapped[str] = mapped_column(String(2048), index=True)
    activity_id: Mapped[str] = mapped_column(String(2048), unique=True)
    content: Mapped[str | None] = mapped_column(Text)  # the emoji of a reaction
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OwnInteraction(Base):
    """A Like or Announce the owner made of someone's post (kept to send the Undo)."""

    __tablename__ = "own_interactions"
    __table_args__ = (UniqueConstraint("local_actor_id", "kind", "object_uri"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    local_actor_id: Mapped[int] = mapped_column(ForeignKey("local_actors.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # like | announce
    object_uri: Mapped[str] = mapped_column(String(2048))
    activity_uri: Mapped[str] = mapped_column(String(2048), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TimelineEntry(Base):
    """A post (or a boost of one) by an account the owner follows."""

    __tablename__ = "timeline_entries"
    __table_args__ = (UniqueConstraint("post_uri", "boosted_by"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    post_uri: Mapped[str] = mapped_column(String(2048), index=True)
    boosted_by: Mapped[str | None] = mapped_column(String(2048))
    activity_id: Mapped[str | None] = mapped_column(String(2048))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class Block(Base):
    """An actor or a whole domain the owner blocked."""

    __tablename__ = "blocks"
    __table_args__ = (UniqueConstraint("local_actor_id", "target"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    local_actor_id: Mapped[int] = mapped_column(ForeignKey("local_actors.id", ondelete="CASCADE"))
    target: Mapped[str] = mapped_column(String(2048))  # actor URI or bare domain
    is_domain: Mapped[bool] = mapped_column(default=False)
    activity_uri: Mapped[str | None] = mapped_column(String(2048))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
