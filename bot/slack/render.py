"""Rendering neutral messages for Slack: Block Kit with a full `text` fallback, escaped, and
split to Slack's limits without dropping anything.

Limits (LIBRARIES.md): a section block's text <= 3000 characters, <= 50 blocks a message,
`text` <= 4000. A message here carries at most `MESSAGE_BUDGET` characters of mrkdwn, so the
`text` fallback (what screen readers and notifications use) can repeat all of it. A longer
neutral message becomes several Slack messages ("themes", "themes#2", ...) cut at block
boundaries, else at sentence ends, else (one sentence longer than a section) at words.

Safety: every character of text is escaped (`&` first, then `<` and `>`), so no `<!channel>`,
`<@U123>` or `<https://evil|x>` survives as markup; mrkdwn objects are `verbatim` so Slack
does not auto-link or auto-mention anything; bare URLs other than arXiv's are defanged
(`evil[.]com`); `@here`/`@channel`/`@everyone` get an invisible word joiner; mrkdwn's
formatting characters (`*`, `~`, backticks, `_` at a word's edge) become look-alikes.
Any other `@` ("pass@k", "user@example.com") is shown as written: it pings nobody. The only links
are spans whose URL is an arXiv abstract page, or a "post:" reference to one of our own
messages that the caller resolved to a Slack permalink.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from bot.posting import Part
from digest.model import Digest
from digest.render import Block, Message, Span
from digest.render import messages as digest_messages

SECTION_TEXT_LIMIT = 3000  # Slack: a section block's text
MAX_BLOCKS = 50  # Slack: blocks in one message
TEXT_LIMIT = 4000  # Slack's advice for the top-level `text`
HEADER_LIMIT = 150  # Slack: a header block's plain text
MESSAGE_BUDGET = 3800  # mrkdwn a message carries, so the `text` fallback can hold all of it
UNIT_LIMIT = 2900  # one piece of a long block, before pieces are packed into sections
CATALOG_MESSAGE_LIMIT = 2  # a catalog needing more messages than this goes up as a file
METADATA_EVENT = "digestbot_part"  # message metadata type that marks a digest's messages

# "post:slack:C0123:1716400000.000100" -> "https://team.slack.com/archives/..." or None.
LinkResolver = Callable[[str], str | None]

ARXIV_URL = re.compile(r"^https://arxiv\.org/abs/[A-Za-z0-9][A-Za-z0-9.\-/]*$")
SLACK_PERMALINK = re.compile(r"^https://[A-Za-z0-9.-]+\.slack\.com/archives/[A-Za-z0-9/?=&._-]+$")
# The digest's permalink (from the operator's `[web] public_url`): no "|" or ">" to break out.
WEB_URL = re.compile(r"^https?://[A-Za-z0-9.:\[\]-]+(?:/[A-Za-z0-9/._~%-]*)?$")
_BARE_URL = re.compile(r"(?:(?:https?|ftp)://|\bwww\.)[^\s<>\"'|]+", re.IGNORECASE)
_MASS_MENTION = re.compile(r"@(?=(?:here|channel|everyone|group)\b)", re.IGNORECASE)
WORD_JOINER = "\u2060"  # invisible; keeps "@here" from ever reading as a mention
# mrkdwn has no backslash escape: its formatting characters in untrusted text become
# look-alikes, so "*not bold*", "~x~" and `code` in a paper show as typed, not as markup.
# "_" only formats at a word's edge, so "snake_case" and "pass@k_1" keep theirs.
_FORMATTING = str.maketrans({"*": "\u2217", "~": "\u223c", "`": "\u02cb"})
_EDGE_UNDERSCORE = re.compile(r"(?<!\w)_|_(?!\w)")
# A sentence and the whitespace after it; a newline also ends a piece.
_SENTENCE = re.compile(r".*?(?:[.!?]+[\"')\]]*(?=\s)|\n|$)\s*", re.DOTALL)
_WORD = re.compile(r"\S+\s*|\s+")


@dataclass(frozen=True, slots=True)
class SlackMessage:
    """One `chat.postMessage` worth: the mrkdwn fallback, the blocks, optional metadata."""

    text: str
    blocks: tuple[dict, ...]
    metadata: dict | None = None


@dataclass(frozen=True, slots=True)
class SlackFile:
    """A file uploaded into the thread: the paper catalog of a large week (text), or the
    digest's chart (PNG bytes)."""

    filename: str
    title: str
    content: str | bytes
    comment: str  # the mrkdwn message that carries the file in the thread


# -- text ------------------------------------------------------------------------------------


