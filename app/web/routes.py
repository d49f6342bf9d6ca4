"""The one URL map."""

from __future__ import annotations

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.web import federation as ap
from app.web import metrics, pages, posts, wellknown
from app.web.state import runtime_of


async def healthz(request: Request) -> Response:
    rt = runtime_of(request)
    try:
        async with rt.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception:
        return JSONResponse({"status": "error", "error": "database unavailable"}, status_code=503)
    return JSONResponse({"status": "ok"})


ROUTES = [
    Route("/healthz", healthz),
    Route("/metrics", metrics.metrics),
    Route("/.well-known/webfinger", wellknown.webfinger),
    Route("/.well-known/host-meta", wellknown.host_meta),
    Route("/.well-known/host-meta.json", wellknown.host_meta),
    Route("/.well-known/nodeinfo", wellknown.nodeinfo_links),
    Route("/nodeinfo/{version}", wellknown.nodeinfo),
    Route("/", pages.home),
    Route("/@{username}", pages.profile_page),
    Route("/media/{name}", pages.media),
    Route("/authorize_interaction", pages.authorize_interaction),
    Route("/actor", ap.instance_actor),
    Route("/actor/inbox", ap.inbox, methods=["POST"]),
    Route("/inbox", ap.inbox, methods=["POST"]),
    Route("/users/{username}", ap.actor),
    Route("/users/{username}/inbox", ap.inbox, methods=["POST"]),
    Route("/users/{username}/outbox", posts.outbox),
    Route("/users/{username}/followers", ap.followers),
    Route("/users/{username}/following", ap.following),
    Route("/users/{username}/collections/featured", posts.featured),
    Route("/users/{username}/collections/tags", ap.featured_tags),
    Route("/users/{username}/statuses/{token}", posts.status),
    Route("/users/{username}/statuses/{token}/activity", posts.status_activity),
    Route("/users/{username}/statuses/{token}/replies", posts.status_replies),
    Route("/@{username}/{token}", posts.status_page),
    Route("/tags/{name}", posts.tag_page),
    Route("/activities/{token}", ap.activity),
]
