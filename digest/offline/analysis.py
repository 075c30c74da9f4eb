"""One window's papers as vectors and themes: the shared analysis every section reads.

Themes are concepts (digest.offline.concepts): curated for the built-in post-train topic,
learned from the window's repeated phrases otherwise; each paper joins the concept its
title and contribution sentence name most strongly, and papers naming none are "Other
papers". Vectors are TF-IDF (1-2 grams) over cleaned title+abstract, L2-normalised, used for
how typical a paper is of its theme and how unlike the rest of the window it is.

scikit-learn is imported where it is used: it costs ~100 MB and seconds of start-up, which
a bot process answering commands all week should not pay until it writes a digest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from digest.offline.concepts import (
    OTHER,
    POST_TRAIN_CONCEPTS,
    Concept,
    PaperText,
    assign,
    learn_concepts,
)
from digest.offline.counts import phrase_counts
from digest.offline.text import Sentence, clean_abstract, sentences_of
from digest.offline.vocabulary import Casing, phrase_analyzer
from digest.safety import defang
from storage import Paper

_ORDINARY = re.compile(r"(?<=\s)[a-z][a-z-]+")  # a lower-case word after a space
_ACRONYM_DEFINITION = re.compile(r"\s*\((?=[^)]*[A-Z])[A-Za-z0-9.\-]{2,14}s?\)")


def _without_acronym_definitions(text: str) -> str:
    """ "supervised fine-tuning (SFT) improves" -> "supervised fine-tuning improves", so that
    phrases do not run into the acronym ("fine-tuning sft")."""
    return _ACRONYM_DEFINITION.sub("", text)


@dataclass(frozen=True, slots=True)
class Theme:
    """A cluster of papers with its distinctive phrases, most central paper first."""

    members: tuple[int, ...]  # indexes into WindowAnalysis.papers
    centrality: tuple[float, ...]  # cosine to the theme centre, aligned with members
    concept: Concept | None = None  # None: the "Other papers" group


def max_themes(n: int) -> int:
    """How many themes a window of n papers may have: more for larger windows."""
    if n < 4:
        return 1
    if n < 10:
        return 2
    if n < 25:
        return 4
    if n < 60:
        return 6
    if n < 500:
        return 8  # a thread a reader takes in: the reference digest has five
    return 12


def min_theme_size(n: int) -> int:
    """The fewest papers a theme may have: two, or 0.5% of a large window."""
    return max(2, round(0.005 * n))


# Topics with a curated concept list; any other topic learns its concepts from the window.
CURATED: dict[str, tuple[Concept, ...]] = {"post-train": POST_TRAIN_CONCEPTS}
# A curated list that names fewer of the window's papers than this is the wrong list (the
# post-train topic applied to a day of general listings): learn concepts instead.
MIN_CURATED_COVERAGE = 0.5


class WindowAnalysis:
    """Vectors, themes and sentences of one window's papers, computed once and shared."""

    def __init__(self, papers: list[Paper], topic: str = "") -> None:
        self.papers = papers
        self.topic = topic
        self.texts = [clean_abstract(p.abstract) for p in papers]
        # The title twice: it is the author's own summary and worth more than one sentence.
        # Titles are untrusted like abstracts: defanged before they become vocabulary.
        self.titles = [defang(p.title) for p in papers]
        self.documents = [
            _without_acronym_definitions(f"{title}. {title}. {t}")
            for title, t in zip(self.titles, self.texts, strict=True)
        ]
        self.casing = Casing(self.titles + self.texts)
        # Words the window writes in lower case: safe to lower-case at a sentence start.
        # One pass over all texts: "\x00" is no space, so no word starts after it, just as
        # none starts at the beginning of a text.
        self.ordinary = frozenset(_ORDINARY.findall("\x00".join(self.texts)))

    def sentences(self, index: int) -> tuple[Sentence, ...]:
        return sentences_of(self.papers[index].abstract)

    @cached_property
    def focus_texts_lower(self) -> list[str]:
        return [text.lower() for text in self.focus_texts]

    @cached_property
    def focus_texts(self) -> list[str]:
        """What each paper says it does: its title, contribution and finding sentences. A
        term in the motivation ("GRPO has been widely used") is not one the paper uses."""
        return [
            " ".join(
                [title, *(s.text for s in self.sentences(i) if s.is_contribution or s.is_finding)]
            )
            for i, title in enumerate(self.titles)
        ]

    @cached_property
    def counts(self) -> tuple[Any, np.ndarray]:
        """Counts of words and 2-3 word phrases per paper, and the phrases (one pass of the
        analyzer, shared by the vectors and the theme labels)."""
        n = len(self.papers)
        # (None, empty) when the papers hold nothing but stop words.
        return phrase_counts(self.documents, phrase_analyzer(3), min_df=2 if n >= 10 else 1)

    @cached_property
    def tfidf(self) -> tuple[Any, list[str]]:
        """TF-IDF over words and two-word phrases; (None, []) for an empty window."""
        counts, vocabulary = self.counts
        n = len(self.papers)
        if counts is None:
            return None, []
        lengths = np.array([v.count(" ") + 1 for v in vocabulary])
        frequency = np.asarray((counts > 0).sum(axis=0)).ravel()
        keep = lengths <= 2
        if n >= 20:
            keep &= (frequency >= 2) & (frequency <= 0.5 * n)
        columns = np.flatnonzero(keep)
        if len(columns) == 0:
            return None, []
        from sklearn.feature_extraction.text import TfidfTransformer

        matrix = TfidfTransformer(sublinear_tf=True).fit_transform(counts[:, columns])
        return matrix.astype(np.float32), [str(vocabulary[i]) for i in columns]

    @cached_property
    def paper_texts(self) -> list[PaperText]:
        """Title, contribution and finding sentences of each paper, lower-cased: what the
        paper says it is about, which decides its concept."""
        out = []
        for i, title in enumerate(self.titles):
            sentences = self.sentences(i)
            contribution = [s.text for s in sentences if s.is_contribution][:2]
            finding = [s.text for s in sentences if s.is_finding and not s.is_contribution]
            out.append(
                PaperText(
                    title.lower(), " ".join(contribution).lower(), " ".join(finding).lower()
                )
            )
        return out

    @cached_property
    def concepts(self) -> list[Concept]:
        """The concepts themes are made of: the topic's curated list when it fits the
        window, else ones learned from the window."""
        n = len(self.papers)
        curated = CURATED.get(self.topic)
        if curated:
            named = sum(
                any(c.names(t.title) or c.names(t.contribution) for c in curated)
                for t in self.paper_texts
            )
            if named >= MIN_CURATED_COVERAGE * n:
                return list(curated)
        return learn_concepts(self.paper_texts, self.casing, max_themes(n) + 4, min_theme_size(n))

    @cached_property
    def embedding(self) -> Any:
        """Unit-length TF-IDF rows (sparse), one per paper; a dot product is a cosine."""
        from sklearn.preprocessing import normalize

        matrix, _ = self.tfidf
        if matrix is None:
            from scipy.sparse import csr_matrix

            return csr_matrix((len(self.papers), 1), dtype=np.float32)
        return normalize(matrix).tocsr()

    def similarity(self, rows: list[int] | np.ndarray, cols: list[int] | np.ndarray) -> np.ndarray:
        """Cosine similarities between two sets of papers, as a dense array."""
        vectors = self.embedding
        return np.asarray((vectors[rows] @ vectors[cols].T).todense())

    @cached_property
    def themes(self) -> list[Theme]:
        """The window's themes, largest first, then "Other papers" when some papers name no
        theme's concept."""
        n = len(self.papers)
        if n == 0:
            return []
        groups = assign(self.concepts, self.paper_texts, min_theme_size(n), max_themes(n))
        themes = []
        vectors = self.embedding
        for concept, members in groups:
            rows = np.array(members)
            centre = np.asarray(vectors[rows].mean(axis=0)).ravel()
            norm = float(np.linalg.norm(centre)) or 1.0
            closeness = np.asarray(vectors[rows] @ (centre / norm)).ravel()
            order = np.argsort(-closeness, kind="stable")
            themes.append(
                Theme(
                    members=tuple(int(rows[i]) for i in order),
                    centrality=tuple(float(closeness[i]) for i in order),
                    concept=concept,
                )
            )
        return themes

    def label_inline(self, theme: Theme) -> str:
        """The label for use inside a sentence: lower-case start unless it is a name."""
        label = self.label(theme)
        first = label.split(" ", 1)[0]
        if first[1:].islower() and self.casing.phrase(first.lower()) == first.lower():
            return label[:1].lower() + label[1:]
        return label

    def label(self, theme: Theme) -> str:
        """The theme's concept, a noun phrase a researcher would use; "Other papers" for the
        papers that name no theme's concept."""
        return theme.concept.label if theme.concept is not None else OTHER

    def share(self, phrase: str, members: tuple[int, ...] | None = None) -> list[int]:
        """Which papers (of `members`, else all) mention a phrase in title or abstract."""
        needle = phrase.lower()
        pool = members if members is not None else range(len(self.papers))
        return [i for i in pool if needle in self.documents[i].lower()]
