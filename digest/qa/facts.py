"""Facts read out of a paper's record and full text, without a model.

Each function answers one kind of question from the text it is given and returns quotable,
neutralized sentences (never instructions, never markup), each with where it came from
("abstract", "comments", or the full text's section), or nothing when the text does not say.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from digest.offline.text import Sentence, sentences_of, split_sentences
from digest.safety import defang, looks_like_injection, neutralize
from storage import Paper

CELL_WORDS = 32  # a comparison cell or a list line quotes at most this many words
QUOTE_WORDS = 60
FACET_SENTENCES = 3
MAX_LINKS = 5

# A paper's link as written in its abstract, comments or full text; strict on purpose: only
# characters URLs use, no "@" (so no mention or credential can ride along), no markup.
_LINK = re.compile(r"https?://[A-Za-z0-9.-]+\.[A-Za-z]{2,}(?::\d+)?(?:/[A-Za-z0-9._~/%+=?&#:-]*)?")
_LINK_HOSTS = re.compile(
    r"github\.com|gitlab\.com|github\.io|huggingface\.co|hf\.co|zenodo\.org|kaggle\.com"
    r"|bitbucket\.org|codeberg\.org|figshare\.com|osf\.io|colab\.research\.google\.com"
    r"|pypi\.org|modelscope\.cn|openreview\.net|sites\.google\.com",
    re.IGNORECASE,
)
# A named artefact: "GSM8K", "MATH-500", "AIME24", "HumanEval", "MMLU-Pro", "Qwen2.5".
_NAMED = re.compile(r"\b(?:[A-Z][a-z]*[A-Z0-9][\w.-]*|[A-Z]{2,}[\w.-]*)")
_TEX_ESCAPE = re.compile(r"\\([%&$#_])")  # "10\%" in an abstract reads "10%"
# "... we propose X": the contribution, wherever the sentence puts it.
_PROPOSE = re.compile(
    r"\b(?:we|this\s+(?:paper|work|study))\s+(?:\w+\s+)?(?:propose|introduce|present"
    r"|develop|design|build|release|contribute)\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"\d+(?:\.\d+)?\s*(?:%|points?|pp\b|x\b|×)|\b\d+(?:\.\d+)?\b")

FACETS: dict[str, re.Pattern[str]] = {
    "datasets": re.compile(
        r"\b[A-Z][\w-]*(?:Bench|Eval|QA)\b|\bdata\s*sets?\b|\bcorp(?:us|ora)\b|\btraining\s+(?:data|set)\b|\bbenchmarks?\b"
        r"|\bsuites?\b|\btest\s+sets?\b|\bcollected\b|\bcurated\b|\bsamples?\b|\bproblems\b"
        r"|\bevaluat\w*|\btrain(?:ed|s)?\s+on\b|\bcontains?\s+[\d,.]+",
        re.IGNORECASE,
    ),
    "benchmarks": re.compile(
        r"\b[A-Z][\w-]*(?:Bench|Eval|QA)\b|\bArena-Hard\b|\bbenchmarks?\b|\bevaluat\w*|\btested\s+on\b|\btest\s+sets?\b|\bsuites?\b"
        r"|\bleaderboards?\b|\bdata\s*sets?\b",
        re.IGNORECASE,
    ),
    "baselines": re.compile(
        r"\bbaselines?\b|\bcompared?\s+(?:to|with|against)\b|\boutperform\w*|\bsurpass\w*"
        r"|\bover\s+(?:strong\s+)?(?:\w+\s+){0,2}(?:methods|approaches)\b|\bthan\b"
        r"|\bstate[- ]of[- ]the[- ]art\b|\bprior\s+(?:methods|work)\b",
        re.IGNORECASE,
    ),
    "results": re.compile(
        r"\boutperform\w*|\bimprov\w*|\bachiev\w*|\baccuracy\b|\bgains?\b|\breduc\w*"
        r"|\bsurpass\w*|\bresults?\b|\bstate[- ]of[- ]the[- ]art\b|\bbetter\b|\bboosts?\b"
        r"|\b(?:we|experiments?)\s+(?:show|find|demonstrate|observe)\b|\bincreas\w*|\blower\w*"
        r"|\breach\w*|\braises?\b|\bsuccess\s+rate\b|\d\s*%|\bpoints?\s+(?:above|over|higher)\b",
        re.IGNORECASE,
    ),
}
FACET_WORDS = {
    "datasets": "datasets",
    "benchmarks": "benchmarks",
    "baselines": "baselines",
    "results": "results",
}
# Full-text search words for each facet (the chunks are searched with these too).
FACET_QUERY = {
    "datasets": "dataset datasets data benchmark corpus training evaluate",
    "benchmarks": "benchmark benchmarks evaluate evaluation test",
    "baselines": "baseline baselines compare outperform",
    "results": "results outperform improve accuracy achieves table",
}
_LIMITATION_SECTION = re.compile(r"limitation|threats to validity|future work|discussion", re.I)


@dataclass(frozen=True, slots=True)
class Quote:
    """A sentence fit to quote and where it comes from ("abstract", "comments", a section)."""

    text: str
    where: str


def shorten(text: str, max_words: int = QUOTE_WORDS) -> str:
    words = text.split()
    if len(words) <= max_words:
        return text
    return " ".join(words[:max_words]).rstrip(",;:") + " …"


def safe(text: str, max_words: int = QUOTE_WORDS) -> str | None:
    """Untrusted paper text made safe to quote, or None when it reads as an instruction."""
    text = neutralize(_TEX_ESCAPE.sub(r"\1", text))
    if not text or looks_like_injection(text):
        return None
    return shorten(text, max_words)


def title_rest(paper: Paper, name: str) -> str:
    """The title without the leading "Name:" when the short name is that prefix, so a
    header reads "GRAIL · Gradient-Reweighted Advantages ..." and not the name twice."""
    title = " ".join(defang(paper.title).split())
    for separator in (": ", " - ", " -- ", " — ", " – "):
        head, found, rest = title.partition(separator)
        if found and rest and _same(head, name):
            return rest
    return "" if _same(title, name) else title


def _same(a: str, b: str) -> bool:
    return re.sub(r"\W", "", a).casefold() == re.sub(r"\W", "", b).casefold()


# -- authors and dates --------------------------------------------------------------------------


def authors_line(paper: Paper) -> str:
    names = [neutralize(a) for a in paper.authors if neutralize(a)]
    if not names:
        return "arXiv lists no authors for it."
    if len(names) == 1:
        return f"Author: {names[0]}."
    return f"Authors ({len(names)}): {', '.join(names)}."


def announced(published: datetime) -> date:
    """The day arXiv's listing that first shows a paper submitted at `published` is sent
    (about 00:00 UTC, 20:00 US Eastern the evening before). Submissions close about 18:00
    UTC each weekday; Friday's to Sunday's appear in Monday's listing (Tuesday, UTC)."""
    day = published.date()
    if published.hour >= 18:
        day += timedelta(days=1)
    while day.weekday() >= 5:  # a weekend submission joins Monday's batch
        day += timedelta(days=1)
    mailing = day + timedelta(days=1)
    if day.weekday() == 4:  # Friday's batch is sent Sunday evening US time: Monday UTC
        mailing = day + timedelta(days=3)
    return mailing


