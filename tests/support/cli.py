"""Running `digestbot` in-process against a loopback arXiv and a database in a temp dir."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.cli import main
from tests.fakes.arxiv_server import FakeArxiv


@dataclass
class Run:
    """What one `digestbot` invocation did."""

    code: int
    out: str
    err: str


def run(*argv: str) -> Run:
    """Run the CLI in-process, capturing what it writes to stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(list(argv), out=out)
    return Run(code, out.getvalue(), err.getvalue())


@contextlib.contextmanager
def cli_env(home: Path, fake: FakeArxiv | None) -> Iterator[Path]:
    """DIGESTBOT_DB in `home`, a config with no arXiv delay, the API URL at the fake."""
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(home)
        config = home / "digestbot.toml"
        config.write_text("[arxiv]\ndelay_seconds = 0\nbackoff_seconds = 0.01\n", "utf-8")
        mp.setenv("DIGESTBOT_CONFIG", str(config))
        mp.setenv("DIGESTBOT_DB", str(home / "corpus.db"))
        # Nothing here may reach the real arXiv: a closed loopback port when there is no fake.
        mp.setenv("DIGESTBOT_ARXIV_API_URL", fake.url if fake else "http://127.0.0.1:9/api/query")
        mp.delenv("ANTHROPIC_API_KEY", raising=False)
        yield home / "corpus.db"
