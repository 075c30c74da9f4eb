"""Discord rendering: limits, links, escaping, splitting without loss, the catalog file."""

from __future__ import annotations

import re
from dataclasses import replace

from bot.discord.render import (
    LIMIT,
    ZWJ,
    Outgoing,
    digest_parts,
    discord_len,
    escape,
    reply_contents,
)
from digest.model import Digest, Item, Section
from digest.render import Block, Message, Span
from tests.support.discord import build_digest, week_papers


def plain(content: str) -> str:
    """What a reader sees of a message's text: headers, markers and escapes removed."""
    lines = [line for line in content.splitlines() if not line.startswith("#")]
    text = "\n".join(lines).replace("**", "").replace(ZWJ, "")
    text = re.sub(r"(?m)^- ", "", text)
    text = re.sub(r"\\(.)", r"\1", text)
    return " ".join(text.split())


def contents(parts: list) -> list[str]:
    return [p.payload.content for p in parts]


class TestDigestParts:
    def test_parent_first_then_sections_in_order_then_catalog(self, digest: Digest) -> None:
        """The parent is the first part, the sections follow in the digest's order, and the
        catalog is the last message of the thread."""
        keys = [p.key for p in digest_parts(digest)]
        assert keys[0] == "parent"
        assert keys[-1] == "catalog"
        base = [k.split("#")[0] for k in keys[1:-1]]
        assert list(dict.fromkeys(base)) == [s.key for s in digest.sections]

    def test_every_message_is_within_the_limit(self, digest: Digest) -> None:
        """No message is over Discord's 2000 characters."""
        for part in digest_parts(digest):
            assert isinstance(part.payload, Outgoing)
            assert 0 < discord_len(part.payload.content) <= LIMIT

    def test_papers_are_linked_to_arxiv_without_previews(self, digest: Digest) -> None:
        """Each named paper is a masked link to its arXiv page in angle brackets (so no
        preview unfurls), and there are no other links."""
        text = "\n".join(contents(digest_parts(digest)))
        links = re.findall(r"\]\((\S+?)\)", text)
        assert links
        assert all(re.fullmatch(r"<https://arxiv\.org/abs/2605\.2\d{4}>", link) for link in links)
        assert "[Name0](<https://arxiv.org/abs/2605.20000>)" in text

    def test_headings_and_bold(self, digest: Digest) -> None:
        """The parent has the digest's title as a heading; sections their titles; item
        headings are bold."""
        parts = digest_parts(digest)
        assert parts[0].payload.content.startswith(f"## {digest.title}")
        assert parts[1].payload.content.startswith("### Key Research Themes")
        assert "- **" in parts[1].payload.content

    def test_seeds_are_unique_and_stable(self, digest: Digest) -> None:
        """Each part has its own seed (the nonce's source), the same on every render."""
        first = [p.payload.seed for p in digest_parts(digest)]
        assert len(set(first)) == len(first)
        assert first == [p.payload.seed for p in digest_parts(digest)]

    def test_a_20000_character_section_is_split_without_loss(self, digest: Digest) -> None:
        """A 20,000-character section becomes "themes", "themes#2", ... each within the
        limit, split at sentence boundaries, and every sentence arrives exactly once."""
        sentences = [f"Sentence {i} is about reward hacking in setting {i}." for i in range(400)]
        long_text = " ".join(sentences)
        assert len(long_text) > 20_000
        big = replace(
            digest, sections=(Section("themes", "Key Research Themes", (Item("Huge", long_text),)),)
        )
        parts = [p for p in digest_parts(big) if p.key.split("#")[0] == "themes"]
        assert [p.key for p in parts] == ["themes"] + [
            f"themes#{n}" for n in range(2, len(parts) + 1)
        ]
        assert all(discord_len(c) <= LIMIT for c in contents(parts))
        for content in contents(parts)[1:]:
            assert plain(content).startswith("Sentence ")  # a new message starts a sentence
        joined = " ".join(plain(c) for c in contents(parts))
        assert joined == f"Huge: {long_text}"
        headers = [c.splitlines()[0] for c in contents(parts)]
        assert headers[0] == f"### Key Research Themes (1/{len(parts)})"
        assert headers[-1] == f"### Key Research Themes ({len(parts)}/{len(parts)})"

    def test_an_unbreakable_word_is_cut_without_loss(self, digest: Digest) -> None:
        """Text with no spaces at all is cut into runs that fit; nothing is lost."""
        word = "x" * 4500 + "*" * 500
        big = replace(digest, sections=(Section("themes", "Themes", (Item("", word),)),))
        parts = [p for p in digest_parts(big) if p.key.startswith("themes")]
        assert len(parts) >= 3
        assert all(discord_len(c) <= LIMIT for c in contents(parts))
        assert "".join(plain(c) for c in contents(parts)) == word

    def test_a_long_catalog_is_an_attached_file(self) -> None:
        """A week too long for a few messages gets its catalog as one message with a
        Markdown file holding every paper and its link."""
        papers = week_papers(120)
        big = build_digest(papers)
        catalog = [p for p in digest_parts(big) if p.key.startswith("catalog")]
        assert [p.key for p in catalog] == ["catalog"]
        payload = catalog[0].payload
        assert payload.attachment is not None
        assert payload.attachment.filename.endswith(".md")
        data = payload.attachment.data.decode("utf-8")
        for paper in papers:
            assert f"(https://arxiv.org/abs/{paper.id})" in data
        assert "attached" in payload.content
        assert discord_len(payload.content) <= LIMIT

    def test_a_short_catalog_is_messages(self, digest: Digest) -> None:
        """A short catalog is the thread's last message(s), each paper linked."""
        catalog = [p for p in digest_parts(digest) if p.key.startswith("catalog")]
        assert catalog and all(p.payload.attachment is None for p in catalog)
        text = "\n".join(contents(catalog))
        for entry in digest.papers:
            assert f"(<{entry.url}>)" in text

    def test_an_empty_week_is_a_short_post(self) -> None:
        """No papers: a parent that says so and the run metadata, no catalog."""
        empty = build_digest(())
        keys = [p.key for p in digest_parts(empty)]
        assert keys == ["parent", "metadata"]
        assert "No new papers" in digest_parts(empty)[0].payload.content


