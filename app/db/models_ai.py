"""Models of AI-assisted posting: personas, drafts with their provenance, schedules and runs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, UTCDateTime


class Persona(Base):
    """A voice the generator writes in: system prompt, prompt template, language and limits."""

    __tablename__ = "personas"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    system_prompt: Mapped[str] = mapped_column(Text)
    prompt_template: Mapped[str] = mapped_column(Text)  # jinja2, rendered in a sandbox
    language: Mapped[str] = mapped_column(String(16), default="en")
    visibility: Mapped[str] = mapped_column(String(16), default="unlisted")
    hashtags_json: Mapped[str] = mapped_column(Text, default="[]")
    max_posts_per_day: Mapped[int] = mapped_column(Integer, default=12)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Draft(Base):
    """A generated (or edited) candidate post with everything needed to say what made it."""

    __tablename__ = "drafts"
    __table_args__ = (Index("ix_drafts_state_publish_at", "state", "publish_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    batch: Mapped[str] = mapped_column(String(32), index=True)  # candidates generated together
    persona_id: Mapped[int | None] = mapped_column(ForeignKey("personas.id", ondelete="SET NULL"))
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("schedules.id", ondelete="SET NULL"))
    # candidate | approved (publish_at set: scheduled) | published | rejected | blocked | failed
    state: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    original_text: Mapped[str] = mapped_column(Text)  # as generated; kept when the owner edits
    summary: Mapped[str | None] = mapped_column(Text)
    visibility: Mapped[str] = mapped_column(String(16))
    language: Mapped[str | None] = mapped_column(String(16))
    in_reply_to: Mapped[str | None] = mapped_column(String(2048))
    reply_to_actor: Mapped[str | None] = mapped_column(String(2048), index=True)
    image_file: Mapped[str | None] = mapped_column(String(255))  # under MYNA_DATA_DIR/drafts
    image_alt: Mapped[str | None] = mapped_column(Text)
    provider: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(128))
    image_model: Mapped[str | None] = mapped_column(String(128))
    rendered_prompt: Mapped[str] = mapped_column(Text)
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost: Mapped[float] = mapped_column(Float, default=0.0)
    moderation_json: Mapped[str | None] = mapped_column(Text)
    score: Mapped[float | None] = mapped_column(Float)
    rank: Mapped[int | None] = mapped_column(Integer)
    publish_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    post_uri: Mapped[str | None] = mapped_column(String(2048))
    error: Mapped[str | None] = mapped_column(Text)
    # The rest of the provenance as JSON: persona name, API, seed, ranking method and reason.
    details_json: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Schedule(Base):
    """A cron expression in a time zone that drafts (default) or publishes on its own."""

    __tablename__ = "schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    persona_id: Mapped[int | None] = mapped_column(ForeignKey("personas.id", ondelete="SET NULL"))
    cron: Mapped[str] = mapped_column(String(128))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    mode: Mapped[str] = mapped_column(String(16), default="draft")  # draft | publish
    prompt: Mapped[str | None] = mapped_column(Text)
    with_image: Mapped[bool] = mapped_column(Boolean, default=False)
    candidates: Mapped[int] = mapped_column(Integer, default=1)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ScheduleRun(Base):
    """One slot of a schedule; the unique (schedule, slot) row makes each slot run once."""

    __tablename__ = "schedule_runs"
    __table_args__ = (UniqueConstraint("schedule_id", "slot_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"))
    slot_at: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(16))  # running | done | failed | skipped
    draft_batch: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
