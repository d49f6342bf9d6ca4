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


class RemoteHost(Base):
    """What we learned about another server: which signature scheme it accepts."""

    __tablename__ = "remote_hosts"

    host: Mapped[str] = mapped_column(String(255), primary_key=True)
    signature_scheme: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
