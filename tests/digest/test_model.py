"""The neutral Digest model: the JSON contract of DESIGN.md, the round trip, citations."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime

from digest.model import (
    SECTION_KEYS,
    SECTION_TITLES,
    CatalogEntry,
    Digest,
    Item,
    Section,
    cite,
    cited_ids,
    restrict_citations,
)

# DESIGN.md, "Contracts": the keys of `digest --format json`, and the documented extras.
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
DOCUMENTED_EXTRAS = {"gist", "notes", "style"}
SECTION_ORDER = ("themes", "methods", "notable", "new", "challenges", "overview", "metadata")

A, B, C = "2606.00101", "2606.00102", "2606.00103"
UNKNOWN_X, UNKNOWN_Y = "2606.99998", "2606.99999"


def entry(paper_id: str, name: str) -> CatalogEntry:
    return CatalogEntry(
        id=paper_id,
        short_name=name,
        title=f"{name}: An Invented Paper",
        authors=("Ada Lovelace", "Alan Turing"),
        primary_category="cs.CL",
    )


def make_digest(
    sections: tuple[Section, ...] | None = None,
    gist: str = f"Three papers. Start with {cite(A)}.",
    generated_at: datetime = datetime(2026, 6, 16, 7, 0, tzinfo=UTC),
) -> Digest:
    """A hand-built digest of three invented papers, one item per section."""
    if sections is None:
        sections = tuple(
            Section(
                key,
                SECTION_TITLES[key],
                (Item(f"{key} heading", f"About {cite(A)} and {cite(B)}.", (A, B)),),
            )
            for key in SECTION_KEYS
        )
    return Digest(
        topic="post-train",
        title="LLM Post-Train: arXiv digest",
        since=date(2026, 6, 8),
        until=date(2026, 6, 14),
        generated_at=generated_at,
        paper_count=3,
        query="cat:cs.CL AND abs:dpo",
        synthesizer="offline",
        style="technical learning digest",
        gist=gist,
        sections=sections,
        papers=(entry(A, "Kestrel-PO"), entry(B, "StepWise-RM"), entry(C, "Harrier")),
        notes=("written by a test",),
    )


class TestJsonContract:
    def test_top_level_keys_are_the_contract_plus_documented_extras(self) -> None:
        """to_json has every DESIGN.md key and nothing beyond gist, notes and style."""
        data = make_digest().to_json()

        assert set(data) >= CONTRACT_KEYS
        assert set(data) - CONTRACT_KEYS == DOCUMENTED_EXTRAS

    def test_nested_keys_are_exactly_the_contract(self) -> None:
        """window, sections, items and catalog entries carry exactly the contract's keys."""
        data = make_digest().to_json()

        assert data["window"] == {"since": "2026-06-08", "until": "2026-06-14"}
        for section in data["sections"]:
            assert set(section) == {"key", "title", "items"}
            for item in section["items"]:
                assert set(item) == {"heading", "text", "papers"}
                assert isinstance(item["papers"], list)
        for paper in data["papers"]:
            assert set(paper) == {"id", "short_name", "title", "authors", "primary_category", "url"}
            assert paper["url"] == f"https://arxiv.org/abs/{paper['id']}"
            assert isinstance(paper["authors"], list)

    def test_values_are_plain_json(self) -> None:
        """to_json survives json.dumps/loads unchanged: only JSON types, ISO dates."""
        data = make_digest().to_json()

        assert json.loads(json.dumps(data)) == data
        assert data["generated_at"] == "2026-06-16T07:00:00+00:00"
        assert data["paper_count"] == 3
        assert data["synthesizer"] == "offline"

    def test_section_keys_and_titles_in_design_order(self) -> None:
        """The seven section keys are themes..metadata in order, each with its DESIGN title."""
        assert SECTION_KEYS == SECTION_ORDER
        assert SECTION_TITLES == {
            "themes": "Key Research Themes",
            "methods": "Methodological Approaches",
            "notable": "Notable Papers to Read First",
            "new": "What Is New in This Window",
            "challenges": "Challenges and Future Directions",
            "overview": "Concluding Overview",
            "metadata": "Run Metadata",
        }
        keys = [s["key"] for s in make_digest().to_json()["sections"]]
        assert tuple(keys) == SECTION_ORDER


