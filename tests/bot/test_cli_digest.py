"""`digestbot digest`: the weekly digest in the terminal, as JSON and as Markdown.

Runs bot.cli.main in-process against a loopback arXiv (tests.fakes.arxiv_server) and a real
SQLite file. The real weeks need ../shared/data/arxiv (skipped where absent); the invented
weeks of tests/fixtures/digest and the error cases run everywhere.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from digest.feed import read_feed_file
from digest.model import SECTION_KEYS, SECTION_TITLES
from digest.topics import POST_TRAIN
from tests.fakes.arxiv_server import FakeArxiv, FakeEntry, load_listing_entries
from tests.support.cli import Run, cli_env, run
from tests.support.paths import SHARED_ARXIV
from tests.support.weeks import WEEK_A, WEEK_B, week_entries

WEEK_87 = ["--since", "2026-05-28", "--until", "2026-06-03"]
WEEK_42 = ["--since", "2026-05-13", "--until", "2026-05-19"]
INVENTED_A = ["--since", "2026-06-08", "--until", "2026-06-14"]
INVENTED_B = ["--since", "2026-06-15", "--until", "2026-06-21"]
POST_TRAIN_87 = "feeds/post-train_2026-05-28_to_06-03.atom.xml"
ARXIV_LINK = re.compile(r"https://arxiv\.org/abs/([^\s)\]>]+)")
ANY_URL = re.compile(r"(?:https?|ftp)://[^\s)\]>]+|www\.\S+", re.IGNORECASE)
CONTRACT_KEYS = {
    "topic",
    "title",
    "window",
    "generated_at",
    "paper_count",
    "query",
    "synthesizer",
    "sections",
    "papers",
}


@pytest.fixture(scope="module")
def listing_entries() -> list[FakeEntry]:
    """The real daily listings as fake entries, parsed once for the module (or skipped)."""
    if not SHARED_ARXIV.is_dir():
        pytest.skip(f"real arXiv data not present at {SHARED_ARXIV} (only in the dev workspace)")
    return load_listing_entries(SHARED_ARXIV / "listings")


@pytest.fixture(scope="module")
def listings_fake(listing_entries: list[FakeEntry]) -> Iterator[FakeArxiv]:
    """One loopback arXiv serving the real listings, for the whole module."""
    with FakeArxiv() as served:
        served.add_entries(listing_entries)
        yield served


@pytest.fixture(scope="module")
def week_87(listings_fake: FakeArxiv, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """The 87-paper week as text, then JSON, then Markdown, into one database."""
    with cli_env(tmp_path_factory.mktemp("week87"), listings_fake):
        return {
            fmt: run("digest", "post-train", *WEEK_87, "--format", fmt)
            for fmt in ("text", "json", "markdown")
        }


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


class TestRealWeek:
    def test_all_runs_succeed(self, week_87: dict[str, Run]) -> None:
        """Each format exits 0 and writes no error line."""
        for result in week_87.values():
            assert result.code == 0, result.err
            assert "error" not in result.err.lower()

    def test_text_prints_every_section_title(self, week_87: dict[str, Run]) -> None:
        """The text shows the parent and every section title as a thread reply."""
        text = week_87["text"].out

        assert text.startswith("LLM Post-Train: arXiv digest\n")
        assert "2026-05-28 to 2026-06-03 · 87 papers · offline" in text
        for key in SECTION_KEYS:
            assert f"\n{SECTION_TITLES[key]}\n" in text
        assert text.count(" thread reply ") == len(SECTION_KEYS) + 1

    def test_catalog_lists_all_87_papers(self, week_87: dict[str, Run]) -> None:
        """The catalog message names and links every paper of the week."""
        expected = {p.id for p in read_feed_file(SHARED_ARXIV / POST_TRAIN_87).results}
        catalog = week_87["text"].out.split("Paper Catalog (87 papers)\n", 1)[1]

        listed = set(re.findall(r", (\d{4}\.\d{4,5})\)", flat(catalog)))
        assert listed == expected
        assert set(ARXIV_LINK.findall(catalog)) == expected

    def test_every_cited_paper_is_named_and_linked(self, week_87: dict[str, Run]) -> None:
        """Each cited paper's short name and arXiv link appear in the text."""
        data = json.loads(week_87["json"].out)
        names = {p["id"]: p["short_name"] for p in data["papers"]}
        cited = {i for s in data["sections"] for item in s["items"] for i in item["papers"]}
        text = flat(week_87["text"].out)

        assert cited
        for paper_id in cited:
            assert re.search(rf"{re.escape(names[paper_id])} \[\d+\]", text), names[paper_id]
            assert f"https://arxiv.org/abs/{paper_id}" in text
        assert "[[" not in text

    def test_json_obeys_the_contract(self, week_87: dict[str, Run]) -> None:
        """--format json is one JSON object with the contract's keys, 87 papers, 7 sections."""
        data = json.loads(week_87["json"].out)

        assert CONTRACT_KEYS <= set(data) <= CONTRACT_KEYS | {"gist", "notes", "style"}
        assert data["topic"] == "post-train"
        assert data["window"] == {"since": "2026-05-28", "until": "2026-06-03"}
        assert data["paper_count"] == 87
        assert len(data["papers"]) == 87
        assert len({p["id"] for p in data["papers"]}) == 87
        assert data["query"] == POST_TRAIN.query()
        assert data["synthesizer"] == "offline"
        assert [s["key"] for s in data["sections"]] == list(SECTION_KEYS)
        for section in data["sections"]:
            for item in section["items"]:
                assert set(item) == {"heading", "text", "papers"}
        for paper in data["papers"]:
            assert paper["url"] == f"https://arxiv.org/abs/{paper['id']}"
            required = {"id", "short_name", "title", "authors", "primary_category", "url"}
            # `tldr` is optional (DESIGN.md, Round 2 contracts): one sentence when present.
            assert required <= set(paper) <= required | {"tldr"}
            assert "tldr" not in paper or paper["tldr"].endswith(".")

    def test_markdown_links_every_paper_and_nothing_else(self, week_87: dict[str, Run]) -> None:
        """--format markdown links names to arXiv pages of the week, and only those."""
        markdown = week_87["markdown"].out
        ids = {p["id"] for p in json.loads(week_87["json"].out)["papers"]}

        assert markdown.startswith("## LLM Post-Train: arXiv digest\n")
        assert set(re.findall(r"\]\(https://arxiv\.org/abs/([^)]+)\)", markdown)) == ids
        assert all(ARXIV_LINK.fullmatch(url) for url in ANY_URL.findall(markdown))
        assert "[[" not in markdown

    def test_second_week_is_new_against_the_first(
        self, listings_fake: FakeArxiv, tmp_path: Path
    ) -> None:
        """The 05-13 week, then the 05-28 week: "What Is New" refers to 2026-05-13."""
        with cli_env(tmp_path, listings_fake):
            first = run("digest", "post-train", *WEEK_42, "--format", "json")
            second = run("digest", "post-train", *WEEK_87)

        assert first.code == 0 and json.loads(first.out)["paper_count"] == 42
        assert second.code == 0, second.err
        new = second.out.split("What Is New in This Window\n", 1)[1].split(" thread reply ")[0]
        assert "2026-05-13" in new
        assert "First digest" not in new


