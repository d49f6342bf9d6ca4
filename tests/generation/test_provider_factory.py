"""create_provider picks the provider from the config alone; importing the package is cheap."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from generation import ProviderConfig, create_provider
from generation.errors import ProviderUnavailable
from generation.local_provider import MISSING_REASON, local_available
from generation.offline import OfflineProvider
from generation.openai_provider import OpenAIProvider

PACKAGE = Path(__file__).resolve().parents[2] / "generation"
FORBIDDEN = {"app", "federation", "sqlalchemy", "starlette", "jinja2"}


async def test_create_provider_is_offline_without_url_or_key() -> None:
    provider = create_provider(ProviderConfig())

    assert isinstance(provider, OfflineProvider)
    assert provider.name == "offline"
    await provider.aclose()


@pytest.mark.parametrize(
    "config",
    [
        ProviderConfig(api_key="sk-test"),
        ProviderConfig(base_url="http://127.0.0.1:11434/v1"),
        ProviderConfig(kind="openai"),
    ],
)
async def test_create_provider_is_openai_with_url_or_key(config: ProviderConfig) -> None:
    provider = create_provider(config)

    assert isinstance(provider, OpenAIProvider)
    await provider.aclose()


async def test_create_provider_offline_when_asked_even_with_a_key() -> None:
    provider = create_provider(ProviderConfig(kind="offline", api_key="sk-test"))

    assert isinstance(provider, OfflineProvider)


@pytest.mark.skipif(local_available(), reason="the optional `local` extra is installed")
def test_create_provider_local_without_the_extra_explains_why() -> None:
    with pytest.raises(ProviderUnavailable) as caught:
        create_provider(ProviderConfig(kind="local"))

    assert str(caught.value) == MISSING_REASON


def test_importing_generation_loads_no_sdk_and_does_no_work() -> None:
    code = (
        "import sys, generation; "
        "print(sorted(m for m in ('openai', 'httpx2', 'llama_cpp', 'PIL') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=PACKAGE.parent,
    )
    assert out.stdout.strip() == "[]"


def test_generation_imports_nothing_from_app_federation_or_web_stacks() -> None:
    offenders: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []


def test_generation_never_reads_the_environment() -> None:
    for path in sorted(PACKAGE.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        assert "os.environ" not in source and "getenv" not in source, path.name