def escape(text: str) -> str:
    """Slack's three control characters as entities; `&` first so entities stay intact."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _defang(match: re.Match[str]) -> str:
    url = match.group(0)
    if ARXIV_URL.match(url.rstrip(".,;:)]")):
        return url
    # Untrusted text never becomes a link: drop the scheme and break the host's dots.
    return url.split("://", 1)[-1].replace(".", "[.]")


def plain(text: str) -> str:
    """Untrusted text as inert mrkdwn: URLs defanged, escaped, mass mentions broken."""
    text = _BARE_URL.sub(_defang, text)
    text = _EDGE_UNDERSCORE.sub("\uff3f", text.translate(_FORMATTING))
    return _MASS_MENTION.sub("@" + WORD_JOINER, escape(text))


def _bold(text: str) -> str:
    core = text.strip()
    if not core:
        return text
    lead = text[: len(text) - len(text.lstrip())]
    trail = text[len(text.rstrip()) :]
    # mrkdwn bold needs its asterisks next to non-space characters, and none inside.
    return f"{lead}*{core.replace('*', '∗')}*{trail}"


def _target(url: str, resolve: LinkResolver | None) -> str | None:
    if ARXIV_URL.match(url):
        return url
    if url.startswith("post:") and resolve is not None:
        found = resolve(url)
        if found and SLACK_PERMALINK.match(found):
            return found
    elif resolve is not None and WEB_URL.match(url) and resolve(url) == url:
        return url  # the digest's own web page, which the resolver vouches for
    return None


def span_mrkdwn(span: Span, resolve: LinkResolver | None = None) -> str:
    """One span as mrkdwn: a link only to arXiv (or our own message), bold as *...*."""
    label = plain(span.text)
    target = _target(span.url, resolve) if span.url else None
    if target and label.strip():
        lead = label[: len(label) - len(label.lstrip())]
        trail = label[len(label.rstrip()) :]
        label = f"{lead}<{target}|{label.strip()}>{trail}"
    return _bold(label) if span.bold else label


# -- splitting ---------------------------------------------------------------------------------


def _pieces(text: str, limit: int) -> list[str]:
    """Raw text cut at sentence ends, then words, then characters, so that every piece
    renders within `limit` characters of mrkdwn."""
    out: list[str] = []
    for sentence in (s for s in _SENTENCE.findall(text) if s):
        if len(plain(sentence)) <= limit:
            out.append(sentence)
            continue
        for word in _WORD.findall(sentence):
            if len(plain(word)) <= limit:
                out.append(word)
                continue
            # One "word" longer than a section: cut by characters, with room for escaping
            # (an "&" grows to five characters) and defanging.
            step = max(1, limit // 6)
            out.extend(word[i : i + step] for i in range(0, len(word), step))
    return out


@dataclass(frozen=True, slots=True)
class _Token:
    text: str
    break_before: bool  # a cut before this token falls on a sentence end (or is forced)


def _tokens(block: Block, resolve: LinkResolver | None, limit: int) -> list[_Token]:
    tokens: list[_Token] = []
    after_sentence = True
    for span in block.spans:
        if not span.text:
            continue
        pieces = [span.text] if span.url else _pieces(span.text, limit)
        for piece in pieces:
            rendered = span_mrkdwn(Span(piece, span.url, span.bold), resolve)
            tokens.append(_Token(rendered, after_sentence))
            stripped = piece.rstrip()
            after_sentence = piece != stripped and stripped.endswith((".", "!", "?", ":", ";"))
            after_sentence = after_sentence or piece.endswith("\n")
    return tokens


def _block_units(block: Block, resolve: LinkResolver | None) -> list[str]:
    """A block as one mrkdwn string, or several when it is longer than a section allows."""
    prefix = "• " if block.kind == "bullet" else ""
    limit = UNIT_LIMIT - len(prefix)
    tokens = _tokens(block, resolve, limit)
    whole = "".join(t.text for t in tokens).strip()
    if not whole:
        return []
    if len(whole) <= limit:
        return [prefix + whole]
    units: list[str] = []
    start = 0
    while start < len(tokens):
        length, end, good = 0, start, None
        while end < len(tokens) and length + len(tokens[end].text) <= limit:
            length += len(tokens[end].text)
            end += 1
            if end < len(tokens) and tokens[end].break_before:
                good = end
        if end == start:  # cannot happen (pieces fit), but never loop forever
            end = start + 1
        cut = end if end == len(tokens) or good is None else good
        text = "".join(t.text for t in tokens[start:cut]).strip()
        if text:
            units.append(text)
        start = cut
    if units:
        units[0] = prefix + units[0]
    return units


def _header(title: str, part: int, parts: int) -> str:
    suffix = f" ({part}/{parts})" if parts > 1 else ""
    room = HEADER_LIMIT - len(suffix)
    short = title if len(title) <= room else title[: room - 1].rstrip() + "…"
    return short + suffix


def _message(title: str, sections: list[str]) -> SlackMessage:
    blocks: list[dict] = []
    if title:
        blocks.append({"type": "header", "text": {"type": "plain_text", "text": title}})
    blocks.extend(
        {"type": "section", "text": {"type": "mrkdwn", "text": text, "verbatim": True}}
        for text in sections
    )
    head = [f"*{plain(title)}*"] if title else []
    text = "\n\n".join(head + sections) or " "
    return SlackMessage(text=text, blocks=tuple(blocks))


def render_message(message: Message, resolve: LinkResolver | None = None) -> list[SlackMessage]:
    """One neutral message as one or more Slack messages, each within every limit."""
    units: list[tuple[str, str]] = []  # (mrkdwn, separator before it in the same section)
    previous_kind = None
    for block in message.blocks:
        for index, unit in enumerate(_block_units(block, resolve)):
            if index:
                separator = " "
            elif previous_kind == "bullet" and block.kind == "bullet":
                separator = "\n"
            else:
                separator = "\n\n"
            units.append((unit, separator))
        previous_kind = block.kind
    # The title's own share of the fallback text (with its " (2/3)" suffix), then the body.
    budget = min(MESSAGE_BUDGET, TEXT_LIMIT - len(plain(_header(message.title, 9, 9))) - 8)
    pages: list[list[str]] = [[]]
    used = 0
    for unit, separator in units:
        sections = pages[-1]
        grow = len(separator) + len(unit)
        if sections and len(sections[-1]) + grow <= SECTION_TEXT_LIMIT and used + grow <= budget:
            sections[-1] += separator + unit
            used += grow
            continue
        cost = len(unit) + (2 if sections else 0)
        if sections and (used + cost > budget or len(sections) + 2 > MAX_BLOCKS):
            pages.append([])
            sections, used, cost = pages[-1], 0, len(unit)
        sections.append(unit)
        used += cost
    total = len(pages)
    return [
        _message(_header(message.title, n, total) if message.title else "", sections)
        for n, sections in enumerate(pages, start=1)
    ]


def render_messages(
    messages: Sequence[Message], resolve: LinkResolver | None = None
) -> list[SlackMessage]:
    """Neutral reply messages (answers, help, status) as Slack messages, in order."""
    return [slack for message in messages for slack in render_message(message, resolve)]


# -- digests -----------------------------------------------------------------------------------


def part_metadata(digest: Digest, key: str) -> dict:
    """The metadata that lets a restarted poster find this part in the channel."""
    return {
        "event_type": METADATA_EVENT,
        "event_payload": {
            "part": key,
            "topic": digest.topic,
            "since": digest.since.isoformat(),
            "until": digest.until.isoformat(),
        },
    }


def catalog_file(digest: Digest) -> SlackFile:
    """The paper catalog as a plain-text file: every paper, its short name and its link."""
    lines = [
        f"Paper Catalog: {digest.title}, {digest.since} to {digest.until} "
        f"({len(digest.papers)} papers)",
        "",
    ]
    for entry in digest.papers:
        lines.append(f"{entry.short_name}: {entry.title} ({entry.primary_category}, {entry.id})")
        lines.append(f"    {entry.url}")
    title = f"Paper Catalog ({len(digest.papers)} papers)"
    comment = (
        f"*{plain(title)}*\nEvery paper of {digest.since} to {digest.until}, with its arXiv "
        "link, is in the attached file."
    )
    return SlackFile(
        filename=f"{digest.topic}-{digest.since}-{digest.until}-papers.txt",
        title=title,
        content="\n".join(lines) + "\n",
        comment=comment,
    )


def _with_permalink(digest: Digest, resolve: LinkResolver | None) -> LinkResolver | None:
    """The resolver, also vouching for the digest's own web page (when it has one)."""
    if not digest.permalink:
        return resolve

    def links(url: str) -> str | None:
        if url == digest.permalink:
            return url
        return resolve(url) if resolve is not None else None

    return links


