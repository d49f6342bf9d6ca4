"""`myna generate`, `drafts`, `approve`, `reject` and `personas` as a user runs them: real
processes on an initialised data directory (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from app.config import Settings
from tests.support.fake_openai import FakeOpenAI


def run(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("MYNA_", "OPENAI_"))}
    environment.update(
        {
            "MYNA_DATA_DIR": str(settings.data_dir),
            "MYNA_DATABASE_URL": settings.database_url,
            "MYNA_DOMAIN": settings.domain,
            "MYNA_SCHEME": settings.scheme,
            **env,
        }
    )
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=settings.data_dir.parent,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def ok_json(settings: Settings, *args: str, **env: str) -> Any:
    result = run(settings, *args, "--json", **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def assert_one_line_error(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if line]
    assert lines and "Traceback" not in result.stderr
    assert lines[-1].startswith("myna: ") and fragment in lines[-1], result.stderr
    assert not result.stdout.strip()


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


def test_generate_offline_shows_progress_and_creates_drafts(initialised: Settings) -> None:
    result = run(initialised, "generate", "--candidates", "3", "--prompt", "autumn walks")
    assert result.returncode == 0, result.stderr
    progress = result.stderr.splitlines()
    assert progress[0] == "myna: writing 3 candidates with offline"
    assert "myna: moderating 1/3" in progress and "myna: moderating 3/3" in progress
    assert result.stdout.count("candidate  score") == 3
    assert "myna approve ID" in result.stdout

    drafts = ok_json(initialised, "drafts")
    assert len(drafts) == 3
    assert [d["rank"] for d in drafts] == [1, 2, 3]
    for draft in drafts:
        assert draft["state"] == "candidate" and "autumn walks" in draft["text"]
        assert draft["provider"] == "offline" and draft["model"] == "offline-composer-1"
        assert draft["persona"] == "default" and draft["ranking"] == "heuristic"
        assert draft["rendered_prompt"].startswith("Write a post about autumn walks.")
        assert draft["moderation"]["flagged"] is False
        assert draft["cost"] == 0 and draft["input_tokens"] > 0


def test_review_flow_edit_approve_schedule_and_reject(initialised: Settings) -> None:
    drafts = ok_json(initialised, "generate", "--candidates", "3", "--prompt", "tea")
    first, second, third = (d["id"] for d in drafts)

    edited = ok_json(initialised, "drafts", "edit", str(first), "Green tea and rain. #Tea")
    assert edited["text"] == "Green tea and rain. #Tea" and edited["edited"] is True
    assert edited["original_text"] == drafts[0]["text"]

    published = run(initialised, "approve", str(first))
    assert published.returncode == 0, published.stderr
    assert published.stdout.startswith(f"Published draft {first}: https://myna.test/users/")

    scheduled = ok_json(initialised, "approve", str(second), "--at", "+2h")
    assert scheduled["state"] == "approved" and scheduled["publish_at"]

    rejected = run(initialised, "reject", str(third))
    assert rejected.returncode == 0 and rejected.stdout.strip() == f"Rejected draft {third}"

    pending = ok_json(initialised, "drafts")
    assert [(d["id"], d["state"]) for d in pending] == [(second, "approved")]
    states = {d["id"]: d["state"] for d in ok_json(initialised, "drafts", "--all")}
    assert states == {first: "published", second: "approved", third: "rejected"}
    shown = ok_json(initialised, "drafts", "show", str(first))
    assert shown["post"] and shown["original_text"] != shown["text"]
    text = run(initialised, "drafts", "show", str(first)).stdout
    assert "Original text:" in text and "Prompt:" in text

    assert_one_line_error(run(initialised, "approve", str(third)), "is rejected")
    assert_one_line_error(run(initialised, "approve", "999"), "no draft 999")
    assert_one_line_error(run(initialised, "approve", str(second), "--at", "soonish"), "--at")
    assert_one_line_error(run(initialised, "drafts", "edit", str(first)), "usage")


def test_generate_publish_with_an_image_prints_the_post(initialised: Settings) -> None:
    result = run(initialised, "generate", "--image", "--publish", "--prompt", "owls")
    assert result.returncode == 0, result.stderr
    assert "myna: image 1/1 with offline" in result.stderr
    assert "myna: publishing draft" in result.stderr
    assert result.stdout.startswith("Published draft ")
    (draft,) = ok_json(initialised, "drafts", "--state", "published")
    assert draft["image_alt"].startswith("AI-generated image:")
    assert (initialised.data_dir / "drafts" / draft["image_file"]).is_file()


def test_errors_are_one_line(initialised: Settings) -> None:
    assert_one_line_error(
        run(initialised, "generate", "--persona", "nope"), "no persona named 'nope'"
    )
    assert_one_line_error(run(initialised, "generate", "--candidates", "0"), "--candidates")
    assert_one_line_error(
        run(initialised, "generate", MYNA_DAILY_POST_BUDGET="0"), "daily post budget"
    )
    bad = run(initialised, "personas", "add", "broken", "--template", "{% if %}")
    assert_one_line_error(bad, "bad prompt template")


def test_personas_add_set_show_remove(initialised: Settings) -> None:
    added = ok_json(
        initialised,
        "personas",
        "add",
        "gardener",
        "--system",
        "You are a patient gardener.",
        "--hashtags",
        "Garden #Spring",
        "--visibility",
        "public",
        "--max-per-day",
        "2",
    )
    assert added["hashtags"] == ["Garden", "Spring"] and added["visibility"] == "public"
    changed = ok_json(initialised, "personas", "set", "gardener", "--language", "de")
    assert changed["language"] == "de" and changed["max_posts_per_day"] == 2
    names = [p["name"] for p in ok_json(initialised, "personas")]
    assert names == ["default", "gardener"]
    (draft,) = ok_json(initialised, "generate", "--persona", "gardener", "--prompt", "roses")
    assert draft["persona"] == "gardener" and draft["visibility"] == "public"
    assert "#Garden" in draft["text"] and "#Spring" in draft["text"]
    assert run(initialised, "personas", "remove", "gardener").returncode == 0
    assert [p["name"] for p in ok_json(initialised, "personas")] == ["default"]
    assert_one_line_error(run(initialised, "personas", "remove", "default"), "cannot be removed")


def test_a_failing_endpoint_is_one_line_and_stores_nothing(
    initialised: Settings, fake_openai: FakeOpenAI
) -> None:
    fake_openai.fail("/chat/completions", 500, times=3)  # the first call and two retries
    env = {"OPENAI_BASE_URL": fake_openai.base_url, "OPENAI_API_KEY": "k"}
    result = run(initialised, "generate", "--prompt", "owls", **env)
    assert_one_line_error(result, "generation failed (openai-compatible)")
    assert ok_json(initialised, "drafts", "--all") == []
    fake_openai.queue_text("/chat/completions", "Owls at dusk. #Owls")
    (draft,) = ok_json(initialised, "generate", "--prompt", "owls", **env)
    assert draft["provider"] == "openai-compatible" and draft["text"] == "Owls at dusk. #Owls"
