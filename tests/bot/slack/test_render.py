"""Slack rendering: escaping, links, splitting to the limits, metadata, the catalog file."""

from __future__ import annotations

import html
import re
from dataclasses import replace

from bot.slack.render import (
    CATALOG_MESSAGE_LIMIT,
    HEADER_LIMIT,
    MAX_BLOCKS,
    METADATA_EVENT,
    SECTION_TEXT_LIMIT,
    TEXT_LIMIT,
    WORD_JOINER,
    SlackFile,
    SlackMessage,
    escape,
    plain,
    render_digest,
    render_message,
    span_mrkdwn,
)
from digest.model import Item, Section
from digest.render import Block, Message, Span
from tests.support.slack import HOSTILE, assert_inert, build_digest, papers


def within_limits(message: SlackMessage) -> None:
    assert len(message.text) <= TEXT_LIMIT
    assert 1 <= len(message.blocks) <= MAX_BLOCKS
    for block in message.blocks:
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= HEADER_LIMIT
        else:
            assert block["text"]["type"] == "mrkdwn" and block["text"]["verbatim"] is True
            assert 1 <= len(block["text"]["text"]) <= SECTION_TEXT_LIMIT


def body_text(messages: list[SlackMessage]) -> str:
    """The sections' text of messages, unescaped, as one string of words."""
    sections = [b["text"]["text"] for m in messages for b in m.blocks if b["type"] == "section"]
    return " ".join(html.unescape(" ".join(sections)).split())


def prose(sentences: int, seed: str = "") -> str:
    """Varied sentences of ordinary research prose, some with & < > in them."""
    out = []
    for i in range(sentences):
        out.append(
            f"Sentence {i}{seed} shows that reward & preference models <often> beat baselines "
            f"by {i % 17} points on benchmark {i % 5}, which matters for post-training."
        )
    return " ".join(out)


class TestEscaping:
    def test_ampersand_first_then_angle_brackets(self) -> None:
        """`&` is escaped first, so an entity already in the text stays readable as written."""
        assert escape("a & <b> &amp;") == "a &amp; &lt;b&gt; &amp;amp;"

    def test_markup_in_text_becomes_inert(self) -> None:
        """Mentions, Slack links and markdown links in text arrive as plain characters."""
        out = plain(HOSTILE)
        assert "<" not in out and ">" not in out
        assert "evil.example" not in out and "evil[.]example" in out
        assert f"@{WORD_JOINER}everyone" in out and "@everyone" not in out

    def test_arxiv_urls_in_text_are_kept(self) -> None:
        assert (
            plain("see https://arxiv.org/abs/2606.00001.")
            == "see https://arxiv.org/abs/2606.00001."
        )


class TestSpans:
    def test_a_span_with_an_arxiv_url_is_a_link(self) -> None:
        span = Span("PEFT-Arena", "https://arxiv.org/abs/2606.00001")
        assert span_mrkdwn(span) == "<https://arxiv.org/abs/2606.00001|PEFT-Arena>"

    def test_any_other_url_is_plain_text(self) -> None:
        assert span_mrkdwn(Span("x", "https://evil.example/")) == "x"
        assert span_mrkdwn(Span("x", "javascript:alert(1)")) == "x"

    def test_link_labels_are_escaped(self) -> None:
        span = Span("A<b>|c&d", "https://arxiv.org/abs/2606.00001")
        assert span_mrkdwn(span) == "<https://arxiv.org/abs/2606.00001|A&lt;b&gt;|c&amp;d>"

    def test_bold_keeps_whitespace_outside_the_asterisks(self) -> None:
        assert span_mrkdwn(Span(" Themes: ", bold=True)) == " *Themes:* "
        assert span_mrkdwn(Span("a*b", bold=True)) == "*a∗b*"

    def test_our_own_message_links_become_permalinks_when_resolved(self) -> None:
        ref = "post:slack:C0TEST:1780000001.000001"
        link = "https://fake.slack.com/archives/C0TEST/p1780000001000001"
        assert span_mrkdwn(Span("thread", ref), lambda url: link) == f"<{link}|thread>"
        assert span_mrkdwn(Span("thread", ref)) == "thread"
        assert span_mrkdwn(Span("thread", ref), lambda url: "https://evil.example/") == "thread"


