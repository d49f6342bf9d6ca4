"""Fixtures shared by the interop tests: a database per backend, a Myna server, a Fedify peer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interop.test_fedify import FedifyPeer
from tests.support.myna_proc import (
    DATABASE_KINDS,
    MynaProcess,
    database_url,
    free_port,
    postgres_skip_reason,
)


@pytest.fixture(params=DATABASE_KINDS)
def database(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """A fresh database URL per backend (None: Myna's default SQLite file)."""
    if request.param == "postgresql" and (reason := postgres_skip_reason()) is not None:
        pytest.skip(reason)
    with database_url(request.param) as url:
        yield url


@pytest.fixture
def myna(tmp_path: Path, database: str | None) -> Iterator[MynaProcess]:
    with MynaProcess(tmp_path / "myna", port=free_port(), database_url=database) as proc:
        yield proc


@pytest.fixture
def peer(tmp_path: Path) -> Iterator[FedifyPeer]:
    fedify = FedifyPeer(tmp_path / "fedify").start()
    try:
        yield fedify
    finally:
        fedify.stop()
