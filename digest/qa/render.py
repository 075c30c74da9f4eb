"""Rendering an answer: neutral messages for the chat adapters, plain text, and JSON.

Compact for chat: a citation `[[id]]` becomes the paper's short name (only for a paper the
answer retrieved; a citation of any other id is dropped), and the papers cited are listed
once, at the end, as "Sources", each name linked to https://arxiv.org/abs/<id>. Those are
the only links an answer carries; a code link a paper gives is shown as text.
"""

from __future__ import annotations

import re

from digest.model import CITATION
from digest.qa.answer import Answer, Line
from digest.render import Block, Message, Span


def _repeats_name(before: str, name: str) -> bool:
    """Whether the text just before a citation already is the paper's name ("Heron
    [[id]]", as a model may write it): the name is then not written twice."""
    return bool(name) and before.rstrip().casefold().endswith(name.casefold())


def _spans(text: str, answer: Answer, bold: bool = False) -> list[Span]:
    allowed = {f.paper.id: f.paper for f in answer.papers}
    out: list[Span] = []
    position = 0
    for match in CITATION.finditer(text):
        if match.start() > position:
            out.append(Span(text[position : match.start()], bold=bold))
        paper = allowed.get(match.group(1))
        name = answer.names.get(paper.id, paper.id) if paper is not None else ""
        if paper is not None and not _repeats_name(text[: match.start()], name):
            out.append(Span(name, bold=bold))
        position = match.end()
    if position < len(text):
        out.append(Span(text[position:], bold=bold))
    return [s for s in out if s.text]


def _block(line: Line, answer: Answer) -> Block:
    if line.kind == "heading":
        return Block("paragraph", tuple(_spans(line.text, answer, bold=True)))
    return Block(
        "bullet" if line.kind == "bullet" else "paragraph", tuple(_spans(line.text, answer))
    )


def _lines(answer: Answer) -> list[Line]:
    """The answer's lines, then its notes (what it could not use), in parentheses."""
    return [*answer.lines, *(Line("paragraph", f"({note})") for note in answer.notes)]


def _sources(answer: Answer) -> Block | None:
    """The cited papers, once, at the end: each name linked to its arXiv page."""
    allowed = {f.paper.id: f.paper for f in answer.papers}
    spans: list[Span] = [Span("Sources: ")]
    for number, paper_id in enumerate(answer.cited):
        paper = allowed[paper_id]
        if number:
            spans.append(Span(" · "))
        spans.append(Span(answer.names.get(paper_id, paper_id), paper.url))
    return Block("paragraph", tuple(spans)) if len(spans) > 1 else None


def answer_messages(answer: Answer) -> list[Message]:
    """The answer as one neutral message (adapters split it to their platform's limits)."""
    blocks = [b for b in (_block(line, answer) for line in _lines(answer)) if b.spans]
    sources = _sources(answer)
    if sources is not None:
        blocks.append(sources)
    return [Message("answer", answer.title, tuple(blocks))]


def plain_text(answer: Answer) -> str:
    """The answer as plain text: a citation reads as the paper's name, bullets start "- ",
    and the last lines list the sources once: "Sources:" then "- Name: https://arxiv.org/abs/id"."""
    allowed = {f.paper.id: f.paper for f in answer.papers}

    lines = []
    for line in _lines(answer):

        def name(match: re.Match[str], line: Line = line) -> str:
            paper_id = match.group(1)
            shown = answer.names.get(paper_id, paper_id)
            if paper_id not in allowed or _repeats_name(line.text[: match.start()], shown):
                return ""
            return shown

        text = " ".join(CITATION.sub(name, line.text).split())
        lines.append(f"- {text}" if line.kind == "bullet" else text)
    if answer.cited:
        lines.append("Sources:")
        lines += [f"- {answer.names.get(i, i)}: {allowed[i].url}" for i in answer.cited]
    return "\n".join(lines)


def answer_json(answer: Answer) -> dict:
    """The `ask --format json` object: {"answer": plain text, "papers": [cited ids]}, plus
    "kind" (what was asked: authors, when, proposes, data, code, compare, list, general,
    not_found, empty) and "sources" ([{"id", "name", "url"}] of the cited papers)."""
    allowed = {f.paper.id: f.paper for f in answer.papers}
    return {
        "answer": plain_text(answer),
        "papers": answer.cited,
        "kind": answer.intent or answer.kind,
        "sources": [
            {"id": i, "name": answer.names.get(i, i), "url": allowed[i].url} for i in answer.cited
        ],
    }
