"""The `digestbot` command line: ingest and topics in-process, errors, and one real subprocess."""

from __future__ import annotations

import logging
import os
import re
import select
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bot.cli import main
from digest.feed import read_feed_file
from digest.topics import POST_TRAIN
from storage import open_corpus
from tests.fakes.arxiv_server import FakeArxiv, FakeEntry, load_listing_entries
from tests.support.paths import FIXTURES, REPO, SHARED_ARXIV

FEEDS = FIXTURES / "feeds"
WEEK_ARGS = ["--since", "2026-05-13", "--until", "2026-05-19"]
POST_TRAIN_42 = "feeds/post-train_2026-05-13_to_05-19.atom.xml"


@dataclass
class Run:
    """What one `digestbot` invocation did."""

    code: int
    out: str
    err: str


@dataclass
class Env:
    """The environment a CLI test runs in: its database file and a place for files."""

    db: Path
    home: Path
    monkeypatch: pytest.MonkeyPatch

    def config(self, text: str) -> Path:
        """Write a config file and point DIGESTBOT_CONFIG at it."""
        path = self.home / "settings" / "digestbot.toml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        self.monkeypatch.setenv("DIGESTBOT_CONFIG", str(path))
        return path


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Env:
    """A clean environment: own database, no config file, cwd in a temp dir (no ./config.toml)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DIGESTBOT_CONFIG", raising=False)
    # Nothing listens on the discard port: a test that fetches by mistake fails, offline.
    monkeypatch.setenv("DIGESTBOT_ARXIV_API_URL", "http://127.0.0.1:9/api/query")
    db = tmp_path / "data" / "corpus.db"
    monkeypatch.setenv("DIGESTBOT_DB", str(db))
    return Env(db=db, home=tmp_path, monkeypatch=monkeypatch)


@pytest.fixture(autouse=True)
def own_root_logger() -> Iterator[None]:
    """main() sets up logging for the whole process; drop what it added after each test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture
def fake(env: Env, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeArxiv]:
    """A loopback arXiv that DIGESTBOT_ARXIV_API_URL points at (set after `env`'s dead URL)."""
    with FakeArxiv() as served:
        monkeypatch.setenv("DIGESTBOT_ARXIV_API_URL", served.url)
        yield served


@pytest.fixture(scope="module")
def listing_entries() -> list[FakeEntry]:
    """The real daily listings as fake entries, parsed once for the module (or skipped)."""
    if not SHARED_ARXIV.is_dir():
        pytest.skip(f"real arXiv data not present at {SHARED_ARXIV} (only in the dev workspace)")
    return load_listing_entries(SHARED_ARXIV / "listings")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> Run:
    code = main(list(argv))
    captured = capsys.readouterr()
    return Run(code, captured.out, captured.err)


def stored(db: Path) -> dict[str, tuple]:
    """Papers (id -> version, last change) and fetches in the database, read with plain SQLite."""
    with sqlite3.connect(db) as conn:
        papers = {r[0]: r[1:] for r in conn.execute("SELECT id, version, last_changed FROM papers")}
        fetches = {
            f"fetch:{r[0]}:{r[1]}:{r[2]}": r[3:]
            for r in conn.execute("SELECT topic, since, until, complete, paper_count FROM fetches")
        }
    return {**papers, **fetches}


def post_train_ids(db: Path) -> set[str]:
    """The ids filed under post-train for the week 2026-05-13..19."""
    with open_corpus(db) as corpus:
        papers = corpus.papers_in_window(date(2026, 5, 13), date(2026, 5, 19), "post-train")
    return {p.id for p in papers}


def _paper(n: int, title: str, categories: list[str], day: int) -> FakeEntry:
    return FakeEntry(
        id=f"2605.2{n:04d}",
        title=title,
        summary=f"{title}. Zoë Ramírez-Götz studies it with $\\epsilon$ care.",
        authors=["Zoë Ramírez-Götz"],
        categories=categories,
        published=datetime(2026, 5, day, 12, 0, tzinfo=UTC),
    )


