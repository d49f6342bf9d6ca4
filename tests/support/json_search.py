"""Finding things in the JSON that `myna ... --json` prints, without depending on its layout."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def walk(doc: Any) -> Iterator[Any]:
    """Every value in ``doc``, depth first, ``doc`` itself included."""
    yield doc
    if isinstance(doc, dict):
        for value in doc.values():
            yield from walk(value)
    elif isinstance(doc, list):
        for value in doc:
            yield from walk(value)


def entries_mentioning(doc: Any, url: str) -> list[dict[str, Any]]:
    """The dicts in ``doc`` that hold ``url`` as a direct value (e.g. ``{"actor": url}``)."""
    return [
        d
        for d in walk(doc)
        if isinstance(d, dict)
        and any(v == url or (isinstance(v, list) and url in v) for v in d.values())
    ]


def has_word(entry: dict[str, Any], word: str) -> bool:
    """True if some string value of ``entry`` (not nested) equals ``word``, any case."""
    return any(isinstance(v, str) and v.lower() == word for v in entry.values())


def is_accepted(entry: dict[str, Any]) -> bool:
    return entry.get("accepted") is True or has_word(entry, "accepted")