def dates_line(paper: Paper) -> str:
    first = paper.published.date().isoformat()
    text = f"Submitted {first} (v1); first listed by arXiv about {announced(paper.published)}."
    if paper.version > 1:
        text += f" Latest version: v{paper.version}, {paper.updated.date().isoformat()}."
    else:
        text += " No later version."
    return text


# -- sentences ----------------------------------------------------------------------------------


def tldr(paper: Paper) -> str | None:
    """What the paper proposes: its first "we propose/introduce ..." sentence, else its
    first finding, else its first sentence."""
    sentences = sentences_of(paper.abstract)
    if not sentences:
        return safe(paper.abstract)
    pick = next((s for s in sentences if _PROPOSE.search(s.text)), None)
    pick = pick or next((s for s in sentences if s.is_contribution), None)
    pick = pick or next((s for s in sentences if s.is_finding), None) or sentences[0]
    return safe(pick.text)


def _own(sentences: Sequence[Sentence]) -> int | None:
    """The index of the sentence where the paper starts saying what it does."""
    found = next((s.index for s in sentences if _PROPOSE.search(s.text)), None)
    return (
        found
        if found is not None
        else next((s.index for s in sentences if s.is_contribution), None)
    )


def problem(paper: Paper) -> str | None:
    """The problem the paper addresses: the sentences before its contribution, the last of
    them (the gap) preferred."""
    sentences = sentences_of(paper.abstract)
    own = _own(sentences)
    before = [s for s in sentences if own is not None and s.index < own]
    if not before:
        return None
    return safe(before[-1].text if len(before) > 1 else before[0].text, CELL_WORDS)


