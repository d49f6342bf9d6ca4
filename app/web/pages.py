"""Public HTML pages (jinja2 templates) and static media."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response

from app.errors import BadRequest, NotFound
from app.services.profile import AVATAR, HEADER, counts
from app.web.state import owner_of, runtime_of

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def create_templates() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(), enable_async=False
    )


def render(request: Request, name: str, **context: object) -> Response:
    env: Environment = request.app.state.templates
    html = env.get_template(name).render(**context)
    return Response(html, media_type="text/html; charset=utf-8", headers={"Vary": "Accept"})


async def profile_page(request: Request) -> Response:
    username = request.path_params.get("username")
    owner = await owner_of(request, username)
    rt = runtime_of(request)
    media = rt.settings.media_dir
    return render(
        request,
        "profile.html",
        settings=rt.settings,
        urls=rt.urls,
        owner=owner,
        counts=await counts(rt, owner),
        avatar=rt.urls.media(AVATAR) if (media / AVATAR).is_file() else None,
        header=rt.urls.media(HEADER) if (media / HEADER).is_file() else None,
    )


async def home(request: Request) -> Response:
    return RedirectResponse(runtime_of(request).urls.profile(), status_code=302)


async def media(request: Request) -> Response:
    rt = runtime_of(request)
    name = request.path_params["name"]
    root = rt.settings.media_dir.resolve()
    path = (root / name).resolve()
    if path.parent != root or not path.is_file():
        raise NotFound("no such file")
    return FileResponse(path, headers={"Cache-Control": "public, max-age=86400"})


async def authorize_interaction(request: Request) -> Response:
    """Target of the WebFinger subscribe template: how the owner acts on a remote URI here."""
    uri = request.query_params.get("uri", "").strip()
    if not uri:
        raise BadRequest("missing uri parameter")
    rt = runtime_of(request)
    return render(request, "interact.html", settings=rt.settings, urls=rt.urls, uri=uri)
