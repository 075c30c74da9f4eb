"""The check every model-written string passes before it can become part of a digest.

What it enforces: text is plain (links, mentions and markup neutralized); a paper is cited
only as `[[id]]` of a paper in the window. Every arXiv-id-shaped string, in any form (bare,
`arXiv:`, single or double brackets, a bracketed list, an abs/pdf/html URL, versioned,
old-style `hep-th/9901001`), becomes a marker; a marker of a paper outside the window is
removed, with its sentence when that was all the sentence cited; and a sentence that still
holds an id-shaped string outside a marker is removed whole, so no id can slip through in a
form nobody foresaw; a name written next to a citation is removed (the renderer puts the
corpus's short name there); a sentence naming something that appears in no paper of the
window, nor in the history the model was shown, is removed, since that is what an invented
paper looks like. Items left without a valid citation are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from digest.llm.schema import DraftItem
from digest.model import CITATION, Digest, Item, cite, cited_ids
from digest.offline.prose import plural
from digest.safety import neutralize
from storage import Paper

# Sections whose items say something about particular papers, so must cite one.
GROUNDED = frozenset({"themes", "methods", "notable"})
MAX_HEADING = 160
MAX_TEXT = 3_000

# An arXiv id: new style (2605.12345) or old style (hep-th/9901001, math.GT/0309136).
ARXIV_ID = r"(?:\d{4}\.\d{4,5}|[a-z][a-z-]{1,15}(?:\.[A-Z]{2})?/\d{7})"
_PREFIX = r"(?:arXiv\s*:?\s*)"
_ONE = rf"{_PREFIX}?{ARXIV_ID}(?:v\d+)?"
_ARXIV_URL = (
    r"(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html)/"
    rf"({ARXIV_ID})(?:v\d+)?(?:\.pdf)?/?"
)
_MD_ARXIV_LINK = re.compile(rf"\[([^\]]*)\]\(\s*{_ARXIV_URL}\s*\)", re.IGNORECASE)
_ARXIV_LINK = re.compile(rf"<?{_ARXIV_URL}(?:\|[^>]*)?>?", re.IGNORECASE)
# "[2605.1]", "[[arXiv:2605.1v2]]", "[2605.1, 2605.2]": one or more ids in brackets.
_BRACKETED = re.compile(rf"\[\[?\s*({_ONE}(?:\s*[,;]\s*{_ONE})*)\s*\]?\]", re.IGNORECASE)
_BARE_ID = re.compile(rf"(?<![\w./-]){_PREFIX}?({ARXIV_ID})(?:v\d+)?(?![\w/]|\.\d)", re.I)
# What is left after markers are taken out: any id shape at all is a stray.
_STRAY = re.compile(rf"(?<!\d){ARXIV_ID}", re.IGNORECASE)
_MARKUP = re.compile(r"\*\*|__|`+|^#+\s*", re.MULTILINE)
_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-+.'][A-Za-z0-9]+)*")
_NUMBERISH = re.compile(r"^\d+(?:\.\d+)?[a-z]{0,2}$", re.IGNORECASE)  # 8B, 3.5, 70b, 2x
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\[\"'“(]*[A-Z0-9\[])")
_NAME_BEFORE = re.compile(
    r"(?P<name>“[^”]{1,100}”|\"[^\"]{1,100}\"|[A-Za-z][\w.+-]*)\s*[(:–-]?\s*"
    r"(?=\[\[(?P<id>[^\[\]\s]+)\]\])"
)
_SEPARATOR = r"(?:\s*,\s*(?:and\s+|or\s+)?|\s+(?:and|or)\s+)"
_SEPARATED = re.compile(rf"{_SEPARATOR}\[\[([^\[\]\s]+)\]\]")  # ", [[x]]" / " and [[x]]"
_LEADING = re.compile(rf"\[\[([^\[\]\s]+)\]\]{_SEPARATOR}(?=\[\[)")  # "[[x]] and [[a]]"
_NAME_AFTER = re.compile(r"(?P<cite>\[\[[^\[\]\s]+\]\])\s*\((?P<name>[^()]{1,80})\)")
# Words of the trade a model may use though a given week's abstracts do not.
_GENERIC = frozenset(
    "llm llms ai ml nlp rl gpu gpus api apis sota arxiv json ii iii iv vs u.s".split()
)


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def vocabulary(texts: Iterable[str]) -> frozenset[str]:
    """Every word of `texts`, lower-cased, with hyphen/dot parts and squashed forms (so
    "Qwen-3" also admits "Qwen3"), for telling a name from the window from an invented one."""
    words: set[str] = set(_GENERIC)
    for text in texts:
        tokens = _TOKEN.findall(text)
        for index, token in enumerate(tokens):
            lower = token.lower()
            words.add(lower)
            words.add(_squash(lower))
            words.update(p for p in re.split(r"[-+.']", lower) if p)
            if index + 1 < len(tokens):  # "Qwen 3" written "Qwen3"
                words.add(_squash(lower + tokens[index + 1]))
    words.discard("")
    return frozenset(words)


def is_coined(token: str) -> bool:
    """Whether a word looks like a name someone made up (HalluciNet, GPT-4o, RLHF), not an
    ordinary word (Reward, The)."""
    letters = [c for c in token if c.isalpha()]
    if not letters:
        return False
    inner_upper = any(c.isupper() for c in token[1:])
    mixed = any(c.isdigit() for c in token)
    return inner_upper or mixed


def normalize_id(raw: str) -> str:
    """`arXiv:2605.12345v2`, `[2605.12345]`, `https://arxiv.org/abs/2605.12345v2` ->
    `2605.12345`."""
    text = raw.strip().strip("[]()<> ")
    url = re.match(_ARXIV_URL, text, re.IGNORECASE)
    if url:
        return url.group(1)
    text = re.sub(r"^arxiv\s*:?\s*", "", text, flags=re.IGNORECASE)
    return re.sub(r"v\d+$", "", text)


def stray_ids(text: str) -> list[str]:
    """arXiv-id-shaped strings in `text` outside `[[id]]` markers."""
    return _STRAY.findall(CITATION.sub(" ", text))


@dataclass
class CheckReport:
    """What the check removed, for Run Metadata and the log."""

    removed_ids: list[str] = field(default_factory=list)
    converted: int = 0  # ids written in another form (bare, arXiv:, [id], URL) made markers
    stray_ids: list[str] = field(default_factory=list)  # id shapes no form caught: removed
    unknown_names: list[str] = field(default_factory=list)
    dropped_sentences: int = 0  # named something found in no paper of the window
    dropped_uncited: int = 0  # cited only papers outside the window
    dropped_items: int = 0

    def summary(self) -> str:
        """One sentence for Run Metadata."""
        # Counts only: an id the check removed must not reach the posted digest, even here
        # (the log lists them).
        parts = []
        if self.removed_ids:
            ids = list(dict.fromkeys(self.removed_ids))
            parts.append(f"{plural(len(ids), 'cited id')} not in the window removed")
        if self.stray_ids:
            parts.append(
                f"{plural(len(self.stray_ids), 'id-shaped string')} in no citable form removed "
                "(with the sentence)"
            )
        if self.dropped_uncited:
            parts.append(
                f"{plural(self.dropped_uncited, 'sentence')} citing only such papers removed"
            )
        if self.dropped_sentences:
            names = list(dict.fromkeys(self.unknown_names))
            parts.append(
                f"{plural(self.dropped_sentences, 'sentence')} naming something found "
                f"in no paper of the window removed ({_first_five(names)})"
            )
        if self.dropped_items:
            parts.append(
                f"{plural(self.dropped_items, 'item')} left without a valid citation dropped"
            )
        converted = ""
        if self.converted:
            converted = (
                f"{plural(self.converted, 'id')} written as a bare id, arXiv: id, bracket or "
                "link turned into citation markers first"
            )
        if not parts:
            clean = "every citation is a paper of this window; nothing was removed"
            return f"{clean} ({converted})" if converted else clean
        if converted:
            parts.append(converted)
        return "; ".join(parts)

    def log_text(self) -> str:
        """The summary with the ids themselves, for the log."""
        ids = list(dict.fromkeys(self.removed_ids + self.stray_ids))
        return self.summary() + (f" [ids: {', '.join(ids)}]" if ids else "")


def _first_five(values: list[str]) -> str:
    return ", ".join(values[:5]) + (", …" if len(values) > 5 else "")


class Checker:
    """Cleans model text against one window: its paper ids, their short names, and the
    words of everything the model was shown."""

    def __init__(
        self,
        papers: Sequence[Paper],
        names: dict[str, str],
        shown: Iterable[str] = (),
        report: CheckReport | None = None,
    ) -> None:
        self.known = {p.id for p in papers}
        self.names = {i: n.lower() for i, n in names.items()}
        self.titles = {p.id: p.title for p in papers}
        self.vocabulary = vocabulary(
            [t for p in papers for t in (p.title, p.abstract)] + list(names.values()) + list(shown)
        )
        self.report = report or CheckReport()

    # -- strings ------------------------------------------------------------------------------

    def known_word(self, token: str) -> bool:
        """Whether a coined-looking word occurs in what the model was shown."""
        lower = token.lower()
        for form in (lower, lower.removesuffix("'s"), lower.removesuffix("s"), _squash(lower)):
            if form in self.vocabulary:
                return True
        parts = [p for p in re.split(r"[-+.']", token) if p]
        if len(parts) < 2:
            return False
        return all(
            not is_coined(p) or _NUMBERISH.match(p) or p.lower() in self.vocabulary for p in parts
        )

    def unknown_names(self, text: str) -> list[str]:
        """Coined words in `text` (outside citation markers) that the window never uses."""
        plain = CITATION.sub(" ", text)
        return [t for t in _TOKEN.findall(plain) if is_coined(t) and not self.known_word(t)]

    def _markers(self, text: str) -> str:
        """Every arXiv id, in any form, as a marker (valid or not: the caller sorts them
        out); counted in the report when it was written in another form."""

        def count(marker: str) -> str:
            self.report.converted += 1
            return marker

        def listed(match: re.Match[str]) -> str:
            raw = match.group(0)
            ids = [normalize_id(i) for i in re.split(r"\s*[,;]\s*", match.group(1))]
            markers = ", ".join(cite(i) for i in ids)
            canonical = raw == markers
            return markers if canonical else count(markers)

        text = _MD_ARXIV_LINK.sub(lambda m: count(f"{m.group(1)} [[{m.group(2)}]]"), text)
        text = _ARXIV_LINK.sub(lambda m: count(f" [[{m.group(1)}]] "), text)
        text = _BRACKETED.sub(listed, text)
        segments = re.split(r"(\[\[[^\[\]]*\]\])", text)
        return "".join(
            s if s.startswith("[[") else _BARE_ID.sub(lambda m: count(cite(m.group(1))), s)
            for s in segments
        )

    def _valid_only(self, text: str) -> str:
        """Markers of papers outside the window removed, with the list separator that
        joined them ("[[a]], [[x]] and [[b]]" -> "[[a]] and [[b]]"); valid ones normalized."""

        def invalid(raw: str) -> bool:
            paper = normalize_id(raw)
            if paper in self.known:
                return False
            self.report.removed_ids.append(paper)
            return True

        text = _SEPARATED.sub(lambda m: "" if invalid(m.group(1)) else m.group(0), text)
        text = _LEADING.sub(lambda m: "" if invalid(m.group(1)) else m.group(0), text)
        return CITATION.sub(
            lambda m: "" if invalid(m.group(1)) else cite(normalize_id(m.group(1))), text
        )

    def _strip_names(self, text: str) -> str:
        """Remove a name written beside a citation: the marker renders the real one."""

        def before(match: re.Match[str]) -> str:
            name, paper = match.group("name"), normalize_id(match.group("id"))
            if name[0] in '“"':
                # A quoted title or name of the cited paper, or of no paper of the window.
                inner = _squash(name[1:-1])
                forms = {_squash(self.names.get(paper, "")), _squash(self.titles.get(paper, ""))}
                return "" if inner in forms or self.unknown_names(name[1:-1]) else match.group(0)
            if not is_coined(name):
                return match.group(0)
            own = self.names.get(paper, "")
            if (
                name.lower() == own
                or name.lower() == own.split(" ")[0]
                or not self.known_word(name)
            ):
                return ""
            return match.group(0)

        def after(match: re.Match[str]) -> str:
            name = match.group("name")
            own = self.names.get(normalize_id(match.group("cite")[2:-2]), "")
            if name.strip().lower() == own or self.unknown_names(name):
                return match.group("cite")
            return match.group(0)

        return _NAME_AFTER.sub(after, _NAME_BEFORE.sub(before, text))

    def text(self, raw: str) -> tuple[str, list[str]]:
        """Model prose made safe and grounded; also every id it tried to cite.

        A sentence is dropped when every paper it cites is outside the window (what it says
        is about a paper we cannot show) or when it names something no paper of the window
        mentions; otherwise only the invalid markers go.
        """
        text = neutralize(_MARKUP.sub("", self._markers(raw or "")))
        seen: list[str] = []
        kept = []
        for sentence in _SENTENCE_END.split(text):
            ids = [normalize_id(i) for i in CITATION.findall(sentence)]
            seen.extend(ids)
            if ids and not any(i in self.known for i in ids):
                self.report.removed_ids.extend(ids)
                self.report.dropped_uncited += 1
                continue
            sentence = self._strip_names(self._valid_only(sentence))
            stray = stray_ids(sentence)
            if stray:
                self.report.stray_ids.extend(stray)
                continue
            unknown = self.unknown_names(sentence)
            if unknown:
                self.report.dropped_sentences += 1
                self.report.unknown_names.extend(unknown)
                continue
            kept.append(sentence)
        return _tidy(" ".join(kept))[:MAX_TEXT], seen

    def heading(self, raw: str) -> str:
        """A heading: like text, but an unknown name is cut out instead of the sentence."""
        text = neutralize(_MARKUP.sub("", self._markers(raw or "")))
        text = self._strip_names(self._valid_only(text))
        for stray in stray_ids(text):
            self.report.stray_ids.append(stray)
            text = text.replace(stray, "")
        for name in self.unknown_names(text):
            self.report.unknown_names.append(name)
            text = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", "", text)
        return _tidy(text)[:MAX_HEADING]

    # -- items and sections -----------------------------------------------------------------

    def item(self, draft: DraftItem, key: str) -> Item | None:
        """One checked item, or None when nothing trustworthy is left of it."""
        text, seen = self.text(draft.text)
        heading = self.heading(draft.heading)
        listed = [normalize_id(p) for p in draft.papers]
        self.report.removed_ids.extend(p for p in listed if p not in self.known)
        papers = list(dict.fromkeys(cited_ids(text) + [p for p in listed if p in self.known]))
        tried = bool(listed or seen)
        if key == "notable" and papers:
            # The heading of a notable item is the paper itself, named from the corpus.
            papers, heading = papers[:1], cite(papers[0])
        if not text or (tried and not papers) or (key in GROUNDED and not papers):
            if tried or key in GROUNDED:
                self.report.dropped_items += 1
            return None
        return Item(heading or "Note", text, tuple(papers))

    def items(self, drafts: Iterable[DraftItem], key: str, limit: int = 12) -> tuple[Item, ...]:
        """A section's checked items, one notable item per paper, at most `limit`."""
        out: list[Item] = []
        for draft in drafts:
            checked = self.item(draft, key)
            if checked is None:
                continue
            if key == "notable" and any(checked.papers == o.papers for o in out):
                continue
            out.append(checked)
            if len(out) == limit:
                break
        return tuple(out)


