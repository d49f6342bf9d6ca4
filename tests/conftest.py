"""Shared fixtures: settings on a fresh database (SQLite and PostgreSQL), an initialised data
directory, the runtime, and the ASGI app with its lifespan running."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from app.config import Settings, load_settings
from app.runtime import Runtime
from tests.support.databases import fresh_postgres_url, postgres_available, reset_postgres
from tests.support.fake_remote import FakeRemote

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Every database test runs on SQLite and on PostgreSQL (skipped only outside CI)."""
    if request.param == "postgresql" and not postgres_available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is required in CI but does not answer")
        pytest.skip("no PostgreSQL server at MYNA_TEST_POSTGRES_URL")
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database per test."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'myna.db'}"
        return
    with fresh_postgres_url() as url:
        yield url


def make_settings(data_dir: Path, database_url: str, **env: str) -> Settings:
    values = {
        "MYNA_DATA_DIR": str(data_dir),
        "MYNA_DOMAIN": "myna.test",
        "MYNA_SCHEME": "https",
        "MYNA_DATABASE_URL": database_url,
    }
    values.update(env)
    return replace(load_settings(values, cwd=data_dir.parent), workers_in_process=False)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Settings on a fresh, uninitialised data directory and database."""
    return make_settings(tmp_path / "data", database_url)


def _run_init(settings: Settings) -> None:
    import asyncio

    from app.cli import cmd_init

    class Args:
        json = True

    asyncio.run(cmd_init(settings, Args()))  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def template_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory (keys, media, SQLite database) after `myna init`, made once per run;
    tests copy it instead of generating keys and migrating again."""
    root = tmp_path_factory.mktemp("template")
    _run_init(make_settings(root / "data", f"sqlite+aiosqlite:///{root / 'data' / 'myna.db'}"))
    return root / "data"


@pytest.fixture(scope="session")
def template_postgres(template_dir: Path) -> Iterator[str]:
    """A PostgreSQL database after `myna init`, used as CREATE DATABASE ... TEMPLATE."""
    if not postgres_available():
        pytest.skip("no PostgreSQL server at MYNA_TEST_POSTGRES_URL")
    with fresh_postgres_url() as url:
        _run_init(make_settings(template_dir, url))
        yield url


@pytest.fixture
def initialised(
    backend: str, tmp_path: Path, template_dir: Path, request: pytest.FixtureRequest
) -> Iterator[Settings]:
    """Settings whose data directory and database went through `myna init` (copied)."""
    data_dir = tmp_path / "data"
    shutil.copytree(template_dir, data_dir)
    if backend == "sqlite":
        yield make_settings(data_dir, f"sqlite+aiosqlite:///{data_dir / 'myna.db'}")
        return
    # Creating a PostgreSQL database per test costs most of a second; instead every in-process
    # test shares one migrated database, emptied (but for the owner) before the test.
    url = request.getfixturevalue("template_postgres")
    reset_postgres(url, keep=("alembic_version", "local_actors"))
    yield make_settings(data_dir, url)


class Clock:
    """A settable clock for runtimes under test."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake_remote() -> FakeRemote:
    return FakeRemote()


@pytest.fixture
async def asgi(
    initialised: Settings, clock: Clock, fake_remote: FakeRemote
) -> AsyncIterator[AsgiApp]:
    """The app with its lifespan running; its outbound traffic goes to ``fake_remote``."""
    from app.main import create_app

    app = create_app(initialised, clock=clock, transport=fake_remote.transport)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=initialised.base_url) as client:
            yield AsgiApp(client, app.state.runtime, initialised)


@dataclass
class AsgiApp:
    client: httpx.AsyncClient
    rt: Runtime
    settings: Settings
