"""Rendering an answer: neutral messages for the chat adapters, plain text, and JSON.

A citation `[[id]]` becomes the paper's short name linked to https://arxiv.org/abs/<id>,
and only for a paper the answer retrieved; a citation of any other id is dropped. Those
are the only links an answer can carry.
"""

from __future__ import annotations

import re

from digest.model import CITATION
from digest.qa.answer import Answer, Line
from digest.render import Block, Message, Span


def _spans(text: str, answer: Answer, bold: bool = False) -> list[Span]:
    allowed = {f.paper.id: f.paper for f in answer.papers}
    out: list[Span] = []
    position = 0
    for match in CITATION.finditer(text):
        if match.start() > position:
            out.append(Span(text[position : match.start()], bold=bold))
        paper = allowed.get(match.group(1))
        if paper is not None:
            out.append(Span(answer.names.get(paper.id, paper.id), paper.url, bold=bold))
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


def answer_messages(answer: Answer) -> list[Message]:
    """The answer as one neutral message (adapters split it to their platform's limits)."""
    blocks = tuple(b for b in (_block(line, answer) for line in _lines(answer)) if b.spans)
    return [Message("answer", answer.title, blocks)]


def plain_text(answer: Answer) -> str:
    """The answer as plain text: a citation reads "Name (arXiv:id)", bullets start "- "."""
    allowed = {f.paper.id for f in answer.papers}

    def name(match: re.Match[str]) -> str:
        paper_id = match.group(1)
        if paper_id not in allowed:
            return ""
        return f"{answer.names.get(paper_id, paper_id)} (arXiv:{paper_id})"

    lines = []
    for line in _lines(answer):
        text = " ".join(CITATION.sub(name, line.text).split())
        lines.append(f"- {text}" if line.kind == "bullet" else text)
    return "\n".join(lines)


def answer_json(answer: Answer) -> dict:
    """The `ask --format json` object: {"answer": plain text, "papers": [cited ids]}."""
    return {"answer": plain_text(answer), "papers": answer.cited}