class TestEscaping:
    def test_mentions_never_form(self) -> None:
        """@everyone, @here, user and role mentions stay visible text that cannot ping."""
        out = escape("@everyone @here <@123> <@!456> <@&789>")
        assert "@everyone" not in out and "@here" not in out
        assert f"@{ZWJ}everyone" in out
        assert not re.search(r"<@[!&]?\d", out)  # Discord's mention syntax never forms
        assert not re.search(r"(?<!\\)<", out)  # and every "<" is escaped

    def test_markdown_is_shown_literally(self) -> None:
        """Bold, italics, code, spoilers, strikes, quotes, headings and masked links in
        text are escaped."""
        out = escape("**b** __u__ _i_ `c` ||s|| ~~x~~ > q # h [a](http://evil.example)")
        for raw in ("**", "__", "`c`", "||", "~~", "[a]", "http://"):
            assert raw not in out
        assert r"\*\*b\*\*" in out
        assert r"\[a\](http\://evil.example)" in out

    def test_line_starts_cannot_make_lists(self) -> None:
        """A leading "-", "+" or "1." (lists, subtext) is escaped at the start of any line."""
        assert escape("- item", line_start=True) == r"\- item"
        assert escape("1. first", line_start=True) == r"1\. first"
        assert escape("a\n-# small\n+ b") == "a\n\\-\\# small\n\\+ b"
        assert escape("- mid", line_start=False) == "- mid"

    def test_hostile_paper_text_is_inert_in_a_digest(self, digest: Digest) -> None:
        """Text in a digest that slipped past the core's neutralizing still cannot ping,
        link or format."""
        hostile = "@everyone <@123> <@&456> **bold** [click](https://evil.example) `x`"
        bad = replace(digest, sections=(Section("themes", "Themes", (Item(hostile, hostile),)),))
        text = "\n".join(contents(digest_parts(bad)))
        assert "@everyone" not in text
        assert not re.search(r"<@[!&]?\d", text)
        assert "https://evil" not in text  # neither a masked link nor an auto-link
        assert r"\[click\](https\://evil.example)" in text  # but visibly there


class TestReplies:
    def test_a_reply_is_bold_titled_and_split(self) -> None:
        """A neutral reply becomes messages within the limit, titled in bold."""
        blocks = tuple(Block("paragraph", (Span(f"Paragraph {i}. " * 30),)) for i in range(20))
        out = reply_contents([Message("reply", "Answer", blocks)])
        assert len(out) > 1
        assert all(discord_len(c) <= LIMIT for c in out)
        assert out[0].startswith("**Answer (1/")

    def test_post_links_jump_to_our_message_when_the_guild_is_known(self) -> None:
        """ "post:" spans (our own messages) link to the message in its guild."""
        message = Message(
            "history",
            "Earlier digests",
            (
                Block(
                    "bullet", (Span("2026-05-25"), Span(" · posted here", url="post:discord:42:77"))
                ),
            ),
        )
        linked = reply_contents([message], guild_id=9)[0]
        assert "[· posted here](<https://discord.com/channels/9/42/77>)" in linked
        unlinked = reply_contents([message])[0]
        assert "posted here" in unlinked and "](" not in unlinked

    def test_only_web_links_are_links(self) -> None:
        """A span URL that is not http(s) (or has spaces) is shown as plain text."""
        message = Message(
            "reply",
            "",
            (
                Block(
                    "paragraph",
                    (
                        Span("bad", url="javascript:alert(1)"),
                        Span(" ok", url="https://arxiv.org/abs/1"),
                    ),
                ),
            ),
        )
        out = reply_contents([message])[0]
        assert out == "bad [ok](<https://arxiv.org/abs/1>)"
