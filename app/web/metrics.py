"""``/metrics``: queue depths and counts in the Prometheus text format."""

from __future__ import annotations

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response

from app.db.models import Delivery, Follower, InboxItem, Post
from app.db.models_ai import Draft
from app.web.state import runtime_of

HELP = {
    "myna_inbox_items": "Incoming activities by processing state.",
    "myna_deliveries": "Outgoing deliveries by state.",
    "myna_drafts": "Generated drafts by state.",
    "myna_followers": "Accepted followers of the owner.",
    "myna_local_posts": "Posts written here, deleted ones excluded.",
}


async def metrics(request: Request) -> Response:
    rt = runtime_of(request)
    lines: list[str] = []

    def gauge(name: str, values: dict[str, int] | int, label: str = "state") -> None:
        lines.append(f"# HELP {name} {HELP[name]}")
        lines.append(f"# TYPE {name} gauge")
        if isinstance(values, int):
            lines.append(f"{name} {values}")
        else:
            lines.extend(
                f'{name}{{{label}="{key}"}} {count}' for key, count in sorted(values.items())
            )

    async with rt.sessions() as session:
        for name, model in (
            ("myna_inbox_items", InboxItem),
            ("myna_deliveries", Delivery),
            ("myna_drafts", Draft),
        ):
            rows = await session.execute(select(model.state, func.count()).group_by(model.state))
            gauge(name, {state: int(count) for state, count in rows.all()})
        followers = await session.scalar(
            select(func.count()).select_from(Follower).where(Follower.state == "accepted")
        )
        posts = await session.scalar(
            select(func.count())
            .select_from(Post)
            .where(Post.local_actor_id.is_not(None), Post.deleted_at.is_(None))
        )
    gauge("myna_followers", int(followers or 0))
    gauge("myna_local_posts", int(posts or 0))
    return Response("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")
