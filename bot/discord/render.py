"""Discord markdown for digests and replies: escaped, linked, and split to Discord's limits.

Takes the neutral messages of `digest.render` and writes each as one or more message
contents of at most 2000 characters (discord.py does not check; Discord refuses longer
ones). Text is escaped so that nothing in a paper or a question becomes markup, a link or a
mention; the only links are the spans that carry a URL, written `[name](<url>)` (the angle
brackets stop Discord from unfurling a preview). Long sections are split between blocks,
then at sentence, then at word boundaries, never inside a link or a bold run, and never
dropping text. A long paper catalog goes as an attached Markdown file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.posting import Part
from digest.model import Digest
from digest.render import Block, Message, message_markdown, messages

LIMIT = 2000  # characters of a message's content, as Discord counts them (UTF-16 units)
CATALOG_MAX_MESSAGES = 3  # a catalog longer than this many messages goes as a file
_TITLE_MAX = 200  # characters of a title kept in a header line

# Characters Discord's markdown gives a meaning anywhere in a line. Escaping them with a
# backslash shows them literally. ":" only matters in "://", which would auto-link a URL.
_SPECIAL = re.compile(r"([\\*_~`|\[\]<>#])")
_SCHEME = re.compile(r"://")
# Characters that only mean something at the start of a line: lists ("- ", "+ ", "1. ")
# and subtext ("-# ").
_BULLET_START = re.compile(r"(?m)^([ \t]*)([-+])")
_NUMBER_START = re.compile(r"(?m)^([ \t]*)(\d+)\.")
_SAFE_URL = re.compile(r"^https?://[^\s<>]+$")
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+")
_WORD = re.compile(r"\S+\s*|\s+")
ZWJ = "\u200d"  # after a pinging "@": "@everyone" and "<@123>" stay text, visibly unchanged
# The "@"s that could ping: "@everyone", "@here" and the "@" of "<@123>", "<@!1>", "<@&1>".
# Any other "@" ("pass@k", "user@example.com") is ordinary text and stays as it is; no
# message is sent with allowed mentions anyway (AllowedMentions.none()).
_PING_AT = re.compile(r"(?<=<)@|@(?=(?:everyone|here)\b)", re.IGNORECASE)

# A URL from a span -> the link target to write, or None to show the text plainly.
LinkResolver = Callable[[str], str | None]


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with a message (the paper catalog of a long week)."""

    filename: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One Discord message: its content, an optional file, and `seed`, the stable identity
    of this part of this digest that the poster turns into the message's nonce."""

    content: str
    seed: str
    attachment: Attachment | None = None


def discord_len(text: str) -> int:
    """The length Discord's limit applies to: UTF-16 code units (an emoji can count two)."""
    return len(text.encode("utf-16-le")) // 2


def escape(text: str, *, line_start: bool = False) -> str:
    """Untrusted text as Discord will show it literally: markdown escaped, auto-links and
    mentions broken. `line_start`: the text begins a line (so a leading "-" would be a list)."""
    out = _SPECIAL.sub(r"\\\1", text)
    out = _SCHEME.sub(r"\\://", out)
    out = _PING_AT.sub("@" + ZWJ, out)
    if line_start:
        return _escape_line_starts(out)
    head, newline, rest = out.partition("\n")
    return head + newline + _escape_line_starts(rest) if newline else out


def _escape_line_starts(text: str) -> str:
    text = _BULLET_START.sub(r"\1\\\2", text)
    return _NUMBER_START.sub(r"\1\2\\.", text)


def safe_url(url: str) -> str | None:
    """`url` if it can be a link target inside `<...>`, else None."""
    return url if _SAFE_URL.match(url) else None


def _span(text: str, url: str | None, bold: bool, links: LinkResolver, line_start: bool) -> str:
    """One run of text with its link and bold; whitespace stays outside the markers, where
    Discord's markdown needs it."""
    core = text.strip()
    if not core:
        return text
    lead = text[: len(text) - len(text.lstrip())]
    trail = text[len(text.rstrip()) :]
    out = escape(core, line_start=line_start and not lead)
    target = links(url) if url else None
    if target:
        out = f"[{out}](<{target}>)"
    if bold:
        out = f"**{out}**"
    return lead + out + trail