# Invented: three on topic in the week, one off topic, one outside the week.
INVENTED = [
    _paper(1, "GRPO for LLM Reasoning", ["cs.CL"], 13),
    _paper(2, "Reward Model Audits for Large Language Models", ["cs.LG"], 15),
    _paper(3, "DPO for LLM Translation", ["cs.CV", "cs.CL"], 19),
    _paper(4, "LLM Agents for Robots", ["cs.CL"], 16),
    _paper(5, "RLHF for LLMs, Late", ["cs.CL"], 20),
]


class TestIngestWindow:
    """`digestbot ingest TOPIC --since --until` against the in-process fake."""

    def test_acceptance_week_stores_the_42_papers_then_serves_from_corpus(
        self,
        env: Env,
        fake: FakeArxiv,
        listing_entries: list[FakeEntry],
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """The real week: 42 stored with counts printed; a second run asks arXiv nothing."""
        fake.add_entries(listing_entries)
        expected = {p.id for p in read_feed_file(SHARED_ARXIV / POST_TRAIN_42).results}

        first = run(capsys, "ingest", "post-train", *WEEK_ARGS)

        assert first.code == 0, first.err
        assert first.out == "post-train 2026-05-13 to 2026-05-19: 42 new, 0 updated, 0 unchanged\n"
        assert "42 of 42 papers" in first.err  # progress, one line a page off a terminal
        assert post_train_ids(env.db) == expected
        asked = len(fake.requests)
        before = stored(env.db)

        second = run(capsys, "ingest", "post-train", *WEEK_ARGS)

        assert second.code == 0, second.err
        assert second.out == (
            "post-train 2026-05-13 to 2026-05-19: 0 new, 0 updated, 42 unchanged "
            "(served from the corpus; arXiv was not asked)\n"
        )
        assert len(fake.requests) == asked
        assert stored(env.db) == before

    def test_invented_week_without_shared_data(
        self, env: Env, fake: FakeArxiv, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Invented papers, paged 2 at a time via the config file: exactly the 3 on-topic ones."""
        fake.add_entries(INVENTED)
        env.config("[arxiv]\npage_size = 2\ndelay_seconds = 0\n")

        result = run(capsys, "ingest", "post-train", *WEEK_ARGS)

        assert result.code == 0, result.err
        assert result.out.endswith(": 3 new, 0 updated, 0 unchanged\n")
        assert post_train_ids(env.db) == {"2605.20001", "2605.20002", "2605.20003"}
        assert [r.params["max_results"] for r in fake.requests] == ["2", "2"]

        again = run(capsys, "ingest", "post-train", *WEEK_ARGS)
        assert "served from the corpus" in again.out and len(fake.requests) == 2

    def test_force_asks_arxiv_again(
        self, env: Env, fake: FakeArxiv, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--force re-fetches a complete window; nothing new, so all unchanged."""
        fake.add_entries(INVENTED)
        run(capsys, "ingest", "post-train", *WEEK_ARGS)

        forced = run(capsys, "ingest", "post-train", *WEEK_ARGS, "--force")

        assert forced.code == 0 and len(fake.requests) == 2
        assert forced.out.endswith(": 0 new, 0 updated, 3 unchanged\n")

    def test_arxiv_failure_is_one_error_line_and_stores_nothing(
        self, env: Env, fake: FakeArxiv, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """arXiv answering 503 throughout: exit 1, one error line, no papers, no fetch record."""
        fake.add_entries(INVENTED)
        fake.fail_next(503, times=10)
        env.config("[arxiv]\ndelay_seconds = 0\nretries = 1\nbackoff_seconds = 0.01\n")

        result = run(capsys, "ingest", "post-train", *WEEK_ARGS)

        assert result.code == 1
        assert result.out == ""
        *logged, last = result.err.splitlines()
        assert last == (
            "digestbot: error: arXiv kept failing (HTTP 503) after 2 tries; nothing was stored, "
            "try again later"
        )
        # Before it, at most the retry warnings of the log; never a traceback.
        assert all("WARNING" in line and "retry" in line for line in logged), logged
        assert len(fake.requests) == 2
        assert stored(env.db) == {}


class TestIngestFeed:
    """`digestbot ingest --feed FILE` for saved responses."""

    def test_feed_with_topic_reports_counts_and_filing(
        self, env: Env, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """current-3 under post-train: 3 new, 2 filed; again: 3 unchanged."""
        feed = str(FEEDS / "current-3.atom.xml")

        first = run(capsys, "ingest", "--feed", feed, "--topic", "post-train")
        second = run(capsys, "ingest", "--feed", feed)

        assert (first.code, first.err) == (0, "")
        assert first.out == "3 new, 0 updated, 0 unchanged; 2 filed under post-train\n"
        assert second.out == "0 new, 0 updated, 3 unchanged\n"

    def test_legacy_feed_reports_skipped_blanks(
        self, env: Env, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Blank legacy entries are reported as skipped."""
        result = run(capsys, "ingest", "--feed", str(FEEDS / "legacy-blank-entries.atom.xml"))

        assert result.code == 0
        assert result.out == "1 new, 0 updated, 0 unchanged; 2 blank entries skipped\n"


class TestTopics:
    """`digestbot topics`."""

    def test_config_works_after_the_command(
        self, env: Env, capsys: pytest.CaptureFixture[str]
    ) -> None:
        path = env.home / "own.toml"
        path.write_text(
            '[[topics]]\nname = "after"\ntitle = "After"\ncategories = ["cs.CL"]\n',
            encoding="utf-8",
        )
        result = run(capsys, "topics", "--config", str(path))
        assert result.code == 0 and "after: After" in result.out
        before = run(capsys, "--config", str(path), "topics")
        assert before.out == result.out

    def test_version(self, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit) as done:
            main(["--version"])
        assert done.value.code == 0
        assert re.fullmatch(r"digestbot \d+\.\d+\.\d+\S*\n", capsys.readouterr().out)

    def test_lists_post_train_with_its_query(
        self, env: Env, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The built-in topic is listed with exactly the query sent to arXiv."""
        result = run(capsys, "topics")

        assert result.code == 0 and result.err == ""
        lines = result.out.splitlines()
        assert lines[0] == "post-train: LLM Post-Train"
        assert f"  query: {POST_TRAIN.query()}" in lines
        assert "  categories: cs.CL, cs.AI, cs.LG" in lines

    def test_configured_topic_is_listed(self, env: Env, capsys: pytest.CaptureFixture[str]) -> None:
        """A [[topics]] table in the config appears beside the built-in one."""
        env.config(
            '[[topics]]\nname = "rag"\ntitle = "Retrieval"\ncategories = ["cs.IR"]\n'
            'include = [["retrieval-augmented generation"]]\n'
        )

        result = run(capsys, "topics")

        assert result.code == 0
        assert "rag: Retrieval" in result.out.splitlines()
        assert '  query: (cat:cs.IR) AND ((ti:"retrieval-augmented generation" OR abs:' in (
            result.out
        )


NOT_SQLITE = b"These are somebody's notes, not a database.\n" * 50


class TestBadInput:
    """User mistakes: one "digestbot: error:" line on stderr, non-zero exit, no traceback."""

    @pytest.mark.parametrize(
        ("argv", "status", "message"),
        [
            pytest.param(
                ["ingest", "nosuch", *WEEK_ARGS],
                2,
                "unknown topic 'nosuch'; known topics: post-train",
                id="unknown-topic",
            ),
            pytest.param(
                ["ingest", "post-train", "--since", "2026-05-19", "--until", "2026-05-13"],
                2,
                "--since 2026-05-19 is after --until 2026-05-13",
                id="since-after-until",
            ),
            pytest.param(
                ["ingest", "post-train", "--since", "13/05/2026"],
                2,
                "--since '13/05/2026' is not a date: write it as YYYY-MM-DD",
                id="malformed-date",
            ),
            pytest.param(
                ["ingest", "post-train", "--since", "2026-05-13", "--until", "2026-02-30"],
                2,
                "--until '2026-02-30' is not a date",
                id="impossible-date",
            ),
            pytest.param(
                ["ingest", "post-train", "--since", "2999-01-01"],
                2,
                "starts in the future",
                id="future-window",
            ),
            pytest.param(
                ["ingest", "--feed", "{home}/missing.xml"],
                2,
                "cannot read the feed file",
                id="missing-feed",
            ),
            pytest.param(
                ["ingest", "--feed", "{home}"],
                2,
                "cannot read the feed file",
                id="feed-is-a-directory",
            ),
            pytest.param(
                ["ingest", "--feed", str(FEEDS / "not-a-feed.html")],
                2,
                "is not an arXiv API Atom feed (its root element is <html>)",
                id="non-atom-feed",
            ),
            pytest.param(
                ["ingest", "--feed", str(FEEDS / "truncated.atom.xml")],
                2,
                "is not a complete XML document",
                id="truncated-feed",
            ),
            pytest.param(
                ["ingest", "--feed", str(FEEDS / "error-400.atom.xml")],
                2,
                "is an arXiv error response: incorrect id format for nonsense",
                id="error-feed",
            ),
            pytest.param(
                ["ingest", "--feed", str(FEEDS / "current-3.atom.xml"), "--since", "2026-05-13"],
                2,
                "--since/--until do not apply to --feed",
                id="feed-with-since",
            ),
            pytest.param(
                ["ingest", "--feed", str(FEEDS / "current-3.atom.xml"), "--topic", "nosuch"],
                2,
                "unknown topic 'nosuch'",
                id="feed-unknown-topic",
            ),
            pytest.param(
                ["ingest", "post-train", "--feed", str(FEEDS / "current-3.atom.xml")],
                2,
                "a saved feed is filed under a topic with --topic",
                id="feed-with-positional-topic",
            ),
            pytest.param(
                ["ingest", "post-train", "--topic", "post-train", *WEEK_ARGS],
                2,
                "--topic only applies with --feed",
                id="topic-option-without-feed",
            ),
            pytest.param(["ingest"], 2, "name a topic", id="no-topic-no-feed"),
            pytest.param(
                ["digest", "post-train", "--post", "discord:general"],
                2,
                "'discord:general' is not a Discord channel id",
                id="post-discord-by-name",
            ),
            pytest.param(
                ["digest", "post-train", "--post", "mattermost:X"],
                2,
                "'mattermost:X' is not a channel",
                id="post-unknown-platform",
            ),
            pytest.param(
                ["topics", "--config", "{home}/nowhere.toml"],
                2,
                "config file {home}/nowhere.toml not found",
                id="config-after-the-command",
            ),
            pytest.param(
                ["--config", "{home}/nowhere.toml", "topics"],
                2,
                "config file {home}/nowhere.toml not found",
                id="missing-config",
            ),
        ],
    )
    def test_one_line_error(
        self,
        env: Env,
        capsys: pytest.CaptureFixture[str],
        argv: list[str],
        status: int,
        message: str,
    ) -> None:
        """Each mistake gives exactly one stderr line naming it, and no output."""
        home = str(env.home)
        result = run(capsys, *(a.replace("{home}", home) for a in argv))

        assert result.code == status
        assert result.out == ""
        lines = result.err.splitlines()
        assert len(lines) == 1, result.err
        assert lines[0].startswith("digestbot: error: ")
        assert message.replace("{home}", home) in lines[0]

    def test_database_that_is_not_sqlite(
        self, env: Env, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """DIGESTBOT_DB naming a non-SQLite file: exit 1, one line, and the file left untouched."""
        env.db.parent.mkdir(parents=True)
        env.db.write_bytes(NOT_SQLITE)

        result = run(capsys, "ingest", "--feed", str(FEEDS / "current-3.atom.xml"))

        assert result.code == 1 and result.out == ""
        (line,) = result.err.splitlines()
        assert line.startswith("digestbot: error: ") and "is not a digestbot database" in line
        assert env.db.read_bytes() == NOT_SQLITE

    def test_database_path_that_is_a_directory(
        self, env: Env, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """DIGESTBOT_DB naming a directory: exit 1 and one line."""
        monkeypatch.setenv("DIGESTBOT_DB", str(env.home))

        result = run(capsys, "ingest", "--feed", str(FEEDS / "current-3.atom.xml"))

        assert result.code == 1 and result.out == ""
        (line,) = result.err.splitlines()
        assert line.startswith("digestbot: error: ")

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("[arxiv]\nspeed = 1\n", "unknown key arxiv.speed"),
            ("[arxiv]\ndelay_seconds = 1\n", "below the 3 s between requests"),
            ("[arxiv\n", "is not valid TOML"),
        ],
        ids=["unknown-key", "impolite-delay", "bad-toml"],
    )
    def test_bad_config(
        self, env: Env, capsys: pytest.CaptureFixture[str], text: str, message: str
    ) -> None:
        """A config mistake stops every command with one line naming the key."""
        env.monkeypatch.delenv("DIGESTBOT_ARXIV_API_URL")  # the real default URL, never reached
        env.config(text)

        result = run(capsys, "ingest", "post-train", *WEEK_ARGS)

        assert result.code == 2 and result.out == ""
        (line,) = result.err.splitlines()
        assert line.startswith("digestbot: error: config") and message in line


class TestRealProcess:
    """The installed `digestbot` script against the fake server, both as real processes."""

    def test_acceptance_scenario_end_to_end(self, tmp_path: Path, shared_arxiv: Path) -> None:
        """Ingest the real week (42 papers), then again with arXiv gone: served from the corpus."""
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.fakes.arxiv_server",
                "--listings",
                str(shared_arxiv / "listings"),
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            ready, _, _ = select.select([server.stdout], [], [], 30)
            assert ready, "the fake arXiv server printed no URL within 30 s"
            url = server.stdout.readline().strip()  # type: ignore[union-attr]
            assert url.startswith("http://127.0.0.1:"), url
            script = Path(sys.executable).with_name("digestbot")
            command = [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]
            db = tmp_path / "corpus.db"
            config = tmp_path / "config.toml"
            # No retries: if the second run asked the (stopped) server, it would fail at once.
            config.write_text("[arxiv]\nretries = 0\n", encoding="utf-8")
            environment = {
                **os.environ,
                "DIGESTBOT_DB": str(db),
                "DIGESTBOT_ARXIV_API_URL": url,
                "DIGESTBOT_CONFIG": str(config),
            }
            argv = [*command, "ingest", "post-train", *WEEK_ARGS]

            first = subprocess.run(
                argv, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=60
            )
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()

        assert first.returncode == 0, first.stderr
        assert first.stdout == (
            "post-train 2026-05-13 to 2026-05-19: 42 new, 0 updated, 0 unchanged\n"
        )
        assert "Traceback" not in first.stderr
        expected = {p.id for p in read_feed_file(shared_arxiv / POST_TRAIN_42).results}
        assert post_train_ids(db) == expected
        before = stored(db)

        # The server is gone: any request would fail, so success proves arXiv was not asked.
        second = subprocess.run(
            argv, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=60
        )

        assert second.returncode == 0, second.stderr
        assert second.stdout.endswith(
            ": 0 new, 0 updated, 42 unchanged (served from the corpus; arXiv was not asked)\n"
        )
        assert second.stderr == ""
        assert stored(db) == before


def test_a_reader_that_goes_away_gets_no_traceback(tmp_path: Path) -> None:
    """`digestbot ... | head`: the pipe closes early; the command ends quietly, exit 1."""
    import subprocess
    import sys

    from tests.support.paths import FIXTURES, REPO

    env = {**os.environ, "DIGESTBOT_DB": str(tmp_path / "db.sqlite"), "DIGESTBOT_CONFIG": ""}
    feed = FIXTURES / "feeds" / "current-3.atom.xml"
    cli = [sys.executable, "-m", "bot.cli"]
    subprocess.run([*cli, "ingest", "--feed", str(feed)], env=env, cwd=REPO, check=True)
    reader = subprocess.Popen(
        [*cli, "ask", "--format", "json", "reward models " * 20],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert reader.stdout is not None and reader.stderr is not None
    reader.stdout.close()  # as `head` does once it has its lines
    err = reader.stderr.read().decode()
    reader.wait(timeout=60)
    assert "Traceback" not in err and "BrokenPipeError" not in err
    assert reader.returncode in (0, 1)
