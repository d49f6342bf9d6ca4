"""WebFinger (RFC 7033) and host-meta, both the serving and the looking-up side.

Serving: `parse_resource` reads the ``resource`` query value, `build_jrd` answers it in
the shape Mastodon accepts (interop.md 1.2), `build_host_meta_xrd` / `build_host_meta_json`
point at the WebFinger endpoint (1.5).

Looking up: `resolve_handle` turns ``user@host`` into the actor URL, checking that the
answer loops back to the handle (1.3).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit
from xml.sax.saxutils import quoteattr

import httpx

from federation.client import (
    AS2_CONTENT_TYPE,
    AS2_LD_CONTENT_TYPE,
    get_following_redirects,
    is_as2_content_type,
    read_limited,
)
from federation.errors import FetchStatusError, ParseError, WebFingerError

__all__ = [
    "JRD_ACCEPT",
    "JRD_CONTENT_TYPE",
    "PROFILE_PAGE_REL",
    "SUBSCRIBE_REL",
    "WEBFINGER_LIMIT",
    "AcctResource",
    "Resource",
    "UrlResource",
    "build_host_meta_json",
    "build_host_meta_xrd",
    "build_jrd",
    "parse_resource",
    "resolve_handle",
]

JRD_CONTENT_TYPE = "application/jrd+json"
JRD_ACCEPT = "application/jrd+json, application/json"
XRD_CONTENT_TYPE = "application/xrd+xml"
PROFILE_PAGE_REL = "http://webfinger.net/rel/profile-page"
SUBSCRIBE_REL = "http://ostatus.org/schema/1.0/subscribe"
WEBFINGER_LIMIT = 1_048_576

# RFC 3986 unreserved characters. Wider than Mastodon's own USERNAME_RE
# (/\A[a-z0-9_]+([.-]+[a-z0-9_]+)*\z/i) so that other servers' handles still parse.
_USERNAME_RE = re.compile(r"[A-Za-z0-9._~-]{1,128}")
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST_RE = re.compile(rf"(?:{_LABEL})(?:\.{_LABEL})*(?::[0-9]{{1,5}})?")


@dataclass(frozen=True, slots=True)
class AcctResource:
    """An ``acct:user@host`` resource. ``host`` is lower-case and may carry a ``:port``."""

    username: str
    host: str

    @property
    def acct(self) -> str:
        """The resource as an ``acct:`` URI."""
        return f"acct:{self.username}@{self.host}"

    @property
    def handle(self) -> str:
        """The resource as ``user@host``."""
        return f"{self.username}@{self.host}"

    def matches(self, username: str, host: str) -> bool:
        """Return True if this names ``username@host`` (both compared case-insensitively)."""
        return self.username.lower() == username.lower() and self.host == host.lower()


@dataclass(frozen=True, slots=True)
class UrlResource:
    """An ``http(s)://`` resource, e.g. an actor id or a profile page URL."""

    url: str


Resource = AcctResource | UrlResource


def parse_resource(resource: str) -> Resource:
    """Parse a WebFinger ``resource`` value (or a handle typed by a person).

    Accepts ``acct:user@host``, ``user@host``, ``@user@host``, their percent-encoded forms
    (``acct%3Auser%40host``) and ``http(s)://`` URLs. Returns an `AcctResource` (host
    lower-cased, IDN hosts in punycode) or a `UrlResource`. Raises `ParseError` for
    anything else: empty values, a missing user or host, or characters not allowed there.
    """
    value = resource.strip()
    if not _is_http_url(value) and "%" in value:
        try:
            value = unquote(value, errors="strict").strip()
        except UnicodeDecodeError as exc:
            raise ParseError("resource is not valid percent-encoded UTF-8") from exc
    if _is_http_url(value):
        return _parse_url_resource(value)
    if value[:5].lower() == "acct:":
        value = value[5:]
    value = value.removeprefix("@")
    username, sep, host = value.partition("@")
    if not sep or not username or not host:
        raise ParseError("resource must look like user@host")
    if not _USERNAME_RE.fullmatch(username):
        raise ParseError("resource has an invalid username")
    return AcctResource(username=username, host=_normalise_host(host))


def build_jrd(
    *,
    subject: str,
    actor_id: str,
    profile_url: str,
    aliases: list[str],
    subscribe_template: str | None,
) -> dict[str, Any]:
    """Return the JRD for one actor: ``subject``, ``aliases`` and links to the profile page
    (``text/html``), exactly one ``self`` link (``application/activity+json``, ``href`` =
    ``actor_id``) and, when given, the OStatus subscribe template (remote follow)."""
    links: list[dict[str, str]] = [
        {"rel": PROFILE_PAGE_REL, "type": "text/html", "href": profile_url},
        {"rel": "self", "type": AS2_CONTENT_TYPE, "href": actor_id},
    ]
    if subscribe_template is not None:
        links.append({"rel": SUBSCRIBE_REL, "template": subscribe_template})
    return {"subject": subject, "aliases": list(aliases), "links": links}


