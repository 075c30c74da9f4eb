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
