"""Structured output: the schema prompt for JSON mode, and parsing + validating the answer.

Providers try a JSON schema first (``response_format`` / ``text.format``), then JSON mode with the
schema in the instructions, then plain text; every answer is validated here with pydantic.
"""

from __future__ import annotations

import json

from pydantic import BaseModel, ValidationError

from generation.errors import InvalidResponse
from generation.types import SchemaT


def schema_instructions(schema: type[BaseModel]) -> str:
    """Return instructions asking for one JSON object matching ``schema``'s JSON schema."""
    document = json.dumps(schema.model_json_schema(), separators=(",", ":"))
    return (
        "Answer with one JSON object and nothing else: no prose, no code fences. "
        f"It must match this JSON schema: {document}"
    )


def extract_json(text: str) -> str:
    """Return the JSON object inside ``text``: code fences and prose around it removed.

    >>> extract_json('Sure! ```json\\n{"a": 1}\\n```')
    '{"a": 1}'
    """
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        return text[start : end + 1]
    return text.strip()


def validation_summary(exc: ValidationError) -> str:
    """Return the first validation problem as ``field: message``, short enough for a log line."""
    errors = exc.errors()
    if not errors:
        return "invalid"
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "(root)"
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first.get('msg', 'invalid')}{more}"


def parse_structured(text: str, schema: type[SchemaT], *, provider: str | None = None) -> SchemaT:
    """Return ``text`` parsed and validated as ``schema``.

    Raises:
        InvalidResponse: the text holds no JSON object, or the object does not match the schema.
    """
    candidate = extract_json(text)
    try:
        return schema.model_validate_json(candidate)
    except ValidationError as exc:
        raise InvalidResponse(
            f"the answer does not match {schema.__name__}: {validation_summary(exc)}",
            provider=provider,
        ) from exc
