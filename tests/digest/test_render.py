"""Rendering: neutral messages, terminal text and Markdown, pinned by golden files.

The golden files in tests/golden/ are the invented week tests/fixtures/digest/
week-2026-06-08.json synthesized by the offline engine at a fixed time. After an intended
change to the engine or the renderers, regenerate them and review the diff:

    UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/digest/test_render.py
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import replace
from pathlib import Path

import pytest

from digest.model import SECTION_TITLES, Digest, Item, Section, cite
from digest.render import INDEX_TITLE, md_escape, messages, spans, to_markdown, to_text
from tests.support.weeks import WEEK_A, load_week, synthesize

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
DIVIDER = "\n\n" + "-" * 30 + " thread reply " + "-" * 30 + "\n\n"
URL = re.compile(r"(?:https?|ftp)://[^\s)\]>]+|www\.\S+", re.IGNORECASE)


@pytest.fixture(scope="module")
def digest() -> Digest:
    """The invented week's digest, generated at 2026-06-16 07:00 UTC."""
    window, papers = load_week(WEEK_A)
    return synthesize(papers, window)


def check_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run with UPDATE_GOLDEN=1 to write it"
    assert actual == path.read_text(encoding="utf-8"), (
        f"{name} differs from the golden file; if the change is intended, rerun with "
        "UPDATE_GOLDEN=1 and review the diff"
    )


class TestGolden:
    def test_text(self, digest: Digest) -> None:
        """to_text of the invented week matches tests/golden/digest-week-2026-06-08.txt."""
        check_golden("digest-week-2026-06-08.txt", to_text(digest))

    def test_markdown(self, digest: Digest) -> None:
        """to_markdown of the invented week matches tests/golden/digest-week-2026-06-08.md."""
        check_golden("digest-week-2026-06-08.md", to_markdown(digest))

    def test_json(self, digest: Digest) -> None:
        """to_json of the invented week matches tests/golden/digest-week-2026-06-08.json."""
        text = json.dumps(digest.to_json(), ensure_ascii=False, indent=2) + "\n"
        check_golden("digest-week-2026-06-08.json", text)


class TestMessages:
    def test_parent_then_sections_then_catalog(self, digest: Digest) -> None:
        """Messages are the parent, one per section in order, and the catalog last."""
        out = messages(digest)

        assert [m.key for m in out] == ["parent", *(s.key for s in digest.sections), "catalog"]
        assert out[0].title == digest.title
        assert [m.title for m in out[1:-1]] == [s.title for s in digest.sections]
        assert out[-1].title == f"Paper Catalog ({len(digest.papers)} papers)"
        assert len(out[-1].blocks) == len(digest.papers)

    def test_parent_holds_window_count_gist_and_index(self, digest: Digest) -> None:
        """The parent: window, count and engine; the gist; the index of thread messages."""
        parent = messages(digest)[0]
        plain = [b.plain for b in parent.blocks]

        assert plain[0] == "2026-06-08 to 2026-06-14 · 6 papers · offline"
        assert plain[1].startswith("6 papers on LLM Post-Train")
        assert plain[2] == f"{INDEX_TITLE}: " + " · ".join(
            [*SECTION_TITLES.values(), "Paper Catalog"]
        )

    def test_citations_become_linked_short_names(self, digest: Digest) -> None:
        """A citation renders as the catalog short name with the arXiv link; unknown ids vanish."""
        paper = digest.papers[0]
        text = f"See {cite(paper.id)} and {cite('2606.99999')}."

        out = spans(text, digest)

        assert [(s.text, s.url) for s in out] == [
            ("See ", None),
            (paper.short_name, f"https://arxiv.org/abs/{paper.id}"),
            (" and ", None),
            (".", None),
        ]


