"""The layering rule: bot -> digest -> storage, never back; and the core never names a
chat platform (adapters translate, the core stays platform-neutral)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.support.paths import REPO

FORBIDDEN = {"storage": {"bot", "digest"}, "digest": {"bot"}}


def modules(package: str) -> list[Path]:
    return sorted((REPO / package).rglob("*.py"))


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_lower_layers_never_import_upper_ones(package: str) -> None:
    offenders = {
        str(path.relative_to(REPO)): sorted(imported_packages(path) & FORBIDDEN[package])
        for path in modules(package)
        if imported_packages(path) & FORBIDDEN[package]
    }
    assert offenders == {}


@pytest.mark.parametrize("package", ["digest", "storage"])
def test_the_core_never_names_a_platform(package: str) -> None:
    named = [
        str(path.relative_to(REPO))
        for path in modules(package)
        if re.search(r"\b(slack|discord)\b", path.read_text(), re.IGNORECASE)
    ]
    assert named == []


def test_the_check_sees_every_module() -> None:
    assert len(modules("digest")) > 10 and len(modules("storage")) >= 5


def imported_test_modules(path: Path) -> set[str]:
    """The modules of `tests` that a file imports (at any depth, in functions too)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("tests."))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tests."):
            found.add(node.module or "")
    return found


def test_no_test_imports_another_test_module() -> None:
    """Shared builders live in tests/support and the fakes in tests/fakes; a test module or
    a conftest is never imported, so each test file stands on its own."""
    offenders = {}
    for path in sorted([*(REPO / "tests").rglob("*.py"), *(REPO / "bench").rglob("*.py")]):
        bad = sorted(
            name
            for name in imported_test_modules(path)
            if not name.startswith(("tests.support", "tests.fakes"))
            or name.rsplit(".", 1)[-1].startswith("test_")
            or name.endswith("conftest")
        )
        if bad:
            offenders[str(path.relative_to(REPO))] = bad
    assert offenders == {}
