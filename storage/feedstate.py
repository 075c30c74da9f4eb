"""What the corpus already holds for a feed's papers, so a re-ingest writes (and its caller
parses and judges) only what changed.

"Unchanged" is arXiv's own identity of a paper's text: the version and its <updated> stamp.
The corpus never rewrites a paper for an equal or older (version, updated) (see
`Corpus._upsert`), so an entry the corpus holds at that key or newer would change nothing.
A topic filter's verdict is stored per paper version and topic rule (`topic_checks`), so
an unchanged paper is not judged again until it changes or the topic's rule does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from storage.records import Paper

if TYPE_CHECKING:
    import sqlite_utils

_CHUNK = 500  # ids per IN (...) query, well under SQLite's variable limit


@dataclass(frozen=True, slots=True)
class TopicVerdict:
    """A topic filter's judgement of one version of a paper."""

    paper_id: str
    version: int
    updated: datetime
    matched: bool


@dataclass(frozen=True, slots=True)
class FeedBatch:
    """What a feed changes: papers to store, ids to file under the topic (already filed
    ones may be named again), and fresh verdicts to keep."""

    papers: list[Paper] = field(default_factory=list)
    filed: list[str] = field(default_factory=list)
    verdicts: list[TopicVerdict] = field(default_factory=list)


def _moment(text: str) -> datetime:
    # Stored stamps are always UTC with a Z, which fromisoformat reads as such (3.11+).
    return datetime.fromisoformat(text)


@dataclass(frozen=True, slots=True)
class HeldPapers:
    """The stored (version, updated) of a feed's papers, and the topic rule's verdicts."""

    keys: dict[str, tuple[int, datetime]]
    verdicts: dict[str, bool]  # on the stored version of each paper, by id

    def holds(self, paper_id: str, version: int, updated: datetime) -> bool:
        """Whether storing this version would change nothing: the corpus has it, or newer.
        Stored stamps are whole seconds: an incoming stamp with a fraction compares as
        newer and is parsed and stored (the safe side)."""
        stored = self.keys.get(paper_id)
        return stored is not None and (version, updated) <= stored

    def verdict(self, paper_id: str, version: int, updated: datetime) -> bool | None:
        """The stored verdict on exactly this version, or None when it must be judged.
        Only the stored version's verdict is read: an entry older than the stored paper
        (a feed listing a paper at two versions) is judged again each time."""
        if self.keys.get(paper_id) != (version, updated):
            return None
        return self.verdicts.get(paper_id)


def read_held(
    db: sqlite_utils.Database, ids: Sequence[str], topic: str | None, rule: str
) -> HeldPapers:
    """What the corpus holds for `ids`; verdicts only for `topic` under exactly `rule`."""
    keys: dict[str, tuple[int, datetime]] = {}
    verdicts: dict[str, bool] = {}
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), _CHUNK):
        chunk = unique[start : start + _CHUNK]
        marks = ",".join("?" * len(chunk))
        if topic is None:
            for paper_id, version, updated in db.conn.execute(
                f"SELECT id, version, updated FROM papers WHERE id IN ({marks})", chunk
            ):
                keys[paper_id] = (version, _moment(updated))
            continue
        # A verdict is written in the same transaction as its paper, so papers is the
        # whole set to look in; of a paper's verdicts, the one on its stored version.
        rows = db.conn.execute(
            "SELECT p.id, p.version, p.updated, c.matched FROM papers p"
            " LEFT JOIN topic_checks c ON c.topic = ? AND c.paper_id = p.id"
            " AND c.version = p.version AND c.updated = p.updated AND c.rule = ?"
            f" WHERE p.id IN ({marks})",
            [topic, rule, *chunk],
        )
        for paper_id, version, updated, matched in rows:
            keys[paper_id] = (version, _moment(updated))
            if matched is not None:
                verdicts[paper_id] = bool(matched)
    return HeldPapers(keys, verdicts)
