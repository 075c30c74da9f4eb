"""Every third-party package the shipped code imports is declared in pyproject.toml.

A package that only arrives as another one's dependency (numpy through scikit-learn,
requests through arxiv, lxml through arxiv) works until that other package drops it, and
then an install breaks with no change of ours. So the imports of bot/, digest/ and storage/
are scanned (all of them, including the ones inside functions) and each is mapped to the
distribution that provides it, through the installed packages' metadata.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHIPPED = ("bot", "digest", "storage")


def _normal(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def declared() -> set[str]:
    """The normalised names of the runtime dependencies in pyproject.toml."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    names = set()
    for requirement in project["dependencies"]:
        found = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
        assert found, requirement
        names.add(_normal(found.group(1)))
    return names


def imported_modules(root: Path) -> dict[str, set[str]]:
    """Top-level modules imported by the Python files under `root` (absolute imports
    only), each with the files that import it."""
    modules: dict[str, set[str]] = {}
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                modules.setdefault(name.split(".")[0], set()).add(str(path.relative_to(root)))
    return modules


def third_party(modules: dict[str, set[str]]) -> dict[str, set[str]]:
    """The modules that are neither the standard library nor our own packages."""
    ours = set(SHIPPED)
    return {
        name: files
        for name, files in modules.items()
        if name not in sys.stdlib_module_names and name not in ours and name != "__future__"
    }


def test_every_imported_package_is_declared() -> None:
    providers = packages_distributions()
    wanted = declared()
    missing: list[str] = []
    for package in SHIPPED:
        for module, files in sorted(third_party(imported_modules(REPO / package)).items()):
            distributions = {_normal(d) for d in providers.get(module, [])}
            where = f"{sorted(files)} under {package}/"
            assert distributions, f"{module} (imported by {where}) is not installed"
            if not distributions & wanted:
                missing.append(f"{module} ({'/'.join(sorted(distributions))}): {where}")
    assert not missing, "imported but not declared in pyproject.toml: " + "; ".join(missing)


def test_the_scan_sees_imports_inside_functions_and_skips_ours(tmp_path: Path) -> None:
    source = tmp_path / "sample.py"
    source.write_text(
        "import json\nfrom storage import corpus\nfrom . import sibling\n"
        "def later():\n    import numpy.linalg\n    from lxml import etree\n"
    )
    scanned = third_party(imported_modules(tmp_path))
    assert set(scanned) == {"numpy", "lxml"}