def build_host_meta_xrd(webfinger_template: str) -> str:
    """Return the host-meta XRD document whose ``lrdd`` link carries ``webfinger_template``
    (e.g. ``https://example.com/.well-known/webfinger?resource={uri}``)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">\n'
        f'  <Link rel="lrdd" type="{XRD_CONTENT_TYPE}" template={quoteattr(webfinger_template)}/>\n'
        "</XRD>\n"
    )


def build_host_meta_json(webfinger_template: str) -> dict[str, Any]:
    """Return the JSON variant of host-meta (``/.well-known/host-meta.json``)."""
    return {"links": [{"rel": "lrdd", "template": webfinger_template}]}


async def resolve_handle(client: httpx.AsyncClient, handle: str, *, scheme: str = "https") -> str:
    """Look up ``user@host`` (or ``@user@host`` / ``acct:user@host``) with WebFinger.

    Queries ``{scheme}://{host}/.well-known/webfinger?resource=acct:user@host`` (unencoded,
    as Mastodon does), following redirects up to the client's cap. Returns the ``href`` of
    the single ``self`` link with an ActivityStreams type. Raises `WebFingerError` on an
    invalid handle, a non-2xx answer (404 and 410 included; the `FetchStatusError` is the
    ``__cause__``), a body that is not a JRD, a subject that does not name the same user
    and host (case-insensitively), or zero or several ActivityStreams ``self`` links.
    Network failures raise `FetchError` (or its subclasses, e.g. `BlockedAddress`).
    """
    try:
        resource = parse_resource(handle)
    except ParseError as exc:
        raise WebFingerError(f"invalid handle {handle!r}") from exc
    if not isinstance(resource, AcctResource):
        raise WebFingerError(f"{handle!r} is a URL, not a user@host handle")
    url = f"{scheme}://{resource.host}/.well-known/webfinger?resource={resource.acct}"
    response = await get_following_redirects(
        client, url, headers={"Accept": JRD_ACCEPT}, same_host_only=False
    )
    try:
        if not 200 <= response.status_code < 300:
            status_error = FetchStatusError(response.status_code, str(response.url))
            raise WebFingerError(
                f"WebFinger for {resource.handle} answered {response.status_code}"
            ) from status_error
        body = await read_limited(response, WEBFINGER_LIMIT)
    finally:
        await response.aclose()
    try:
        jrd = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise WebFingerError(f"WebFinger for {resource.handle} is not JSON") from exc
    if not isinstance(jrd, dict):
        raise WebFingerError(f"WebFinger for {resource.handle} is not a JSON object")
    _check_subject(jrd.get("subject"), resource)
    return _self_href(jrd.get("links"), resource)


def _check_subject(subject: object, resource: AcctResource) -> None:
    if not isinstance(subject, str):
        raise WebFingerError(f"WebFinger for {resource.handle} has no subject")
    try:
        parsed = parse_resource(subject)
    except ParseError as exc:
        raise WebFingerError(f"WebFinger for {resource.handle} has an invalid subject") from exc
    # Mastodon re-queries the subject's domain when it differs; Myna keeps it simple and
    # requires the subject to name the handle that was asked for.
    if not isinstance(parsed, AcctResource) or not parsed.matches(resource.username, resource.host):
        raise WebFingerError(f"WebFinger subject {subject!r} does not match {resource.handle}")


def _self_href(links: object, resource: AcctResource) -> str:
    if not isinstance(links, list):
        raise WebFingerError(f"WebFinger for {resource.handle} has no links")
    hrefs = [
        link.get("href")
        for link in links
        if isinstance(link, dict)
        and link.get("rel") == "self"
        and isinstance(link.get("type"), str)
        and _is_as2_link_type(link["type"])
    ]
    if not hrefs:
        raise WebFingerError(f"WebFinger for {resource.handle} has no ActivityPub self link")
    if len(hrefs) > 1:
        raise WebFingerError(f"WebFinger for {resource.handle} has several self links")
    href = hrefs[0]
    if not isinstance(href, str) or not _is_http_url(href):
        raise WebFingerError(f"WebFinger for {resource.handle} has an invalid self href")
    return href


def _is_as2_link_type(value: str) -> bool:
    # Mastodon's ACTIVITYPUB_READY_TYPE is exactly these two strings; accepting any
    # spelling of them (spacing, parameters) costs nothing.
    return value in (AS2_CONTENT_TYPE, AS2_LD_CONTENT_TYPE) or is_as2_content_type(value)


def _is_http_url(value: str) -> bool:
    lowered = value[:8].lower()
    return lowered.startswith("https://") or lowered.startswith("http://")


def _parse_url_resource(value: str) -> UrlResource:
    if any(char.isspace() or ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        raise ParseError("resource URL contains whitespace or control characters")
    try:
        parts = urlsplit(value)
        hostname = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ParseError("resource URL is malformed") from exc
    if not hostname:
        raise ParseError("resource URL has no host")
    return UrlResource(url=value)


def _normalise_host(host: str) -> str:
    host = host.lower()
    if not host.isascii():
        name, sep, port = host.partition(":")
        try:
            host = name.encode("idna").decode("ascii") + sep + port
        except UnicodeError as exc:
            raise ParseError("resource has an invalid internationalised host") from exc
    if len(host) > 260 or not _HOST_RE.fullmatch(host):
        raise ParseError("resource has an invalid host")
    return host