def image_file(message: Message, resolve: LinkResolver | None = None) -> SlackFile:
    """A message carrying a picture (the chart) as a PNG upload, its text as the comment."""
    assert message.image is not None
    body = "\n".join(u for block in message.blocks for u in _block_units(block, resolve))
    comment = f"*{plain(message.title)}*\n{body}"
    return SlackFile(
        filename=message.image.filename,
        title=message.image.title,
        content=message.image.data,
        comment=comment.strip(),
    )


def render_digest(digest: Digest, resolve: LinkResolver | None = None) -> list[Part]:
    """The digest as Slack parts: the parent first, each section (split when long), and the
    catalog last, as messages or, when it would need more than two, as a file."""
    parts: list[Part] = []
    links = _with_permalink(digest, resolve)
    for message in digest_messages(digest):
        if message.image is not None:
            parts.append(Part(message.key, image_file(message, links)))
            continue
        rendered = render_message(message, links)
        if message.key == "catalog" and len(rendered) > CATALOG_MESSAGE_LIMIT:
            parts.append(Part("catalog", catalog_file(digest)))
            continue
        for number, slack in enumerate(rendered, start=1):
            key = message.key if number == 1 else f"{message.key}#{number}"
            parts.append(Part(key, replace(slack, metadata=part_metadata(digest, key))))
    return parts