class TestInventedWeeks:
    @pytest.fixture
    def fake(self) -> Iterator[FakeArxiv]:
        with FakeArxiv() as served:
            served.add_entries(week_entries(WEEK_A), week_entries(WEEK_B))
            yield served

    def test_invented_week_as_json(self, fake: FakeArxiv, tmp_path: Path) -> None:
        """The invented week through the CLI: its 6 papers, one request to arXiv."""
        with cli_env(tmp_path, fake):
            result = run("digest", "post-train", *INVENTED_A, "--format", "json")

        assert result.code == 0, result.err
        data = json.loads(result.out)
        assert data["paper_count"] == 6
        assert {p["short_name"] for p in data["papers"]} >= {"Kestrel-PO", "StepWise-RM"}
        assert len(fake.requests) == 1

    def test_next_week_mentions_the_previous_one(self, fake: FakeArxiv, tmp_path: Path) -> None:
        """A digest of the week after a stored one compares with it."""
        with cli_env(tmp_path, fake):
            run("digest", "post-train", *INVENTED_A)
            result = run("digest", "post-train", *INVENTED_B, "--format", "markdown")

        assert result.code == 0, result.err
        assert "Against the digest of 2026-06-08 to 2026-06-14" in result.out

    def test_no_fetch_on_an_empty_corpus_is_not_a_quiet_week(
        self, fake: FakeArxiv, tmp_path: Path
    ) -> None:
        """--no-fetch with nothing stored says the window was never fetched (a quiet week
        cannot be told from one never asked for), exits non-zero and asks nothing."""
        with cli_env(tmp_path, fake):
            result = run("digest", "post-train", *WEEK_87, "--no-fetch")

        assert result.code == 2 and result.out == ""
        assert "has never fetched post-train for 2026-05-28 to 2026-06-03" in result.err
        assert "No new papers" not in result.err
        assert fake.requests == []


class TestBadInput:
    @pytest.mark.parametrize(
        ("argv", "message"),
        [
            (["digest", "no-such-topic", *WEEK_87], "unknown topic 'no-such-topic'"),
            (["digest", "post-train", "--since", "2026-13-45"], "--since '2026-13-45'"),
            (
                ["digest", "post-train", "--since", "2026-05-28", "--until", "yesterday"],
                "--until 'yesterday' is not a date",
            ),
            (
                ["digest", "post-train", "--since", "2026-06-03", "--until", "2026-05-28"],
                "after --until",
            ),
            (["digest", "post-train", "--since", "2999-01-01", "--until", "2999-01-07"], "future"),
        ],
    )
    def test_one_error_line_and_exit_2(self, argv: list[str], message: str, tmp_path: Path) -> None:
        """A user mistake gives exactly one "digestbot: error: ..." line on stderr, exit 2."""
        with cli_env(tmp_path, None):
            result = run(*argv)

        assert result.code == 2
        assert result.out == ""
        lines = result.err.splitlines()
        assert len(lines) == 1, result.err
        assert lines[0].startswith("digestbot: error: ")
        assert message in lines[0]
        assert "Traceback" not in result.err
