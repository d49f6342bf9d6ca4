"""Small helpers: text fitting, JSON extraction, labels, image inspection, the corpus files."""

from __future__ import annotations

import doctest
import importlib
from importlib import resources

import pytest
from pydantic import BaseModel

from generation.corpus_lines import load_corpus, parse_corpus
from generation.errors import InvalidResponse
from generation.images import inspect_image, parse_size
from generation.labels import AI_IMAGE_PREFIX, label_alt_text
from generation.structured import extract_json, parse_structured
from generation.textfit import clean_text, fit_text
from generation.types import TextRequest, Usage
from tests.support.fake_openai import png_bytes

DOCTESTED = [
    "generation.blocklist",
    "generation.cards",
    "generation.composer",
    "generation.corpus_lines",
    "generation.images",
    "generation.labels",
    "generation.structured",
    "generation.textfit",
]


@pytest.mark.parametrize("name", DOCTESTED)
def test_docstring_examples_hold(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0


def test_fit_text_never_exceeds_the_limit() -> None:
    text = "Word " * 200
    for limit in (1, 2, 5, 17, 80, 499):
        assert len(fit_text(text, limit)) <= limit


def test_clean_text_keeps_inner_quotes() -> None:
    assert clean_text('"He said “hi” to me"') == '"He said “hi” to me"'
    assert clean_text("“Plain.”") == "Plain."


def test_label_alt_text_prefixes_once() -> None:
    assert label_alt_text("A heron.") == AI_IMAGE_PREFIX + "A heron."
    assert label_alt_text("AI-generated image: A heron.") == AI_IMAGE_PREFIX + "A heron."
    assert label_alt_text("") == AI_IMAGE_PREFIX + "no description"
    assert len(label_alt_text("x " * 2000)) <= 1500


class Item(BaseModel):
    name: str


def test_extract_json_and_parse_structured() -> None:
    assert extract_json('noise {"name": "a"} noise') == '{"name": "a"}'
    assert parse_structured('```json\n{"name": "a"}\n```', Item) == Item(name="a")
    with pytest.raises(InvalidResponse, match="name: Field required"):
        parse_structured("{}", Item)
    with pytest.raises(InvalidResponse):
        parse_structured("no json here", Item)


def test_inspect_image_and_parse_size() -> None:
    info = inspect_image(png_bytes(7, 5))
    assert (info.mime, info.width, info.height) == ("image/png", 7, 5)
    with pytest.raises(InvalidResponse):
        inspect_image(png_bytes(7, 5)[:40])
    with pytest.raises(ValueError):
        parse_size("1024 by 1024")


def test_usage_adds_up() -> None:
    assert Usage(1, 2) + Usage(3, 4) == Usage(4, 6)
    assert Usage(4, 6).total_tokens == 10


def test_text_request_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        TextRequest("x", n=0)
    with pytest.raises(ValueError):
        TextRequest("x", max_chars=0)


def test_corpus_files_name_a_public_domain_source() -> None:
    folder = resources.files("generation.corpus")
    files = [f for f in folder.iterdir() if f.name.endswith(".txt")]
    assert len(files) >= 5
    for item in files:
        text = item.read_text(encoding="utf-8")
        header = [line for line in text.splitlines() if line.startswith("#")]
        assert any("Public domain" in line for line in header), item.name
        assert parse_corpus(text), item.name


def test_corpus_is_small_but_not_tiny() -> None:
    entries = load_corpus()
    assert 60 <= len(entries) <= 500
    assert len({e.text for e in entries}) == len(entries)


def test_parse_corpus_rejects_malformed_lines() -> None:
    with pytest.raises(ValueError, match="line 2"):
        parse_corpus("# header\nonly text\n")
