"""Rendering a digest into neutral messages, and those into terminal text and Markdown.

A message is what one chat post holds: the parent, one per section, then the catalog.
Blocks are made of spans; a span with a URL is a link, and the only links are the ones
built here from catalog ids, to arxiv.org/abs/<id>. Each chat adapter's renderer takes
the same messages, and escapes and splits them for its platform.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

from digest.model import CITATION, Digest, Figure, Item

INDEX_TITLE = "In the thread"
WEB_LINK_TEXT = "Read this digest on the web"
CHART_TITLE = "This Week in Numbers"


@dataclass(frozen=True, slots=True)
class Span:
    text: str
    url: str | None = None
    bold: bool = False


@dataclass(frozen=True, slots=True)
class Block:
    """A paragraph, or a bullet (an item of a section or of the catalog)."""

    kind: str  # "paragraph" | "bullet"
    spans: tuple[Span, ...]

    @property
    def plain(self) -> str:
        return "".join(span.text for span in self.spans)


@dataclass(frozen=True, slots=True)
class Message:
    key: str  # "parent", a section key, "chart", or "catalog"
    title: str
    blocks: tuple[Block, ...]
    image: Figure | None = None  # a picture sent with the message (the chart)


def spans(text: str, digest: Digest, bold: bool = False) -> list[Span]:
    """Text with each [[id]] replaced by the paper's short name linked to its arXiv page."""
    catalog = digest.catalog()
    out: list[Span] = []
    position = 0
    for match in CITATION.finditer(text):
        if match.start() > position:
            out.append(Span(text[position : match.start()], bold=bold))
        entry = catalog.get(match.group(1))
        if entry is not None:
            out.append(Span(entry.short_name, entry.url, bold=bold))
        position = match.end()
    if position < len(text):
        out.append(Span(text[position:], bold=bold))
    return [s for s in out if s.text]


def _item_block(item: Item, digest: Digest) -> Block:
    heading = spans(item.heading, digest, bold=True)
    body = spans(item.text, digest)
    separator = [Span(": ")] if heading and body else []
    return Block("bullet", tuple(heading + separator + body))


def messages(digest: Digest) -> list[Message]:
    """The parent message, one message per section in order, and the catalog last."""
    titles = [s.title for s in digest.sections]
    meta = f"{digest.since} to {digest.until} · {digest.paper_count} papers · {digest.synthesizer}"
    parent_blocks = [
        Block("paragraph", (Span(meta),)),
        Block("paragraph", tuple(spans(digest.gist, digest))),
    ]
    if digest.paper_count:
        parent_blocks.append(
            Block("paragraph", (Span(f"{INDEX_TITLE}: " + " · ".join([*titles, "Paper Catalog"])),))
        )
    if digest.permalink:
        parent_blocks.append(Block("paragraph", (Span(WEB_LINK_TEXT, digest.permalink),)))
    out = [Message("parent", digest.title, tuple(parent_blocks))]
    for section in digest.sections:
        blocks = tuple(_item_block(item, digest) for item in section.items) or (
            # A section can end up empty (every item cited papers outside the window): say so
            # rather than post a bare title.
            Block("paragraph", (Span("Nothing to report for this window."),)),
        )
        out.append(Message(section.key, section.title, blocks))
        if section.key == "overview" and digest.figure is not None:
            out.append(chart_message(digest.figure))
    if digest.figure is not None and not any(m.key == "chart" for m in out):
        out.append(chart_message(digest.figure))
    if digest.papers:
        entries = tuple(
            Block(
                "bullet",
                (
                    Span(entry.short_name, entry.url, bold=True),
                    Span(f": {entry.title} ({entry.primary_category}, {entry.id})"),
                ),
            )
            for entry in digest.papers
        )
        out.append(Message("catalog", f"Paper Catalog ({len(digest.papers)} papers)", entries))
    return out


def chart_message(figure: Figure) -> Message:
    """The chart as a thread message: the picture, with what it shows in words."""
    return Message("chart", CHART_TITLE, (Block("paragraph", (Span(figure.alt),)),), figure)


# -- terminal text ------------------------------------------------------------------------------


def _wrap(text: str, width: int, indent: str) -> str:
    return textwrap.fill(
        text,
        width=width,
        initial_indent=indent,
        subsequent_indent=" " * len(indent),
        break_long_words=False,
        break_on_hyphens=False,
    )


def message_text(message: Message, width: int = 100) -> str:
    """One message as the terminal shows it: links as numbered references at its end."""
    references: dict[str, int] = {}
    lines = [message.title, "=" * min(width, len(message.title))]
    for block in message.blocks:
        parts = []
        for span in block.spans:
            if span.url:
                number = references.setdefault(span.url, len(references) + 1)
                parts.append(f"{span.text} [{number}]")
            else:
                parts.append(span.text)
        text = "".join(parts)
        lines.append(_wrap(text, width, "- " if block.kind == "bullet" else ""))
        if block.kind == "paragraph":
            lines.append("")
    if references:
        lines.append("")
        lines.extend(f"[{n}] {url}" for url, n in references.items())
    return "\n".join(line.rstrip() for line in lines).strip()


def to_text(digest: Digest, width: int = 100) -> str:
    """The digest as the channel will see it: the parent, then each threaded message."""
    rendered = [message_text(m, width) for m in messages(digest)]
    parent, *thread = rendered
    side = max(3, min(30, (width - len(" thread reply ")) // 2))
    divider = "\n\n" + "-" * side + " thread reply " + "-" * side + "\n\n"
    return parent + "".join(divider + m for m in thread) + "\n"


# -- Markdown -----------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|~])")


def md_escape(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", text)


def message_markdown(message: Message) -> str:
    lines = [f"## {md_escape(message.title)}", ""]
    for block in message.blocks:
        parts = []
        for span in block.spans:
            text = md_escape(span.text)
            if span.url:
                text = f"[{text}]({span.url})"
            if span.bold:
                text = f"**{text}**"
            parts.append(text)
        prefix = "- " if block.kind == "bullet" else ""
        lines.append(prefix + "".join(parts))
        if block.kind == "paragraph":
            lines.append("")
    return "\n".join(lines).strip()


def to_markdown(digest: Digest) -> str:
    return "\n\n---\n\n".join(message_markdown(m) for m in messages(digest)) + "\n"