def scrub_text(text: str, report: CheckReport) -> str:
    """Drop every sentence of finished text that holds an id-shaped string outside a
    marker: the last guard before a digest is stored, whatever wrote the text."""
    if not stray_ids(text):
        return text
    kept = []
    for sentence in _SENTENCE_END.split(text):
        stray = stray_ids(sentence)
        if stray:
            report.stray_ids.extend(stray)
            continue
        kept.append(sentence)
    return _tidy(" ".join(kept))


def scrub_digest(digest: Digest, report: CheckReport) -> Digest:
    """`scrub_text` over the gist, every heading and every item of a digest (not Run
    Metadata, which the engine writes from configuration, not the model)."""
    sections = []
    for section in digest.sections:
        if section.key == "metadata":
            sections.append(section)
            continue
        items = []
        for item in section.items:
            heading = item.heading
            for stray in stray_ids(heading):
                report.stray_ids.append(stray)
                heading = heading.replace(stray, "")
            text = scrub_text(item.text, report)
            if text or not item.text:
                items.append(replace(item, heading=_tidy(heading) or "Note", text=text))
        sections.append(replace(section, items=tuple(items)))
    return replace(digest, gist=scrub_text(digest.gist, report), sections=tuple(sections))


def _tidy(text: str) -> str:
    """Mend what removals leave behind: empty brackets, doubled commas, dangling 'and'."""
    text = re.sub(r"\(\s*[,;:]?\s*\)|\[\s*\]", "", text)
    text = re.sub(r"\(\s*(?:and|or|,|;)\s+", "(", text)
    text = re.sub(r"(?:,\s*)?\b(?:and|or)\s*(?=[).;,]|$)", "", text)
    text = re.sub(r"\s+([,.;:!?)])", r"\1", text)
    text = re.sub(r"([,;:])(?:\s*[,;:])+", r"\1", text)
    text = re.sub(r"[,;:]\s*(?=[.)])", "", text)
    text = re.sub(r"^\s*(?:[,;:.]|and\b|or\b)\s*", "", text)
    text = re.sub(r"\(\s*(?=[.,;]|$)", "", text)  # "(" left by a removed link
    return re.sub(r"\s{2,}", " ", text).strip()
