"""The arXiv Atom parser: both API formats, blanks, error feeds, broken files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.errors import FeedError
from digest.feed import ScannedFeed, parse_feed, read_feed_file, scan_feed_file
from tests.support.paths import FIXTURES

FEEDS = FIXTURES / "feeds"


class TestOwnFixtures:
    def test_current_format_fields(self) -> None:
        feed = read_feed_file(FEEDS / "current-3.atom.xml")
        assert feed.header.total_results == 3 and feed.error is None
        kestrel, forget, zero = feed.results
        assert (kestrel.id, kestrel.version) == ("2606.00011", 2)
        assert kestrel.title == "Kestrel: Calibrated Reward Models for Long-Horizon Agents"
        assert kestrel.authors == ("Zoë Ramírez-Götz", "Ilse Weißl")
        assert "$\\epsilon$-smoothed" in kestrel.abstract
        assert kestrel.categories == ("cs.CL", "cs.LG")  # primary first
        assert kestrel.primary_category == "cs.CL"
        assert kestrel.published == datetime(2026, 6, 1, 17, 30, tzinfo=UTC)
        assert kestrel.updated == datetime(2026, 6, 2, 9, 0, tzinfo=UTC)
        assert (kestrel.comment, kestrel.doi) == ("12 pages, 4 figures", "10.0000/fixture.11")
        assert forget.categories == ("cs.CL",)  # the MSC code 68T50 is not a category
        assert forget.journal_ref == "Proceedings of Nothing 2026"
        assert zero.title == "0"

    def test_legacy_format_skips_blank_entries_and_unwraps_text(self) -> None:
        feed = read_feed_file(FEEDS / "legacy-blank-entries.atom.xml")
        assert feed.skipped == 2
        (paper,) = feed.results
        assert paper.id == "2606.00021" and paper.version == 3
        assert paper.title == "Hard-Wrapped Titles from the Legacy API Format"
        assert paper.abstract.startswith("This abstract is hard-wrapped the way")
        assert "\n" not in paper.abstract and "  " not in paper.abstract
        assert paper.categories == ("cs.LG",)
        assert paper.authors == ("Raimo Vääräniemi",)

    def test_error_feed_carries_its_message(self) -> None:
        feed = read_feed_file(FEEDS / "error-400.atom.xml")
        assert feed.results == [] and feed.error == "incorrect id format for nonsense"

    @pytest.mark.parametrize(
        ("name", "message"),
        [
            ("truncated.atom.xml", "not a complete XML document"),
            ("not-a-feed.html", "root element is <html>"),
            ("missing.xml", "cannot read the feed file"),
        ],
    )
    def test_broken_files_are_one_clear_error(self, name: str, message: str) -> None:
        with pytest.raises(FeedError, match=message):
            read_feed_file(FEEDS / name)

    def test_empty_bytes(self) -> None:
        with pytest.raises(FeedError, match="is empty"):
            parse_feed(b"  \n")


class TestRealResponses:
    """The real arXiv responses in ../shared/data/arxiv (see its SOURCES.md)."""

    def test_new_and_legacy_formats_of_one_query_agree_on_ids(self, shared_arxiv: Path) -> None:
        new = read_feed_file(
            shared_arxiv / "atom_2025-11-11_query-electron-AND-proton_10entries.xml"
        )
        old = read_feed_file(
            shared_arxiv / "atom_2025-08-20_LEGACY_query-electron-AND-proton_10entries.xml"
        )
        assert len(new.results) == len(old.results) == 10
        assert any("Meißner" in a for p in new.results for a in p.authors)

    def test_largest_feed_keeps_versions_unicode_and_latex(self, shared_arxiv: Path) -> None:
        feed = read_feed_file(shared_arxiv / "atom_2026-04-12_query-all-testing_100entries.xml")
        by_id = {p.id: p for p in feed.results}
        assert len(by_id) == 100
        assert by_id["2409.05654"].version == 9
        assert "cs/0503050" in by_id
        assert any("$" in p.abstract for p in feed.results)
        assert any("Ramírez" in a for p in feed.results for a in p.authors)

    def test_legacy_blank_entries(self, shared_arxiv: Path) -> None:
        feed = read_feed_file(
            shared_arxiv / "atom_2025-08-24_LEGACY_id-list-3-missing-1-present_4entries-3-blank.xml"
        )
        assert (len(feed.results), feed.skipped) == (1, 3)
        assert feed.results[0].categories == ("math.AP",)  # the MSC term "35" dropped

    def test_total_results_can_disagree_with_entries(self, shared_arxiv: Path) -> None:
        feed = read_feed_file(
            shared_arxiv / "atom_2025-08-20_LEGACY_EMPTY_totalResults1-but-0entries.xml"
        )
        assert feed.header.total_results == 1 and feed.results == []

    def test_real_error_feed(self, shared_arxiv: Path) -> None:
        feed = read_feed_file(
            shared_arxiv / "atom_2026-04-12_ERROR-http400_id-list-abc_incorrect-id-format.xml"
        )
        assert feed.error == "incorrect id format for abc"

    def test_old_style_id(self, shared_arxiv: Path) -> None:
        feed = read_feed_file(
            shared_arxiv / "atom_2026-04-12_id-list-oldstyle-quant-ph_0201082v1_1entry.xml"
        )
        assert [(p.id, p.version) for p in feed.results] == [("quant-ph/0201082", 1)]

    def test_rss_is_not_an_api_feed(self, shared_arxiv: Path) -> None:
        with pytest.raises(FeedError, match="root element is <rss>"):
            read_feed_file(shared_arxiv / "rss_2026-04-27_cs.CL_new_3items.xml")


def scanned_as_parsed(scan: ScannedFeed) -> tuple:
    """What a scan says of a feed, in `read_feed_file`'s terms: papers (read from each
    entry), their keys, the skipped count, the error and the header."""
    papers = [entry.paper() for entry in scan.entries]
    keys = [(entry.id, entry.version, entry.updated) for entry in scan.entries]
    return papers, keys, scan.skipped, scan.error, scan.header


class TestScan:
    """scan_feed_file reads entries to their identity only; what it says must be exactly
    what the full parse says, or a re-ingest would skip or store the wrong papers."""

    @pytest.mark.parametrize(
        "name", ["current-3.atom.xml", "legacy-blank-entries.atom.xml", "error-400.atom.xml"]
    )
    def test_agrees_with_the_full_parse_on_fixtures(self, name: str) -> None:
        parsed = read_feed_file(FEEDS / name)
        papers, keys, skipped, error, header = scanned_as_parsed(scan_feed_file(FEEDS / name))
        assert papers == parsed.results
        assert keys == [(p.id, p.version, p.updated) for p in parsed.results]
        assert (skipped, error, header) == (parsed.skipped, parsed.error, parsed.header)

    def test_agrees_with_the_full_parse_on_every_real_response(self, shared_arxiv: Path) -> None:
        files = sorted(shared_arxiv.glob("atom_*.xml")) + sorted(shared_arxiv.glob("feeds/*.xml"))
        assert len(files) >= 20
        for path in files:
            parsed = read_feed_file(path)
            papers, keys, skipped, error, header = scanned_as_parsed(scan_feed_file(path))
            assert papers == parsed.results, path.name
            assert keys == [(p.id, p.version, p.updated) for p in parsed.results], path.name
            assert (skipped, error, header) == (parsed.skipped, parsed.error, parsed.header)

    @pytest.mark.parametrize(
        ("name", "message"),
        [
            ("truncated.atom.xml", "not a complete XML document"),
            ("not-a-feed.html", "root element is <html>"),
            ("missing.xml", "cannot read the feed file"),
        ],
    )
    def test_broken_files_are_the_same_errors(self, name: str, message: str) -> None:
        with pytest.raises(FeedError, match=message):
            scan_feed_file(FEEDS / name)

    def test_an_entry_without_a_valid_date_is_skipped_as_the_parse_skips_it(
        self, tmp_path: Path
    ) -> None:
        """The key is read the way the parse reads it: an unreadable <published> makes a
        blank, counted as skipped; an unreadable <updated> falls back to <published>; the
        last of two <id>s wins."""
        content = (FEEDS / "current-3.atom.xml").read_text()
        content = content.replace(  # Kestrel's <updated>: 2 June becomes unreadable
            "<updated>2026-06-02T09:00:00Z</updated>", "<updated>13/13/2026</updated>", 1
        )
        content = content.replace(  # the second paper's <published>
            "<published>2026-06-01T18:00:00Z</published>", "<published>soon</published>", 1
        )
        content = content.replace(
            "<id>http://arxiv.org/abs/2606.00013v1</id>",
            "<id>http://arxiv.org/abs/2606.00099v1</id><id>http://arxiv.org/abs/2606.00013v4</id>",
            1,
        )
        path = tmp_path / "odd.atom.xml"
        path.write_text(content)

        parsed = read_feed_file(path)
        papers, keys, skipped, _, _ = scanned_as_parsed(scan_feed_file(path))

        assert papers == parsed.results and skipped == parsed.skipped
        assert keys == [(p.id, p.version, p.updated) for p in parsed.results]
        assert (skipped, len(keys)) == (1, 2)
        assert ("2606.00013", 4) in [key[:2] for key in keys]
        kestrel = next(p for p in parsed.results if p.id == "2606.00011")
        assert kestrel.updated == kestrel.published

    def test_an_entry_nested_below_the_top_level_is_not_one_of_the_feeds(
        self, tmp_path: Path
    ) -> None:
        """Only the feed's own <entry> children are papers, as in the full parse: one
        nested in another entry's element is not read."""
        content = (FEEDS / "current-3.atom.xml").read_text()
        nested = (
            "<source><entry><id>http://arxiv.org/abs/2606.00077v1</id>"
            "<published>2026-06-01T00:00:00Z</published><title>Nested</title></entry></source>"
        )
        content = content.replace(
            "<id>http://arxiv.org/abs/2606.00012v1</id>",
            "<id>http://arxiv.org/abs/2606.00012v1</id>" + nested,
            1,
        )
        path = tmp_path / "nested.atom.xml"
        path.write_text(content)

        parsed = read_feed_file(path)
        papers, keys, skipped, error, header = scanned_as_parsed(scan_feed_file(path))

        assert [p.id for p in papers] == ["2606.00011", "2606.00012", "2606.00013"]
        assert papers == parsed.results and (skipped, error) == (0, None)
        assert header == parsed.header
        assert keys == [(p.id, p.version, p.updated) for p in parsed.results]
