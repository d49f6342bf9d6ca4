"""posts, media, interactions, timeline, blocks

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 08:15:17.524152
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db.base

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "interactions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("actor_uri", sa.String(length=2048), nullable=False),
        sa.Column("object_uri", sa.String(length=2048), nullable=False),
        sa.Column("activity_id", sa.String(length=2048), nullable=False),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("created_at", app.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interactions")),
        sa.UniqueConstraint("activity_id", name=op.f("uq_interactions_activity_id")),
    )
    with op.batch_alter_table("interactions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_interactions_object_uri"), ["object_uri"], unique=False
        )

    op.create_table(
        "timeline_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("post_uri", sa.String(length=2048), nullable=False),
        sa.Column("boosted_by", sa.String(length=2048), nullable=True),
        sa.Column("activity_id", sa.String(length=2048), nullable=True),
        sa.Column("created_at", app.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timeline_entries")),
        sa.UniqueConstraint("post_uri", "boosted_by", name=op.f("uq_timeline_entries_post_uri")),
    )
    with op.batch_alter_table("timeline_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_timeline_entries_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_timeline_entries_post_uri"), ["post_uri"], unique=False
        )

    op.create_table(
        "blocks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("local_actor_id", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=2048), nullable=False),
        sa.Column("is_domain", sa.Boolean(), nullable=False),
        sa.Column("activity_uri", sa.String(length=2048), nullable=True),
        sa.Column("created_at", app.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["local_actor_id"],
            ["local_actors.id"],
            name=op.f("fk_blocks_local_actor_id_local_actors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blocks")),
        sa.UniqueConstraint("local_actor_id", "target", name=op.f("uq_blocks_local_actor_id")),
    )
    op.create_table(
        "own_interactions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("local_actor_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("object_uri", sa.String(length=2048), nullable=False),
        sa.Column("activity_uri", sa.String(length=2048), nullable=False),
        sa.Column("created_at", app.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["local_actor_id"],
            ["local_actors.id"],
            name=op.f("fk_own_interactions_local_actor_id_local_actors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_own_interactions")),
        sa.UniqueConstraint("activity_uri", name=op.f("uq_own_interactions_activity_uri")),
        sa.UniqueConstraint(
            "local_actor_id", "kind", "object_uri", name=op.f("uq_own_interactions_local_actor_id")
        ),
    )
    op.create_table(
        "posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uri", sa.String(length=2048), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=True),
        sa.Column("local_actor_id", sa.Integer(), nullable=True),
        sa.Column("author_uri", sa.String(length=2048), nullable=False),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("sensitive", sa.Boolean(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("in_reply_to", sa.String(length=2048), nullable=True),
        sa.Column("quote_of", sa.String(length=2048), nullable=True),
        sa.Column("to_json", sa.Text(), nullable=False),
        sa.Column("cc_json", sa.Text(), nullable=False),
        sa.Column("tags_json", sa.Text(), nullable=False),
        sa.Column("generator_json", sa.Text(), nullable=True),
        sa.Column("raw", sa.Text(), nullable=True),
        sa.Column("published_at", app.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("edited_at", app.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", app.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("pinned_at", app.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["local_actor_id"],
            ["local_actors.id"],
            name=op.f("fk_posts_local_actor_id_local_actors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_posts")),
        sa.UniqueConstraint("uri", name=op.f("uq_posts_uri")),
    )
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_posts_author_published", ["author_uri", "published_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_posts_in_reply_to"), ["in_reply_to"], unique=False)
        batch_op.create_index(
            "ix_posts_local_published", ["local_actor_id", "published_at"], unique=False
        )

    op.create_table(
        "media",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=True),
        sa.Column("remote_url", sa.String(length=2048), nullable=True),
        sa.Column("media_type", sa.String(length=64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("blurhash", sa.String(length=128), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", app.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name=op.f("fk_media_post_id_posts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media")),
    )
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_media_post_id"), ["post_id"], unique=False)

    op.create_table(
        "post_hashtags",
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["posts.id"],
            name=op.f("fk_post_hashtags_post_id_posts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("post_id", "name", name=op.f("pk_post_hashtags")),
    )
    with op.batch_alter_table("post_hashtags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_post_hashtags_name"), ["name"], unique=False)

    with op.batch_alter_table("remote_actors", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("blocked_us_at", app.db.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("moved_to", sa.String(length=2048), nullable=True))

    with op.batch_alter_table("remote_hosts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("consecutive_failures", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("circuit_open_until", app.db.base.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:

    with op.batch_alter_table("remote_hosts", schema=None) as batch_op:
        batch_op.drop_column("circuit_open_until")
        batch_op.drop_column("consecutive_failures")

    with op.batch_alter_table("remote_actors", schema=None) as batch_op:
        batch_op.drop_column("moved_to")
        batch_op.drop_column("blocked_us_at")

    with op.batch_alter_table("post_hashtags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_post_hashtags_name"))

    op.drop_table("post_hashtags")
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_media_post_id"))

    op.drop_table("media")
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.drop_index("ix_posts_local_published")
        batch_op.drop_index(batch_op.f("ix_posts_in_reply_to"))
        batch_op.drop_index("ix_posts_author_published")

    op.drop_table("posts")
    op.drop_table("own_interactions")
    op.drop_table("blocks")
    with op.batch_alter_table("timeline_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_timeline_entries_post_uri"))
        batch_op.drop_index(batch_op.f("ix_timeline_entries_created_at"))

    op.drop_table("timeline_entries")
    with op.batch_alter_table("interactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_interactions_object_uri"))

    op.drop_table("interactions")