class TestSplitting:
    def test_a_20000_character_section_arrives_complete_within_the_limits(self) -> None:
        """A 20,000-character section becomes several messages, each within every Slack
        limit, cut at sentence ends, and together holding every word."""
        text = prose(200)
        assert len(text) >= 20_000
        digest = build_digest(papers(4))
        long = Section("themes", "Key Research Themes", (Item("One long theme", text),))
        digest = replace(digest, sections=(long, *digest.sections[1:]))
        parts = render_digest(digest)
        themes = [p for p in parts if p.key.split("#")[0] == "themes"]
        assert [p.key for p in themes] == ["themes"] + [
            f"themes#{n}" for n in range(2, len(themes) + 1)
        ]
        assert len(themes) >= 6
        messages = [p.payload for p in themes]
        for message in messages:
            within_limits(message)
        assert body_text(messages) == "• *One long theme*: " + " ".join(text.split())
        for message in messages[:-1]:
            last = message.blocks[-1]["text"]["text"]
            assert last.endswith("post-training."), last[-80:]
        headers = [m.blocks[0]["text"]["text"] for m in messages]
        assert headers[0] == f"Key Research Themes (1/{len(messages)})"

    def test_the_fallback_text_repeats_the_whole_message(self) -> None:
        """Screen readers read `text`: it carries the title and every section."""
        message = render_message(Message("x", "Title", (Block("paragraph", (Span(prose(10)),)),)))[
            0
        ]
        sections = [b["text"]["text"] for b in message.blocks if b["type"] == "section"]
        assert message.text == "*Title*\n\n" + "\n\n".join(sections)

    def test_a_word_longer_than_a_section_is_cut_and_kept(self) -> None:
        blob = "x&" * 6000
        out = render_message(Message("x", "Blob", (Block("paragraph", (Span(blob),)),)))
        for message in out:
            within_limits(message)
        assert body_text(out).replace(" ", "") == blob

    def test_many_short_items_share_messages_up_to_50_blocks(self) -> None:
        blocks = tuple(Block("bullet", (Span(f"item {i}"),)) for i in range(400))
        out = render_message(Message("catalog", "Catalog", blocks))
        for message in out:
            within_limits(message)
        assert body_text(out).count("• item") == 400

    def test_a_short_message_is_one_message_without_a_number(self) -> None:
        out = render_message(Message("x", "Short", (Block("paragraph", (Span("hi"),)),)))
        assert len(out) == 1 and out[0].blocks[0]["text"]["text"] == "Short"

    def test_a_message_without_title_or_blocks_is_still_valid(self) -> None:
        (out,) = render_message(Message("x", "", ()))
        assert out.text.strip() == "" and out.blocks == ()


class TestDigest:
    def test_every_part_carries_its_metadata(self) -> None:
        digest = build_digest(papers(8))
        parts = render_digest(digest)
        assert parts[0].key == "parent" and parts[-1].key == "catalog"
        for part in parts:
            assert isinstance(part.payload, SlackMessage)
            within_limits(part.payload)
            assert part.payload.metadata == {
                "event_type": METADATA_EVENT,
                "event_payload": {
                    "part": part.key,
                    "topic": "post-train",
                    "since": "2026-06-01",
                    "until": "2026-06-07",
                },
            }

    def test_a_long_catalog_goes_up_as_a_file_with_every_paper(self) -> None:
        digest = build_digest(papers(90))
        last = render_digest(digest)[-1]
        assert last.key == "catalog" and isinstance(last.payload, SlackFile)
        for entry in digest.papers:
            assert f"https://arxiv.org/abs/{entry.id}" in last.payload.content
        assert last.payload.filename == "post-train-2026-06-01-2026-06-07-papers.txt"
        assert "90 papers" in last.payload.comment

    def test_a_catalog_that_fits_stays_in_messages(self) -> None:
        parts = render_digest(build_digest(papers(8)))
        catalog = [p for p in parts if p.key.startswith("catalog")]
        assert 1 <= len(catalog) <= CATALOG_MESSAGE_LIMIT
        assert all(isinstance(p.payload, SlackMessage) for p in catalog)

    def test_an_empty_week_is_a_short_valid_post(self) -> None:
        parts = render_digest(build_digest([]))
        assert [p.key for p in parts] == ["parent", "metadata"]
        for part in parts:
            within_limits(part.payload)

    def test_hostile_digest_text_reaches_slack_inert(self) -> None:
        """Even text that skipped the core's neutralising (a model's output, say) cannot
        mention anyone or link anywhere but arXiv once rendered for Slack."""
        digest = build_digest(papers(5))
        section = Section(
            "themes", "Themes " + HOSTILE, (Item(HOSTILE, HOSTILE + " [[2606.00001]]"),)
        )
        digest = replace(digest, gist=HOSTILE, sections=(section,))
        bodies = [
            {"text": p.payload.text, "blocks": list(p.payload.blocks)}
            for p in render_digest(digest)
            if isinstance(p.payload, SlackMessage)
        ]
        # Headers are plain_text (never parsed), so only the mrkdwn is checked for markup.
        for body in bodies:
            body["blocks"] = [b for b in body["blocks"] if b["type"] == "section"]
        assert_inert(bodies)
        assert any("<https://arxiv.org/abs/2606.00001|" in b["text"] for b in bodies)

    def test_links_point_only_at_catalog_papers(self) -> None:
        digest = build_digest(papers(8))
        ids = {p.id for p in digest.papers}
        for part in render_digest(digest):
            for target in re.findall(r"<https://arxiv\.org/abs/([^|>]+)\|", part.payload.text):
                assert target in ids
