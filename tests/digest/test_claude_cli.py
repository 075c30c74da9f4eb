"""The acceptance of the Claude engine through the CLI: `ANTHROPIC_API_KEY=x
ANTHROPIC_BASE_URL=<stand-in> digestbot digest post-train ... --format json`.

bot.cli.main runs in-process with a real SQLite file; the SDK finds the stand-in through
ANTHROPIC_BASE_URL exactly as it would in production.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import parse_config
from bot.errors import ConfigError
from bot.wiring import choose_synthesizer
from digest.llm.engine import LLMEngine
from digest.offline.engine import OfflineEngine
from storage import open_corpus
from tests.fakes.anthropic_server import INVENTED_ID, INVENTED_NAME, FakeAnthropic
from tests.support.paths import SHARED_ARXIV
from tests.support.weeks import WEEK_A, load_week

WINDOW_A, PAPERS_A = load_week(WEEK_A)
WEEK_A_ARGS = ["--since", str(WINDOW_A.since), "--until", str(WINDOW_A.until)]
CITATION = re.compile(r"\[\[([^\[\]\s]+)\]\]")


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def digest(self) -> dict:
        return json.loads(self.out)


def run(*argv: str) -> Run:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(list(argv), out=out)
    return Run(code, out.getvalue(), err.getvalue())


@contextlib.contextmanager
def claude_env(home: Path, base_url: str, retries: int = 1) -> Iterator[Path]:
    """A database in `home`, an API key, and ANTHROPIC_BASE_URL at `base_url`."""
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(home)
        config = home / "digestbot.toml"
        config.write_text(
            f"[anthropic]\nmax_retries = {retries}\ntimeout_seconds = 10\n", encoding="utf-8"
        )
        mp.setenv("DIGESTBOT_CONFIG", str(config))
        mp.setenv("DIGESTBOT_DB", str(home / "corpus.db"))
        mp.setenv("DIGESTBOT_ARXIV_API_URL", "http://127.0.0.1:9/api/query")  # never fetched
        mp.setenv("ANTHROPIC_API_KEY", "x")
        mp.setenv("ANTHROPIC_BASE_URL", base_url)
        yield home / "corpus.db"


def store_week_a(db: Path) -> None:
    with open_corpus(db) as corpus:
        corpus.store_papers(PAPERS_A, "post-train", [p.id for p in PAPERS_A])


def cited(digest: dict) -> set[str]:
    """Every id the digest cites: item papers and markers in any text."""
    found = set(CITATION.findall(digest["gist"]))
    for section in digest["sections"]:
        for item in section["items"]:
            found |= set(item["papers"])
            found |= set(CITATION.findall(item["heading"] + item["text"]))
    return found


class TestAcceptance:
    def test_every_cited_id_is_in_the_window_though_the_stand_in_invents(
        self, tmp_path: Path
    ) -> None:
        """The stand-in answers with an invented paper; the JSON digest is Claude's and
        cites only papers of the window."""
        with FakeAnthropic(invent=True) as fake, claude_env(tmp_path, fake.base_url) as db:
            store_week_a(db)
            result = run("digest", "post-train", *WEEK_A_ARGS, "--no-fetch", "--format", "json")

        assert result.code == 0, result.err
        digest = result.digest
        assert digest["synthesizer"] == "claude-sonnet-5-5"
        window = {p["id"] for p in digest["papers"]}
        assert window == {p.id for p in PAPERS_A}
        assert cited(digest) <= window
        assert INVENTED_ID not in cited(digest)
        sections = json.dumps([s for s in digest["sections"] if s["key"] != "metadata"])
        assert INVENTED_NAME not in sections
        assert len(fake.messages) == 1
        assert fake.messages[0].headers["anthropic-version"]

    def test_the_stand_in_down_gives_the_offline_digest_and_says_why(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Nothing listens at ANTHROPIC_BASE_URL: the offline digest, exit 0, and the reason
        in its notes, its Run Metadata and the log."""
        with FakeAnthropic() as fake:
            dead = fake.base_url  # a port that stops listening when the block ends
        with claude_env(tmp_path, dead, retries=0) as db, caplog.at_level(logging.WARNING):
            store_week_a(db)
            result = run("digest", "post-train", *WEEK_A_ARGS, "--no-fetch", "--format", "json")

        assert result.code == 0, result.err
        digest = result.digest
        assert digest["synthesizer"] == "offline"
        (note,) = digest["notes"]
        assert "claude-sonnet-5-5 failed (the Anthropic API could not be reached" in note
        metadata = next(s for s in digest["sections"] if s["key"] == "metadata")
        assert {"heading": "Fallback", "text": note, "papers": []} in metadata["items"]
        assert "using the offline engine" in caplog.text

    @pytest.mark.skipif(not SHARED_ARXIV.is_dir(), reason="real arXiv data not present")
    def test_the_real_87_paper_week(self, tmp_path: Path) -> None:
        """The real post-train week, ingested from its saved feed, through the stand-in."""
        feed = SHARED_ARXIV / "feeds" / "post-train_2026-05-28_to_06-03.atom.xml"
        with FakeAnthropic(invent=True) as fake, claude_env(tmp_path, fake.base_url):
            assert run("ingest", "--feed", str(feed), "--topic", "post-train").code == 0
            result = run(
                "digest",
                "post-train",
                *["--since", "2026-05-28", "--until", "2026-06-03"],
                "--no-fetch",
                "--format",
                "json",
            )

        digest = result.digest
        assert digest["paper_count"] == 87
        assert digest["synthesizer"] == "claude-sonnet-5-5"
        assert cited(digest) <= {p["id"] for p in digest["papers"]}
        assert fake.messages[0].cache_write_tokens > 20_000  # the paper block was cached


class TestChooseSynthesizer:
    def config(self, engine: str, key: str = "") -> object:
        env = {"ANTHROPIC_API_KEY": key} if key else {}
        return parse_config({"digest": {"engine": engine}}, env)

    def test_auto_with_a_key_is_claude(self) -> None:
        engine = choose_synthesizer(self.config("auto", "x"))

        assert isinstance(engine, LLMEngine)
        assert engine.name == "claude-sonnet-5-5"

    def test_auto_without_a_key_is_offline(self) -> None:
        assert isinstance(choose_synthesizer(self.config("auto")), OfflineEngine)

    def test_offline_stays_offline_with_a_key(self) -> None:
        assert isinstance(choose_synthesizer(self.config("offline", "x")), OfflineEngine)

    def test_claude_without_a_key_is_a_config_error(self) -> None:
        with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY is not set"):
            choose_synthesizer(self.config("claude"))

    def test_models_and_limits_come_from_the_config(self) -> None:
        config = parse_config(
            {
                "digest": {"engine": "claude"},
                "anthropic": {"model": "claude-opus-5-5", "max_input_tokens": 90_000},
            },
            {"ANTHROPIC_API_KEY": "x"},
        )

        engine = choose_synthesizer(config)

        assert isinstance(engine, LLMEngine)
        assert engine.name == "claude-opus-5-5"
        assert engine.settings.max_input_tokens == 90_000
        assert engine.settings.map_model == "claude-haiku-5-5"
