"""Questions people asked the bot about papers, so a paper's web page can list them.

Only the question's text, when it was asked and the papers it was about: no user, no
channel (the pages may be read by people outside the channel)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from storage.corpus import Corpus

MAX_CHARS = 2000  # a longer question is stored cut (the answerer reads no more either)


@dataclass(frozen=True, slots=True)
class AskedQuestion:
    question: str
    asked_at: datetime


class QuestionLog:
    """Writes and reads the questions asked about papers."""

    def __init__(self, corpus: Corpus) -> None:
        self.corpus = corpus

    def record(
        self, question: str, paper_ids: Sequence[str], *, asked_at: datetime | None = None
    ) -> None:
        """Remember that `question` was asked about these papers (bare ids). One
        transaction; nothing is written for a question about no paper."""
        ids = list(dict.fromkeys(paper_ids))
        text = " ".join(question.split())[:MAX_CHARS]
        if not ids or not text:
            return
        moment = (asked_at or datetime.now(UTC)).astimezone(UTC)
        with self.corpus.writing() as db:
            cursor = db.execute(
                "INSERT INTO questions (question, asked_at) VALUES (?, ?)",
                [text, moment.strftime("%Y-%m-%dT%H:%M:%SZ")],
            )
            db.conn.executemany(
                "INSERT OR IGNORE INTO question_papers (question_id, paper_id) VALUES (?, ?)",
                [(cursor.lastrowid, paper_id) for paper_id in ids],
            )

    def about(self, paper_id: str, *, limit: int = 20) -> list[AskedQuestion]:
        """The questions asked about a paper, newest first."""
        with self.corpus.reading() as db:
            rows = list(
                db.query(
                    "SELECT q.question, q.asked_at FROM questions q"
                    " JOIN question_papers qp ON qp.question_id = q.id"
                    " WHERE qp.paper_id = ? ORDER BY q.asked_at DESC, q.id DESC LIMIT ?",
                    [paper_id, limit],
                )
            )
        return [
            AskedQuestion(
                r["question"], datetime.fromisoformat(r["asked_at"].replace("Z", "+00:00"))
            )
            for r in rows
        ]