# -- splitting ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Piece:
    """A piece of a span's text: the unit the splitter moves between messages."""

    span: int
    text: str


def _render_pieces(block: Block, pieces: Sequence[_Piece], first: bool, links: LinkResolver) -> str:
    """Pieces of a block as markdown: neighbouring pieces of one span share one link/bold."""
    prefix = "- " if block.kind == "bullet" and first else ""
    out = [prefix]
    index = 0
    while index < len(pieces):
        end = index
        while end + 1 < len(pieces) and pieces[end + 1].span == pieces[index].span:
            end += 1
        span = block.spans[pieces[index].span]
        text = "".join(p.text for p in pieces[index : end + 1])
        line_start = index == 0 and not prefix
        out.append(_span(text, span.url, span.bold, links, line_start))
        index = end + 1
    return "".join(out).strip()


def _pieces(block: Block, budget: int, links: LinkResolver) -> list[_Piece]:
    """The block's text cut into pieces that each fit `budget` alone: sentences, or words
    of an over-long sentence, or fixed runs of characters of an over-long word."""
    out: list[_Piece] = []
    for index, span in enumerate(block.spans):
        wrapper = discord_len(_span("x", span.url, span.bold, links, True)) - 1

        def fits(text: str, span_index: int = index) -> bool:
            piece = [_Piece(span_index, text)]
            return discord_len(_render_pieces(block, piece, True, links)) <= budget

        for sentence in _split_keep(span.text, _SENTENCE_END):
            if fits(sentence):
                out.append(_Piece(index, sentence))
                continue
            for word in _WORD.findall(sentence):
                if fits(word):
                    out.append(_Piece(index, word))
                    continue
                # Escaping at most doubles a character (UTF-16 pairs, "\*", "@" + ZWJ).
                size = max(1, (budget - wrapper - 4) // 2)
                out.extend(_Piece(index, word[i : i + size]) for i in range(0, len(word), size))
    return out


def _split_keep(text: str, separator: re.Pattern[str]) -> list[str]:
    """`text` split after each separator match, keeping the separator: "".join(...) == text."""
    out, start = [], 0
    for match in separator.finditer(text):
        out.append(text[start : match.end()])
        start = match.end()
    if start < len(text):
        out.append(text[start:])
    return out


def _block_fragments(block: Block, budget: int, links: LinkResolver) -> list[str]:
    """The block as markdown lines that each fit `budget`; one line unless it is too long."""
    every = [_Piece(i, span.text) for i, span in enumerate(block.spans)]
    whole = _render_pieces(block, every, True, links)
    if discord_len(whole) <= budget:
        return [whole] if whole else []
    fragments: list[str] = []
    current: list[_Piece] = []
    for piece in _pieces(block, budget, links):
        candidate = [*current, piece]
        if current and discord_len(_render_pieces(block, candidate, not fragments, links)) > budget:
            fragments.append(_render_pieces(block, current, not fragments, links))
            current = [piece]
        else:
            current = candidate
    if current:
        fragments.append(_render_pieces(block, current, not fragments, links))
    return [f for f in fragments if f]


def message_contents(
    message: Message, heading: Callable[[str], str], links: LinkResolver
) -> list[str]:
    """One neutral message as Discord message contents, each at most `LIMIT` characters.

    Blocks are kept whole where they fit; a split message repeats its header with (i/n)."""
    title = escape(message.title[:_TITLE_MAX].strip())
    header_room = discord_len(heading(f"{title} (99/99)")) + 1 if title else 0
    budget = LIMIT - header_room
    units: list[tuple[str, str]] = []  # (markdown, block kind)
    for block in message.blocks:
        units.extend((fragment, block.kind) for fragment in _block_fragments(block, budget, links))
    bodies: list[str] = []
    current = ""
    previous_kind = ""
    for text, kind in units:
        separator = "\n" if kind == previous_kind == "bullet" else "\n\n"
        candidate = f"{current}{separator}{text}" if current else text
        if current and discord_len(candidate) > budget:
            bodies.append(current)
            candidate = text
        current, previous_kind = candidate, kind
    if current or not bodies:
        bodies.append(current)
    contents = []
    for number, body in enumerate(bodies, start=1):
        label = f"{title} ({number}/{len(bodies)})" if len(bodies) > 1 else title
        header = heading(label) if title else ""
        contents.append(f"{header}\n{body}".strip() if header else body)
    return contents


# -- digests and replies --------------------------------------------------------------------------


def _arxiv_links(url: str) -> str | None:
    # Digest spans only link papers (digest.render builds them from catalog ids).
    return safe_url(url)


def _heading(level: str) -> Callable[[str], str]:
    """A title formatter for one heading level (a factory, so each message binds its own)."""
    return lambda title: f"{level} {title}"


def digest_parts(digest: Digest) -> list[Part]:
    """The parent first, then every thread message, each within Discord's limits.

    Keys are the neutral message keys ("parent", "themes", "catalog"), with "#2", "#3" for
    the continuations of a split message."""
    identity = f"{digest.topic}|{digest.since}|{digest.until}|{digest.generated_at.isoformat()}"
    parts: list[Part] = []
    for message in messages(digest):
        level = "##" if message.key == "parent" else "###"
        contents = message_contents(message, _heading(level), _arxiv_links)
        if message.image is not None:
            # The chart: its words as the message, the PNG attached to it.
            image = Attachment(message.image.filename, message.image.data)
            seed = f"{identity}|{message.key}"
            parts.append(Part(message.key, Outgoing(contents[0], seed=seed, attachment=image)))
            continue
        if message.key == "catalog" and len(contents) > CATALOG_MAX_MESSAGES:
            parts.append(_catalog_file(message, digest, f"{identity}|catalog"))
            continue
        for number, content in enumerate(contents, start=1):
            key = message.key if number == 1 else f"{message.key}#{number}"
            parts.append(Part(key, Outgoing(content, seed=f"{identity}|{key}")))
    return parts


def _catalog_file(message: Message, digest: Digest, seed: str) -> Part:
    """The catalog of a long week: one short message with the whole list as a file."""
    filename = f"{digest.topic}-{digest.since}-{digest.until}-papers.md"
    content = (
        f"### {escape(message.title)}\n"
        f"The full list, each paper with its arXiv link, is in the attached {escape(filename)}."
    )
    data = (message_markdown(message) + "\n").encode("utf-8")
    return Part("catalog", Outgoing(content, seed=seed, attachment=Attachment(filename, data)))


def jump_url(guild_id: int | str, channel_id: int | str, message_id: int | str) -> str:
    """The link that opens a message in Discord."""
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


def reply_links(guild_id: int | str | None) -> LinkResolver:
    """Links of a reply: arXiv pages, and "post:discord:CHANNEL:MESSAGE" (a message of
    ours, from the router) as a jump link when the guild is known, else plain text."""

    def resolve(url: str) -> str | None:
        if url.startswith("post:"):
            channel, _, message_id = url[len("post:") :].rpartition(":")
            platform, _, channel_id = channel.partition(":")
            if guild_id is None or platform != "discord" or not channel_id or not message_id:
                return None
            return jump_url(guild_id, channel_id, message_id)
        return safe_url(url)

    return resolve


def reply_contents(replies: Sequence[Message], guild_id: int | str | None = None) -> list[str]:
    """Neutral reply messages (answers, help, status) as Discord message contents."""
    links = reply_links(guild_id)
    out: list[str] = []
    for message in replies:
        out.extend(message_contents(message, lambda t: f"**{t}**", links))
    return [c for c in out if c]
