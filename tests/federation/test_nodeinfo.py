"""Tests for federation.nodeinfo against the official NodeInfo JSON Schemas.

The schema fixtures are copied verbatim from jhass/nodeinfo (schemas/2.0/schema.json and
schemas/2.1/schema.json at commit fa4d281e963c36f4c963396ac44fc5f9e4c14056).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from federation.nodeinfo import (
    NODEINFO_CONTENT_TYPES,
    NodeInfoVersion,
    build_nodeinfo,
    build_nodeinfo_links,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def schema(version: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(
        (FIXTURES / f"nodeinfo-{version}.schema.json").read_text(encoding="utf-8")
    )
    return loaded


def validator(version: str) -> jsonschema.Draft4Validator:
    document = schema(version)
    jsonschema.Draft4Validator.check_schema(document)
    return jsonschema.Draft4Validator(document)


def sample(version: NodeInfoVersion, **overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "software_version": "0.1.0",
        "total_users": 1,
        "active_month": 1,
        "active_halfyear": 1,
        "local_posts": 42,
        "node_name": "Myna on example.com",
        "repository": "https://code.example/myna",
        "homepage": "https://myna.example/",
    }
    arguments.update(overrides)
    return build_nodeinfo(version, **arguments)


@pytest.mark.parametrize("version", ["2.0", "2.1"])
def test_nodeinfo_validates_against_official_schema(version: NodeInfoVersion) -> None:
    document = sample(version, metadata={"aiGenerated": True})
    validator(version).validate(document)
    assert document["version"] == version
    assert document["software"]["name"] == "myna"
    assert document["protocols"] == ["activitypub"]
    assert document["services"] == {"inbound": [], "outbound": []}
    assert document["openRegistrations"] is False
    assert document["usage"] == {
        "users": {"total": 1, "activeMonth": 1, "activeHalfyear": 1},
        "localPosts": 42,
    }
    assert document["metadata"] == {"nodeName": "Myna on example.com", "aiGenerated": True}
    json.dumps(document)


def test_nodeinfo_2_1_carries_repository_and_homepage() -> None:
    software = sample("2.1")["software"]
    assert software == {
        "name": "myna",
        "version": "0.1.0",
        "repository": "https://code.example/myna",
        "homepage": "https://myna.example/",
    }
    assert "repository" not in sample("2.1", repository=None, homepage=None)["software"]


def test_nodeinfo_2_0_leaves_out_repository_and_homepage() -> None:
    document = sample("2.0")
    assert document["software"] == {"name": "myna", "version": "0.1.0"}
    # The schema really forbids them: the validator is not a rubber stamp.
    document["software"]["repository"] = "https://code.example/myna"
    with pytest.raises(jsonschema.ValidationError):
        validator("2.0").validate(document)


@pytest.mark.parametrize("version", ["2.0", "2.1"])
def test_schema_rejects_open_mistakes(version: NodeInfoVersion) -> None:
    check = validator(version)
    document = sample(version)
    for broken in (
        document | {"extra": 1},
        document | {"protocols": []},
        document | {"openRegistrations": "no"},
        document | {"software": {"name": "Myna", "version": "0.1.0"}},
    ):
        with pytest.raises(jsonschema.ValidationError):
            check.validate(broken)


def test_build_nodeinfo_rejects_negative_counts_and_unknown_versions() -> None:
    with pytest.raises(ValueError):
        sample("2.1", local_posts=-1)
    with pytest.raises(ValueError):
        sample("2.2")  # type: ignore[arg-type]


def test_build_nodeinfo_links_lists_both_versions_newest_first() -> None:
    assert build_nodeinfo_links("https://example.com/") == {
        "links": [
            {
                "rel": "http://nodeinfo.diaspora.software/ns/schema/2.1",
                "href": "https://example.com/nodeinfo/2.1",
            },
            {
                "rel": "http://nodeinfo.diaspora.software/ns/schema/2.0",
                "href": "https://example.com/nodeinfo/2.0",
            },
        ]
    }


def test_nodeinfo_content_types_name_the_schema() -> None:
    assert NODEINFO_CONTENT_TYPES == {
        "2.1": 'application/json; profile="http://nodeinfo.diaspora.software/ns/schema/2.1#"',
        "2.0": 'application/json; profile="http://nodeinfo.diaspora.software/ns/schema/2.0#"',
    }
    for version, content_type in NODEINFO_CONTENT_TYPES.items():
        assert schema(version)["id"] in content_type
