"""The dependency rules of DESIGN.md, read from the imports with ``ast``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "federation": {"app", "generation", "sqlalchemy", "starlette", "jinja2", "openai", "alembic"},
    "generation": {"app", "federation", "sqlalchemy", "starlette", "alembic"},
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_keeps_its_boundaries(package: str) -> None:
    violations = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for module in imported_modules(path):
            if module.split(".")[0] in FORBIDDEN[package]:
                violations.append(f"{path.relative_to(ROOT)} imports {module}")
    assert violations == []


def test_templates_are_only_rendered_from_the_web_layer() -> None:
    """HTML templates belong to app/web; the one other jinja2 user renders owner-written prompt
    templates in a sandbox."""
    users = [
        path.relative_to(ROOT).as_posix()
        for path in sorted((ROOT / "app").rglob("*.py"))
        if "jinja2" in {m.split(".")[0] for m in imported_modules(path)}
    ]
    assert users and all(
        user.startswith("app/web/") or user == "app/services/prompts.py" for user in users
    )
    prompts = ROOT / "app/services/prompts.py"
    if prompts.exists():
        assert "jinja2.sandbox" in imported_modules(prompts)


def test_no_module_settings_are_read_at_import_time() -> None:
    """``os.environ`` is read only by app/config.py (settings are built by a function)."""
    readers = [
        path.relative_to(ROOT).as_posix()
        for package in ("app", "federation", "generation")
        for path in sorted((ROOT / package).rglob("*.py"))
        if "os.environ" in path.read_text(encoding="utf-8")
    ]
    assert readers == ["app/config.py"]
