"""Start-up cost: which packages a command loads, in a fresh interpreter.

`--help`, `ask` over a stocked corpus and a cached `digest` must not import the heavy
packages (arXiv client, HTTP, PDF, numpy through sqlite_utils, scikit-learn, charts, the
web stack): each costs tens to hundreds of milliseconds at every keystroke. The timings
themselves are in bench/bench_startup.py; this pins the imports, which do not vary with load.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import FIXTURES, REPO

# Run `main(argv)` as the console script would, then write the top-level packages loaded.
_DRIVER = """
import json, sys
from bot.cli import main
out = sys.argv[1]
try:
    status = main(sys.argv[2:])
except SystemExit as exit:
    status = exit.code
with open(out, "w") as f:
    json.dump({"status": status, "modules": sorted({m.split(".")[0] for m in sys.modules})}, f)
"""

HEAVY = {
    "anthropic",
    "arxiv",
    "httpx",
    "jinja2",
    "lxml",
    "matplotlib",
    "numpy",
    "openai",
    "pypdf",
    "requests",
    "rich",
    "scipy",
    "sklearn",
    "sqlite_utils",
    "starlette",
    "uvicorn",
}
ENGINE = {"sklearn", "scipy", "matplotlib"}  # what building a digest loads, and a cached one not
WINDOW = ["--since", "2026-05-28", "--until", "2026-06-03"]


def loaded(tmp_path: Path, *argv: str) -> set[str]:
    """The top-level packages a fresh `digestbot ARGV` has imported when it ends."""
    report = tmp_path / "modules.json"
    env = {**os.environ, "DIGESTBOT_DB": str(tmp_path / "corpus.db")}
    env.pop("DIGESTBOT_CONFIG", None)  # built-in defaults: the offline engine
    subprocess.run(
        [sys.executable, "-c", _DRIVER, str(report), *argv],
        cwd=tmp_path,  # no ./config.toml
        env={**env, "PYTHONPATH": str(REPO)},
        check=True,
        capture_output=True,
        timeout=120,
    )
    result = json.loads(report.read_text())
    assert result["status"] in (0, None), (argv, result["status"])
    return set(result["modules"])


@pytest.fixture
def stocked(tmp_path: Path) -> Path:
    """A corpus holding the fixture feed's papers, filed under post-train."""
    feed = FIXTURES / "feeds" / "current-3.atom.xml"
    loaded(tmp_path, "ingest", "--feed", str(feed), "--topic", "post-train")
    return tmp_path


def test_help_loads_no_heavy_package(tmp_path: Path) -> None:
    modules = loaded(tmp_path, "--help")
    assert "bot" in modules  # the driver did run the CLI
    assert modules & HEAVY == set()
    assert "sqlite3" not in modules  # not even the storage layer


def test_version_loads_no_heavy_package(tmp_path: Path) -> None:
    assert loaded(tmp_path, "--version") & HEAVY == set()


def test_ask_on_a_stocked_corpus_loads_no_heavy_package(stocked: Path) -> None:
    for question in (["what", "is", "2606.00011", "about?"], ["reward", "models"]):
        assert loaded(stocked, "ask", "--no-fulltext", *question) & HEAVY == set(), question
    # With full text allowed but not needed (a list of papers): no HTTP client either.
    assert loaded(stocked, "ask", "which papers are about reward models?") & HEAVY == set()


def test_cached_digest_skips_the_engine(stocked: Path) -> None:
    argv = ["digest", "post-train", *WINDOW, "--no-fetch"]
    # The first run builds the digest: the engine's packages load (so the check below can
    # tell the two paths apart).
    assert loaded(stocked, *argv) & ENGINE
    cached = loaded(stocked, *argv)
    assert cached & ENGINE == set()
    assert cached & HEAVY <= {"numpy"}  # numpy: the offline engine's module, imported by
    # DigestService; sqlite_utils, lxml, arXiv, HTTP and rich stay out
