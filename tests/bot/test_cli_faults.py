"""The CLI through faults: an empty arXiv page never becomes a posted "quiet week";
--no-fetch over a never-fetched window says so; `posts`, `check` and `backup`; a read-only
database still answers read commands.

In-process `main` against the loopback arXiv and Slack and a real SQLite file."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import open_corpus
from storage.ledger import LedgerKey, PostLedger
from tests.fakes.arxiv_server import FakeArxiv
from tests.fakes.slack_server import FakeSlack
from tests.support.cli import cli_env, run
from tests.support.faults import damage, papers
from tests.support.weeks import WEEK_A, load_week, week_entries

INVENTED_A = ["--since", "2026-06-08", "--until", "2026-06-14"]

WINDOW_A, _ = load_week(WEEK_A)


@pytest.fixture
def fake() -> Iterator[FakeArxiv]:
    with FakeArxiv() as served:
        served.add_entries(week_entries(WEEK_A))
        yield served


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(channels=("C0TEST",)) as served:
        yield served


@contextlib.contextmanager
def env(home: Path, fake: FakeArxiv | None, slack: FakeSlack | None = None) -> Iterator[Path]:
    with cli_env(home, fake) as db, pytest.MonkeyPatch.context() as mp:
        if slack is not None:
            mp.setenv("DIGESTBOT_SLACK_API_URL", slack.base_url)
            mp.setenv("SLACK_BOT_TOKEN", slack.bot_token)
        yield db


def digest_parts(slack: FakeSlack) -> list[str]:
    return [
        m["metadata"]["event_payload"]["part"]
        for m in slack.messages("C0TEST")
        if m.get("metadata", {}).get("event_type") == "digestbot_part"
    ]


class TestEmptyPage:
    def test_an_empty_page_claiming_results_posts_nothing_then_the_real_digest(
        self, fake: FakeArxiv, slack: FakeSlack, tmp_path: Path
    ) -> None:
        """arXiv answers the window with an empty page whose totalResults is 6, on every
        try: one error line, exit 1, nothing stored, posted or put in the ledger; once arXiv
        answers, the real digest is posted (not blocked as "already posted")."""
        fake.empty_page_next(times=50)
        with env(tmp_path, fake, slack) as db:
            failed = run("digest", "post-train", *INVENTED_A, "--post", "slack:C0TEST")
            fake.reset()
            fake.add_entries(week_entries(WEEK_A))
            posted = run("digest", "post-train", *INVENTED_A, "--post", "slack:C0TEST")

        assert failed.code == 1
        errors = [line for line in failed.err.splitlines() if "error:" in line]
        assert len(errors) == 1 and "came back empty" in errors[0], failed.err
        assert "quiet" not in failed.err.lower()
        assert posted.code == 0, posted.err
        assert "in slack:C0TEST, with its sections in its thread" in posted.err
        parts = digest_parts(slack)
        assert parts.count("parent") == 1 and "catalog" in parts
        with open_corpus(db) as corpus:
            assert [d.body["paper_count"] for d in corpus.digests("post-train")] == [6]


class TestNoFetch:
    def test_a_never_fetched_window_is_not_a_quiet_week(
        self, fake: FakeArxiv, tmp_path: Path
    ) -> None:
        with env(tmp_path, fake):
            result = run("digest", "post-train", *INVENTED_A, "--no-fetch")

        assert result.code != 0 and result.out == ""
        assert "never fetched post-train" in result.err and result.err.count("\n") == 1
        assert fake.requests == []


class TestPostsCommand:
    def test_a_refused_post_is_listed_failed_and_cleared(
        self, fake: FakeArxiv, slack: FakeSlack, tmp_path: Path
    ) -> None:
        """--post to a channel the bot is not in: failed, listed by `posts`, not pending;
        `posts --clear ID` drops it."""
        slack.add_channel("C0NOTIN", member=False)
        with env(tmp_path, fake, slack):
            refused = run("digest", "post-train", *INVENTED_A, "--post", "slack:C0NOTIN")
            listed = run("posts")
            post_id = listed.out.split()[0]
            cleared = run("posts", "--clear", post_id)
            after = run("posts")
            unknown = run("posts", "--clear", "999")

        assert refused.code == 1 and "not a member" in refused.err
        assert "Nothing of it reached slack:C0NOTIN" in refused.err
        assert "marked failed" in refused.err
        assert listed.code == 0 and "failed" in listed.out and "slack:C0NOTIN" in listed.out
        assert "not a member" in listed.out
        assert cleared.code == 0 and "will not be resumed" in cleared.out
        assert after.out == "no pending or failed posts\n"
        assert unknown.code == 2

    def test_a_malformed_target_is_exit_2_and_never_recorded(
        self, fake: FakeArxiv, tmp_path: Path
    ) -> None:
        with env(tmp_path, fake) as db:
            result = run("digest", "post-train", *INVENTED_A, "--post", "discord:general")
        assert result.code == 2 and "not a Discord channel id" in result.err
        if db.exists():
            with open_corpus(db) as corpus:
                assert PostLedger(corpus).posts() == []
                key = LedgerKey("discord:general", "post-train", *WINDOW_A)
                assert PostLedger(corpus).entries(key) == {}


class TestCheckAndBackup:
    def test_check_passes_a_sound_database_and_backup_copies_it(
        self, fake: FakeArxiv, tmp_path: Path
    ) -> None:
        copy = tmp_path / "copy.db"
        with env(tmp_path, fake):
            assert run("ingest", "post-train", *INVENTED_A).code == 0
            check = run("check")
            backup = run("backup", str(copy))
            again = run("backup", str(copy))

        assert check.code == 0 and "quick_check ok" in check.out
        assert backup.code == 0 and str(copy) in backup.out
        assert again.code == 2 and "exists" in again.err
        conn = sqlite3.connect(copy)
        assert conn.execute("SELECT count(*) FROM papers").fetchone()[0] == 6
        conn.close()

    def test_check_and_run_refuse_a_damaged_database(self, tmp_path: Path) -> None:
        db = tmp_path / "corpus.db"
        with open_corpus(db) as corpus:
            corpus.store_papers(papers(1500), "post-train", [])
            with corpus.reading() as raw:
                raw.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        damage(db)
        with env(tmp_path, None), pytest.MonkeyPatch.context() as mp:
            check = run("check")
            mp.setenv("SLACK_BOT_TOKEN", "xoxb-not-used")
            mp.setenv("SLACK_APP_TOKEN", "xapp-not-used")
            started = run("run")

        for result in (check, started):
            assert result.code == 1, result.err
            assert "is damaged; restore it from a backup or re-create it" in result.err


class TestReadOnly:
    def test_read_commands_work_and_writes_name_the_path(
        self, fake: FakeArxiv, tmp_path: Path
    ) -> None:
        with env(tmp_path, fake) as db:
            assert run("digest", "post-train", *INVENTED_A, "--format", "json").code == 0
        with env(tmp_path, None), pytest.MonkeyPatch.context() as mp:
            mp.setenv("DIGESTBOT_DB", f"{db.as_uri()}?mode=ro")
            shown = run("digest", "post-train", *INVENTED_A, "--no-fetch")
            asked = run("ask", "reward", "models", "--no-fulltext")
            ingest = run("ingest", "post-train", *INVENTED_A, "--force")

        assert shown.code == 0, shown.err
        assert "Run Metadata" in shown.out
        assert asked.code == 0, asked.err
        assert ingest.code == 1 and "read-only" in ingest.err and str(db) in ingest.err