class TestText:
    def test_parent_first_and_each_section_a_thread_reply(self, digest: Digest) -> None:
        """The text is the parent, then each section and the catalog after a thread divider."""
        parent, *replies = to_text(digest).split(DIVIDER)

        assert parent.startswith(f"{digest.title}\n{'=' * len(digest.title)}\n")
        titles = [reply.split("\n", 1)[0] for reply in replies]
        assert titles == [*(s.title for s in digest.sections), "Paper Catalog (6 papers)"]

    def test_every_link_is_an_arxiv_page_of_the_window(self, digest: Digest) -> None:
        """Every URL in text and Markdown is https://arxiv.org/abs/<id of a window paper>."""
        allowed = {f"https://arxiv.org/abs/{e.id}" for e in digest.papers}

        for rendered in (to_text(digest), to_markdown(digest)):
            urls = set(URL.findall(rendered))
            assert urls == allowed

    def test_cited_names_sit_next_to_their_references(self, digest: Digest) -> None:
        """In each message, every cited paper shows as "Name [n]" and [n] is its arXiv link."""
        catalog = digest.catalog()
        for section, message in zip(
            digest.sections, to_text(digest).split(DIVIDER)[1:-1], strict=True
        ):
            flat = re.sub(r"\s+", " ", message)
            references = dict(re.findall(r"^\[(\d+)\] (\S+)$", message, re.MULTILINE))
            numbers = {url: n for n, url in references.items()}
            cited = {i for item in section.items for i in item.papers}
            for paper_id in cited:
                entry = catalog[paper_id]
                number = numbers[entry.url]
                assert f"{entry.short_name} [{number}]" in flat, (section.key, entry.short_name)

    def test_wrapping_respects_the_width(self, digest: Digest) -> None:
        """Lines other than the fixed divider stay within the width (long single words aside)."""
        for line in to_text(digest, width=72).splitlines():
            if "thread reply" not in line:
                assert len(line) <= 72 or " " not in line.strip(), line


class TestMarkdown:
    def test_cited_names_are_markdown_links(self, digest: Digest) -> None:
        """Every cited paper appears as [Name](https://arxiv.org/abs/<id>)."""
        markdown = to_markdown(digest)

        for paper_id in digest.all_citations():
            entry = digest.catalog()[paper_id]
            assert f"[{md_escape(entry.short_name)}]({entry.url})" in markdown

    def test_messages_are_separated_and_titled(self, digest: Digest) -> None:
        """Each message is a "## Title" block; messages are separated by horizontal rules."""
        parts = to_markdown(digest).split("\n\n---\n\n")

        assert len(parts) == len(digest.sections) + 2
        assert [p.split("\n", 1)[0] for p in parts[1:-1]] == [
            f"## {s.title}" for s in digest.sections
        ]

    def test_markup_in_text_is_escaped(self, digest: Digest) -> None:
        """Markdown specials in digest text are escaped, so no text becomes markup or a link."""
        item = Item("A *bold* claim", "See [this](https://example.org) <b>now</b> _x_ `y`.")
        themes = Section("themes", SECTION_TITLES["themes"], (item,))
        marked = replace(digest, sections=(themes,))

        markdown = to_markdown(marked)

        assert r"A \*bold\* claim" in markdown
        assert r"\[this\](https://example.org)" in markdown
        assert r"\<b\>now\</b\> \_x\_ \`y\`" in markdown
        assert "](https://example.org)" not in markdown.replace(r"\](", "")


class TestEmpty:
    def test_empty_digest_renders_parent_and_metadata_only(self, digest: Digest) -> None:
        """No papers: the parent (no index) and Run Metadata, no catalog, in both formats."""
        metadata = digest.section("metadata")
        empty = replace(digest, paper_count=0, papers=(), sections=(metadata,), gist="None.")

        out = messages(empty)
        text = to_text(empty)

        assert [m.key for m in out] == ["parent", "metadata"]
        assert INDEX_TITLE not in text and "Paper Catalog" not in text
        assert text.count("thread reply") == 1
        assert "Paper Catalog" not in to_markdown(empty)