class TestRoundTrip:
    def test_from_json_inverts_to_json(self) -> None:
        """from_json(to_json(d)) == d, also through a JSON string."""
        digest = make_digest()

        assert Digest.from_json(digest.to_json()) == digest
        assert Digest.from_json(json.loads(json.dumps(digest.to_json()))) == digest

    def test_empty_digest_round_trips(self) -> None:
        """A digest with no papers and only Run Metadata round-trips too."""
        metadata = Section("metadata", SECTION_TITLES["metadata"], (Item("Topic", "x"),))
        digest = make_digest(sections=(metadata,), gist="No new papers.")
        empty = replace(digest, papers=(), paper_count=0)

        assert Digest.from_json(empty.to_json()) == empty

    def test_missing_extras_default(self) -> None:
        """A stored body without gist/notes/style still loads (defaults: empty)."""
        data = make_digest().to_json()
        for key in DOCUMENTED_EXTRAS:
            del data[key]

        loaded = Digest.from_json(data)

        assert (loaded.gist, loaded.notes, loaded.style) == ("", (), "")

    def test_round_trip_keeps_a_real_clock_time(self) -> None:
        """A generated_at with microseconds (as utc_now gives) round-trips unchanged."""
        digest = make_digest(generated_at=datetime(2026, 6, 16, 7, 0, 5, 123456, tzinfo=UTC))

        assert Digest.from_json(digest.to_json()) == digest


class TestCitations:
    def test_cite_and_cited_ids(self) -> None:
        """cite() makes [[id]]; cited_ids finds them in order, once each, ignoring non-ids."""
        text = f"{cite(B)} beats {cite(A)}; see {cite(B)} again, not [[a b]] or [[x]]."

        assert cite(A) == f"[[{A}]]"
        assert cited_ids(text) == [B, A]

    def test_all_citations_covers_gist_text_and_papers(self) -> None:
        """all_citations gathers ids from the gist, item texts and item paper lists, once each."""
        themes = Section("themes", "T", (Item("h", f"{cite(B)} only in text", (C,)),))
        digest = make_digest(sections=(themes,), gist=f"Start with {cite(A)}.")

        assert digest.all_citations() == [A, C, B]

    def test_section_and_catalog_lookup(self) -> None:
        """section(key) finds a section or None; catalog() maps id to entry."""
        digest = make_digest()

        assert digest.section("notable").title == "Notable Papers to Read First"
        assert digest.section("nope") is None
        assert digest.catalog()[C].short_name == "Harrier"


class TestRestrictCitations:
    def digest_citing_unknown_papers(self) -> Digest:
        items = (
            Item("mixed", f"See {cite(A)} and {cite(UNKNOWN_X)} here.", (A, UNKNOWN_X)),
            Item("only unknown", f"{cite(UNKNOWN_X)} is great.", (UNKNOWN_X,)),
            Item("uncited", "No paper is cited in this item.", ()),
            Item("unknown in list only", "Plain words.", (UNKNOWN_Y,)),
            Item("known", f"{cite(C)} is fine.", (C,)),
        )
        return make_digest(
            sections=(Section("themes", SECTION_TITLES["themes"], items),),
            gist=f"Start with {cite(UNKNOWN_Y)} and {cite(A)}.",
        )

    def test_unknown_ids_are_removed_from_text_and_papers(self) -> None:
        """Citations of ids outside the catalog vanish from texts, paper lists and the gist."""
        cleaned, _ = restrict_citations(self.digest_citing_unknown_papers())

        catalog = {e.id for e in cleaned.papers}
        assert set(cleaned.all_citations()) <= catalog
        mixed = cleaned.sections[0].items[0]
        assert mixed == Item("mixed", f"See {cite(A)} and here.", (A,))
        assert cleaned.gist == f"Start with and {cite(A)}."
        assert "  " not in cleaned.gist

    def test_items_left_citing_nothing_are_dropped_and_uncited_kept(self) -> None:
        """An item citing only unknown papers goes; an item that never cited anything stays."""
        cleaned, _ = restrict_citations(self.digest_citing_unknown_papers())

        headings = [i.heading for i in cleaned.sections[0].items]
        assert headings == ["mixed", "uncited", "known"]

    def test_removed_ids_are_reported_once_each(self) -> None:
        """The second value lists every removed id, in order of appearance, without repeats."""
        _, removed = restrict_citations(self.digest_citing_unknown_papers())

        assert sorted(removed) == [UNKNOWN_X, UNKNOWN_Y]
        assert len(removed) == len(set(removed))

    def test_clean_digest_is_unchanged(self) -> None:
        """A digest that cites only catalog papers comes back equal, with nothing removed."""
        digest = make_digest()

        assert restrict_citations(digest) == (digest, [])
