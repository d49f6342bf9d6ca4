"""The command line as a user runs it: real processes, a real data directory."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest


def run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("MYNA_", "OPENAI_"))}
    environment.update({"MYNA_DATA_DIR": str(tmp_path / "data"), **env})
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("myna: ") and fragment in lines[0], lines[0]


def test_init_is_idempotent_and_protects_keys(tmp_path: Path, database_url: str) -> None:
    first = run(tmp_path, "init", "--json", MYNA_DATABASE_URL=database_url)
    assert first.returncode == 0, first.stderr
    created = json.loads(first.stdout)
    assert sorted(created["created_keys"]) == [
        "actor-ed25519.pem",
        "actor-rsa.pem",
        "instance-rsa.pem",
    ]
    assert isinstance(created["password"], str) and len(created["password"]) >= 20
    keys = tmp_path / "data" / "keys"
    before = {p.name: p.read_bytes() for p in keys.iterdir()}
    for path in keys.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700

    second = run(tmp_path, "init", "--json", MYNA_DATABASE_URL=database_url)
    assert second.returncode == 0, second.stderr
    again = json.loads(second.stdout)
    assert again["created_keys"] == [] and again["password"] is None
    assert {p.name: p.read_bytes() for p in keys.iterdir()} == before


def test_init_prints_the_password_once_in_text_mode(tmp_path: Path) -> None:
    first = run(tmp_path, "init")
    assert first.returncode == 0 and "Owner password" in first.stdout
    assert "Owner password" not in run(tmp_path, "init").stdout


def test_password_is_stored_hashed_with_argon2(tmp_path: Path) -> None:
    import sqlite3

    password = json.loads(run(tmp_path, "init", "--json").stdout)["password"]
    with sqlite3.connect(tmp_path / "data" / "myna.db") as db:
        (stored,) = db.execute("SELECT password_hash FROM local_actors").fetchone()
    assert stored.startswith("$argon2id$") and password not in stored


def test_lists_are_empty_json_after_init(tmp_path: Path) -> None:
    assert run(tmp_path, "init").returncode == 0
    for command in ("followers", "following", "notifications", "deliveries"):
        result = run(tmp_path, command, "--json")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == []


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"MYNA_DOMAIN": "not a domain"}, "MYNA_DOMAIN"),
        ({"MYNA_PORT": "eighty"}, "MYNA_PORT"),
        ({"MYNA_USERNAME": "bad name!"}, "MYNA_USERNAME"),
        ({"MYNA_DATABASE_URL": "mysql://x"}, "MYNA_DATABASE_URL"),
        ({"MYNA_ALLOW_PRIVATE_NETWORK": "maybe"}, "MYNA_ALLOW_PRIVATE_NETWORK"),
        ({"MYNA_ACTOR_TYPE": "Robot"}, "MYNA_ACTOR_TYPE"),
        ({"MYNA_PROFILE_FIELDS": "[1, 2]"}, "MYNA_PROFILE_FIELDS"),
    ],
)
def test_wrong_setting_is_a_one_line_error(tmp_path: Path, env: dict[str, str], fragment: str):
    assert_one_line_error(run(tmp_path, "init", **env), fragment)
    assert not (tmp_path / "data").exists()


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("MYNA_DOMAIN=bad domain\n")
    assert_one_line_error(run(tmp_path, "followers"), "MYNA_DOMAIN")


def test_commands_before_init_say_what_to_do(tmp_path: Path) -> None:
    assert_one_line_error(run(tmp_path, "serve"), "myna init")
    assert_one_line_error(run(tmp_path, "followers"), "myna init")


def test_unreachable_database_is_a_one_line_error(tmp_path: Path) -> None:
    assert run(tmp_path, "init").returncode == 0
    result = run(
        tmp_path, "followers", MYNA_DATABASE_URL="postgresql+asyncpg://nobody@127.0.0.1:1/none"
    )
    assert_one_line_error(result, "database")


def test_follow_of_a_bad_handle_is_a_one_line_error(tmp_path: Path) -> None:
    assert run(tmp_path, "init").returncode == 0
    assert_one_line_error(run(tmp_path, "follow", "nobody"), "not a handle")
    blocked = run(tmp_path, "follow", "someone@127.0.0.1:9")
    assert_one_line_error(blocked, "cannot resolve")


def test_out_of_date_schema_says_to_migrate(tmp_path: Path) -> None:
    import sqlite3

    assert run(tmp_path, "init").returncode == 0
    with sqlite3.connect(tmp_path / "data" / "myna.db") as db:
        db.execute("DROP TABLE notifications")
    assert_one_line_error(run(tmp_path, "notifications"), "run `myna migrate`")


def test_output_into_a_closed_pipe_is_not_an_error(tmp_path: Path) -> None:
    assert run(tmp_path, "init").returncode == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MYNA_", "OPENAI_"))}
    env["MYNA_DATA_DIR"] = str(tmp_path / "data")
    shell = f"{sys.executable} -m app notifications --limit 5 | head -c 1"
    result = subprocess.run(
        ["bash", "-o", "pipefail", "-c", shell],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