def headline(paper: Paper) -> str | None:
    """The headline result: a finding with a number, else any finding, else a sentence
    that reports an improvement."""
    sentences = sentences_of(paper.abstract)
    scored: list[tuple[float, Sentence]] = []
    for s in sentences:
        score = 2.0 * s.is_finding + 1.5 * bool(_NUMBER.search(s.text))
        score += 1.0 * bool(FACETS["results"].search(s.text)) - 3.0 * s.is_contribution
        if score > 0:
            scored.append((score + 0.01 * s.index, s))
    if not scored:
        return None
    return safe(max(scored, key=lambda pair: pair[0])[1].text, CELL_WORDS)


def limitation(paper: Paper, sections: Sequence[tuple[str, str]] = ()) -> Quote | None:
    """A limitation the paper states: in its abstract, else its full text's limitations
    section."""
    sentences = sentences_of(paper.abstract)
    own = _own(sentences)
    for s in sentences:
        # Before the paper says what it does, "remains an open problem" is about prior work.
        if s.is_limitation and own is not None and s.index > own:
            text = safe(s.text, CELL_WORDS)
            if text:
                return Quote(text, "abstract")
    for section, text in sections:
        if _LIMITATION_SECTION.search(section):
            for sentence in split_sentences(text):
                quoted = safe(sentence, CELL_WORDS)
                if quoted and len(quoted.split()) >= 6:
                    return Quote(quoted, neutralize(section))
    return None


def facet_quotes(
    paper: Paper,
    facet: str,
    sections: Sequence[tuple[str, str]] = (),
    count: int = FACET_SENTENCES,
    max_words: int = QUOTE_WORDS,
) -> list[Quote]:
    """The sentences that name the paper's datasets, benchmarks, baselines or results,
    best first: those using the facet's words, naming things ("GSM8K") and giving numbers,
    from the full text (with its section) and the abstract."""
    pattern = FACETS[facet]
    scored: list[tuple[float, int, Quote]] = []
    order = 0
    sources: list[tuple[str, str]] = [("abstract", paper.abstract), *sections]
    for where, text in sources:
        for sentence in split_sentences(text):
            order += 1
            hits = len(pattern.findall(sentence))
            if not hits:
                continue
            named = len(_NAMED.findall(sentence))
            numbers = bool(_NUMBER.search(sentence))
            score = 2.0 * min(hits, 3) + 0.7 * min(named, 4) + 0.8 * numbers
            if facet in ("datasets", "benchmarks") and not named:
                score -= 2.5  # "a benchmark" says nothing without a name
            if where != "abstract" and facet in ("datasets", "benchmarks", "baselines"):
                score += 0.5  # the experiments section names them in full
            if facet == "results" and re.search(r"result|evaluation|experiment", where, re.I):
                score += 1.0
            if score <= 1.5:
                continue
            quoted = safe(sentence, max_words)
            if quoted:
                scored.append((score, order, Quote(quoted, neutralize(where) or "the paper")))
    scored.sort(key=lambda item: (-item[0], item[1]))
    out: list[Quote] = []
    best = scored[0][0] if scored else 0.0
    for value, _, quote in scored:
        if value < 0.5 * best:  # far weaker than the best: noise, not an answer
            break
        if quote.text not in {q.text for q in out}:
            out.append(quote)
        if len(out) == count:
            break
    return out


def links(paper: Paper, sections: Sequence[tuple[str, str]] = ()) -> list[Quote]:
    """Code, data, weights and project links the paper gives, in its abstract, comments or
    full text: code hosts first; never arXiv's own pages."""
    found: dict[str, Quote] = {}
    sources = [("abstract", paper.abstract), ("comments", paper.comment or ""), *sections]
    for where, text in sources:
        for match in _LINK.finditer(text.replace("\\_", "_")):
            url = match.group(0).rstrip(".,;:)]}'\"")
            if re.search(r"(?:^|\.)arxiv\.org/|doi\.org/", url, re.IGNORECASE):
                continue
            found.setdefault(url, Quote(url, neutralize(where) or "the paper"))
    ranked = sorted(found.values(), key=lambda q: not _LINK_HOSTS.search(q.text))
    return ranked[:MAX_LINKS]
