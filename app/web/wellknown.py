"""WebFinger, host-meta and NodeInfo."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from app.config import VERSION
from app.errors import BadRequest, NotFound
from app.runtime import Runtime
from app.services.profile import counts
from app.web.negotiation import json_response
from app.web.state import owner_of, runtime_of
from federation.errors import ParseError
from federation.nodeinfo import NODEINFO_CONTENT_TYPES, build_nodeinfo, build_nodeinfo_links
from federation.webfinger import (
    UrlResource,
    build_host_meta_json,
    build_host_meta_xrd,
    build_jrd,
    parse_resource,
)

JRD = "application/jrd+json"


def _subject_for(rt: Runtime, resource: str) -> tuple[str, str] | None:
    """Map a WebFinger resource to (subject, actor id) when it names an actor hosted here."""
    s, urls = rt.settings, rt.urls
    try:
        parsed = parse_resource(resource)
    except ParseError as exc:
        raise BadRequest(f"invalid resource: {exc}") from exc
    if isinstance(parsed, UrlResource):
        url = parsed.url.rstrip("/")
        if url in (urls.actor(), urls.profile()):
            return f"acct:{s.username}@{s.domain}", urls.actor()
        if url in (urls.base, urls.instance_actor):
            return f"acct:{s.domain.split(':')[0]}@{s.domain}", urls.instance_actor
        return None
    if parsed.matches(s.username, s.domain):
        return f"acct:{s.username}@{s.domain}", urls.actor()
    instance_name = s.domain.split(":")[0]
    if parsed.matches(instance_name, s.domain):
        return f"acct:{instance_name}@{s.domain}", urls.instance_actor
    return None


async def webfinger(request: Request) -> Response:
    rt = runtime_of(request)
    resource = request.query_params.get("resource")
    if not resource:
        raise BadRequest("missing resource parameter")
    found = _subject_for(rt, resource)
    if found is None:
        raise NotFound("no such account here")
    subject, actor_id = found
    is_owner = actor_id == rt.urls.actor()
    jrd = build_jrd(
        subject=subject,
        actor_id=actor_id,
        profile_url=rt.urls.profile() if is_owner else rt.urls.base + "/",
        aliases=[rt.urls.profile(), actor_id] if is_owner else [actor_id],
        subscribe_template=rt.urls.base + "/authorize_interaction?uri={uri}",
    )
    return json_response(jrd, media_type=JRD)


async def host_meta(request: Request) -> Response:
    rt = runtime_of(request)
    template = rt.urls.base + "/.well-known/webfinger?resource={uri}"
    accept = request.headers.get("accept", "")
    if request.url.path.endswith(".json") or ("json" in accept and "xml" not in accept):
        return json_response(build_host_meta_json(template), media_type=JRD)
    return Response(
        build_host_meta_xrd(template),
        media_type="application/xrd+xml",
        headers={"Access-Control-Allow-Origin": "*"},
    )


async def nodeinfo_links(request: Request) -> Response:
    return json_response(build_nodeinfo_links(runtime_of(request).urls.base))


async def nodeinfo(request: Request) -> Response:
    version = request.path_params["version"]
    if version not in ("2.0", "2.1"):
        raise NotFound("unknown NodeInfo version")
    rt = runtime_of(request)
    figures = await counts(rt, await owner_of(request))
    document = build_nodeinfo(
        version,
        software_version=VERSION,
        total_users=1,
        active_month=figures.active_month,
        active_halfyear=figures.active_halfyear,
        local_posts=figures.posts,
        node_name=rt.settings.display_name,
        metadata={"nodeDescription": rt.settings.summary, "singleUser": True},
    )
    return json_response(document, media_type=NODEINFO_CONTENT_TYPES[version])
