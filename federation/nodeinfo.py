"""NodeInfo 2.0 and 2.1 (http://nodeinfo.diaspora.software/): discovery and documents.

``/.well-known/nodeinfo`` answers `build_nodeinfo_links`; ``/nodeinfo/2.1`` and
``/nodeinfo/2.0`` answer `build_nodeinfo` with the matching `NODEINFO_CONTENT_TYPES`
entry. Both documents validate against the official JSON Schemas (interop.md 1.6, 1.7).
"""

from __future__ import annotations

from typing import Any, Literal

__all__ = [
    "NODEINFO_CONTENT_TYPES",
    "NODEINFO_SCHEMAS",
    "SOFTWARE_NAME",
    "NodeInfoVersion",
    "build_nodeinfo",
    "build_nodeinfo_links",
]

NodeInfoVersion = Literal["2.0", "2.1"]

SOFTWARE_NAME = "myna"

NODEINFO_SCHEMAS: dict[NodeInfoVersion, str] = {
    "2.1": "http://nodeinfo.diaspora.software/ns/schema/2.1",
    "2.0": "http://nodeinfo.diaspora.software/ns/schema/2.0",
}
NODEINFO_CONTENT_TYPES: dict[NodeInfoVersion, str] = {
    version: f'application/json; profile="{schema}#"'
    for version, schema in NODEINFO_SCHEMAS.items()
}


def build_nodeinfo_links(base_url: str) -> dict[str, Any]:
    """Return the ``/.well-known/nodeinfo`` document for ``base_url`` (e.g.
    ``https://example.com``): links to ``/nodeinfo/2.1`` and ``/nodeinfo/2.0``, newest
    first, each with its schema URI as ``rel``."""
    base = base_url.rstrip("/")
    return {
        "links": [
            {"rel": schema, "href": f"{base}/nodeinfo/{version}"}
            for version, schema in NODEINFO_SCHEMAS.items()
        ]
    }


def build_nodeinfo(
    version: NodeInfoVersion,
    *,
    software_version: str,
    total_users: int,
    active_month: int,
    active_halfyear: int,
    local_posts: int,
    node_name: str,
    metadata: dict[str, Any] | None = None,
    repository: str | None = None,
    homepage: str | None = None,
) -> dict[str, Any]:
    """Return the NodeInfo document for ``version``.

    Registrations are always closed (single-user server). ``repository`` and ``homepage``
    (URLs of the source and the project page) go into ``software`` only in 2.1, and only
    when given, because the 2.0 schema forbids extra keys there.
    ``metadata`` holds ``nodeName`` plus the given entries (which may override it).
    Raises ``ValueError`` for an unknown version or a negative count.
    """
    if version not in NODEINFO_SCHEMAS:
        raise ValueError(f"unsupported NodeInfo version {version!r}")
    counts = (total_users, active_month, active_halfyear, local_posts)
    if any(count < 0 for count in counts):
        raise ValueError("NodeInfo usage counts must not be negative")
    software: dict[str, str] = {"name": SOFTWARE_NAME, "version": software_version}
    if version == "2.1":
        if repository is not None:
            software["repository"] = repository
        if homepage is not None:
            software["homepage"] = homepage
    return {
        "version": version,
        "software": software,
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": []},
        "openRegistrations": False,
        "usage": {
            "users": {
                "total": total_users,
                "activeMonth": active_month,
                "activeHalfyear": active_halfyear,
            },
            "localPosts": local_posts,
        },
        "metadata": {"nodeName": node_name, **(metadata or {})},
    }
