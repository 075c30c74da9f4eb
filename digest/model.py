"""The neutral digest: what every platform renders, and what is stored as JSON.

Text cites papers only by id, as `[[2605.12345]]`; renderers replace each citation with the
paper's short name linked to its arXiv page, from the catalog. So a digest can name a paper
only if it is in the catalog, and a link can only ever point at arxiv.org/abs/<id>.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime

SECTION_KEYS = ("themes", "methods", "notable", "new", "challenges", "overview", "metadata")
SECTION_TITLES = {
    "themes": "Key Research Themes",
    "methods": "Methodological Approaches",
    "notable": "Notable Papers to Read First",
    "new": "What Is New in This Window",
    "challenges": "Challenges and Future Directions",
    "overview": "Concluding Overview",
    "metadata": "Run Metadata",
}
CITATION = re.compile(r"\[\[([^\[\]\s]{4,40})\]\]")


def cite(paper_id: str) -> str:
    """The citation marker for a paper, as it appears in digest text."""
    return f"[[{paper_id}]]"


def cited_ids(text: str) -> list[str]:
    """Ids cited in `text`, in order, without repeats."""
    return list(dict.fromkeys(CITATION.findall(text)))


@dataclass(frozen=True, slots=True)
class Item:
    """One bullet of a section: a heading, prose citing papers, and the ids it cites."""

    heading: str
    text: str
    papers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Section:
    key: str
    title: str
    items: tuple[Item, ...]


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """A paper of the window as the digest names it."""

    id: str
    short_name: str
    title: str
    authors: tuple[str, ...]
    primary_category: str
    tldr: str | None = None  # one sentence on what the paper does, when an engine wrote one

    @property
    def url(self) -> str:
        return f"https://arxiv.org/abs/{self.id}"


@dataclass(frozen=True, slots=True)
class Figure:
    """A picture that goes with a digest (its chart): PNG bytes, a file name, a title and
    the words that say what it shows (for screen readers and text renderings)."""

    filename: str
    title: str
    alt: str
    data: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Digest:
    """One topic's synthesis of one window: the parent gist, the sections, the catalog."""

    topic: str
    title: str
    since: date
    until: date
    generated_at: datetime
    paper_count: int
    query: str
    synthesizer: str  # "offline" or the model name
    style: str
    gist: str
    sections: tuple[Section, ...]
    papers: tuple[CatalogEntry, ...]
    notes: tuple[str, ...] = field(default=())  # e.g. why the offline engine stood in
    # Presentation, set just before posting (not stored, not in the JSON): the digest's web
    # page when `[web] public_url` is set, and its chart.
    permalink: str = ""
    figure: Figure | None = None

    def section(self, key: str) -> Section | None:
        return next((s for s in self.sections if s.key == key), None)

    def catalog(self) -> dict[str, CatalogEntry]:
        return {entry.id: entry for entry in self.papers}

    def all_citations(self) -> list[str]:
        found = cited_ids(self.gist)
        for section in self.sections:
            for item in section.items:
                found.extend(item.papers)
                found.extend(cited_ids(item.text))
        return list(dict.fromkeys(found))

    # -- the JSON contract (DESIGN.md), also the stored form -------------------------------

    def to_json(self) -> dict:
        return {
            "topic": self.topic,
            "title": self.title,
            "window": {"since": self.since.isoformat(), "until": self.until.isoformat()},
            "generated_at": self.generated_at.isoformat(),
            "paper_count": self.paper_count,
            "query": self.query,
            "synthesizer": self.synthesizer,
            "style": self.style,
            "gist": self.gist,
            "notes": list(self.notes),
            "sections": [
                {
                    "key": s.key,
                    "title": s.title,
                    "items": [
                        {"heading": i.heading, "text": i.text, "papers": list(i.papers)}
                        for i in s.items
                    ],
                }
                for s in self.sections
            ],
            "papers": [
                {
                    "id": p.id,
                    "short_name": p.short_name,
                    "title": p.title,
                    "authors": list(p.authors),
                    "primary_category": p.primary_category,
                    "url": p.url,
                    # Optional (DESIGN.md, Round 2 contracts): present only when written.
                    **({"tldr": p.tldr} if p.tldr else {}),
                }
                for p in self.papers
            ],
        }

    @classmethod
    def from_json(cls, data: dict) -> Digest:
        return cls(
            topic=data["topic"],
            title=data["title"],
            since=date.fromisoformat(data["window"]["since"]),
            until=date.fromisoformat(data["window"]["until"]),
            generated_at=datetime.fromisoformat(data["generated_at"]),
            paper_count=data["paper_count"],
            query=data["query"],
            synthesizer=data["synthesizer"],
            style=data.get("style", ""),
            gist=data.get("gist", ""),
            notes=tuple(data.get("notes", ())),
            sections=tuple(
                Section(
                    key=s["key"],
                    title=s["title"],
                    items=tuple(
                        Item(i["heading"], i["text"], tuple(i.get("papers", ())))
                        for i in s["items"]
                    ),
                )
                for s in data["sections"]
            ),
            papers=tuple(
                CatalogEntry(
                    id=p["id"],
                    short_name=p["short_name"],
                    title=p["title"],
                    authors=tuple(p.get("authors", ())),
                    primary_category=p.get("primary_category", ""),
                    tldr=p.get("tldr") or None,
                )
                for p in data["papers"]
            ),
        )


def restrict_citations(digest: Digest) -> tuple[Digest, list[str]]:
    """Remove every citation of a paper that is not in the digest's catalog.

    Items left citing nothing they should (they cited only unknown papers) are dropped.
    Returns the cleaned digest and the ids that were removed.
    """
    known = {entry.id for entry in digest.papers}
    removed: list[str] = []

    def clean(text: str) -> str:
        def keep(match: re.Match[str]) -> str:
            if match.group(1) in known:
                return match.group(0)
            removed.append(match.group(1))
            return ""

        return re.sub(r"\s{2,}", " ", CITATION.sub(keep, text)).strip()

    sections = []
    for section in digest.sections:
        items = []
        for item in section.items:
            text = clean(item.text)
            papers = tuple(p for p in item.papers if p in known)
            removed.extend(p for p in item.papers if p not in known)
            cited_before = bool(item.papers) or bool(cited_ids(item.text))
            if cited_before and not papers and not cited_ids(text):
                continue
            items.append(Item(item.heading, text, papers))
        sections.append(Section(section.key, section.title, tuple(items)))
    cleaned = replace(digest, gist=clean(digest.gist), sections=tuple(sections))
    return cleaned, list(dict.fromkeys(removed))


def with_note(digest: Digest, note: str, heading: str = "Note") -> Digest:
    """The digest with `note` added to its notes and, as an item, to its Run Metadata, so
    readers of the channel see what readers of the JSON see (e.g. why the offline engine
    stood in)."""
    item = Item(heading, note)
    sections = list(digest.sections)
    for index, section in enumerate(sections):
        if section.key == "metadata":
            sections[index] = Section(section.key, section.title, (*section.items, item))
            break
    else:
        sections.append(Section("metadata", SECTION_TITLES["metadata"], (item,)))
    return replace(digest, notes=(*digest.notes, note), sections=tuple(sections))
