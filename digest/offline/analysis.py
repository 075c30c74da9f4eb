"""One window's papers as vectors and themes: the shared analysis every section reads.

TF-IDF (1-2 grams) over cleaned title+abstract, reduced by SVD, clustered with k-means;
the number of themes is picked by silhouette within a range that grows with the window
(small windows get fewer). Themes are labelled by what distinguishes them from the rest
(class-based TF-IDF over 1-3 grams), not by what is frequent everywhere.

scikit-learn is imported where it is used: it costs ~100 MB and seconds of start-up, which
a bot process answering commands all week should not pay until it writes a digest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from digest.offline.text import Sentence, clean_abstract, sentences_of
from digest.offline.vocabulary import Casing, phrase_analyzer
from digest.safety import defang
from storage import Paper

_SEED = 20260527  # fixed, so the same window always gives the same digest
_ACRONYM_DEFINITION = re.compile(r"\s*\((?=[^)]*[A-Z])[A-Za-z0-9.\-]{2,14}s?\)")


def _without_acronym_definitions(text: str) -> str:
    """ "supervised fine-tuning (SFT) improves" -> "supervised fine-tuning improves", so that
    phrases do not run into the acronym ("fine-tuning sft")."""
    return _ACRONYM_DEFINITION.sub("", text)


@dataclass(frozen=True, slots=True)
class Theme:
    """A cluster of papers with its distinctive phrases, most central paper first."""

    members: tuple[int, ...]  # indexes into WindowAnalysis.papers
    phrases: tuple[str, ...]  # distinctive phrases, best first
    centrality: tuple[float, ...]  # cosine to the theme centre, aligned with members


def theme_range(n: int) -> range:
    """How many themes a window of n papers may have: 3-7, fewer for small windows."""
    if n < 4:
        return range(1, 2)
    if n < 10:
        return range(2, 3)
    if n < 25:
        return range(3, 4)
    if n < 60:
        return range(3, 6)
    return range(4, 8)


class WindowAnalysis:
    """Vectors, themes and sentences of one window's papers, computed once and shared."""

    def __init__(self, papers: list[Paper]) -> None:
        self.papers = papers
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
        self.ordinary = frozenset(
            w for t in self.texts for w in re.findall(r"(?<=\s)[a-z][a-z-]+", t)
        )

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
        from sklearn.feature_extraction.text import CountVectorizer

        n = len(self.papers)
        counter = CountVectorizer(analyzer=phrase_analyzer(3), min_df=2 if n >= 10 else 1)
        try:
            matrix = counter.fit_transform(self.documents)
        except ValueError:  # nothing but stop words
            return None, np.array([], dtype=object)
        return matrix, counter.get_feature_names_out()

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
    def embedding(self) -> np.ndarray:
        """Unit-length dense vectors (SVD of TF-IDF); one row per paper."""
        from sklearn.decomposition import TruncatedSVD
        from sklearn.preprocessing import normalize

        matrix, vocabulary = self.tfidf
        n = len(self.papers)
        if matrix is None or n < 3 or len(vocabulary) < 3:
            dense = matrix.toarray() if matrix is not None else np.zeros((n, 1), np.float32)
            return normalize(dense) if n else dense
        # Large windows: fewer components and power iterations. Themes of thousands of papers
        # are broad anyway, and this is the slowest step there.
        large = n > 500
        components = max(2, min(64 if large else 100, n - 1, len(vocabulary) - 1))
        svd = TruncatedSVD(n_components=components, n_iter=3 if large else 5, random_state=_SEED)
        return normalize(svd.fit_transform(matrix))

    @cached_property
    def themes(self) -> list[Theme]:
        """The window's themes, largest first; tiny clusters folded into their neighbours."""
        n = len(self.papers)
        if n == 0:
            return []
        labels = self._cluster()
        themes = []
        for label in sorted(set(labels), key=lambda lab: -int(np.sum(labels == lab))):
            members = np.flatnonzero(labels == label)
            centre = self.embedding[members].mean(axis=0)
            norm = float(np.linalg.norm(centre)) or 1.0
            closeness = self.embedding[members] @ (centre / norm)
            order = np.argsort(-closeness, kind="stable")
            themes.append(
                Theme(
                    members=tuple(int(members[i]) for i in order),
                    phrases=(),
                    centrality=tuple(float(closeness[i]) for i in order),
                )
            )
        phrases = self._distinctive_phrases([t.members for t in themes])
        return [
            Theme(t.members, tuple(p), t.centrality) for t, p in zip(themes, phrases, strict=True)
        ]

    def _cluster(self) -> np.ndarray:
        from sklearn.cluster import KMeans
        from sklearn.metrics import silhouette_score

        n = len(self.papers)
        choices = theme_range(n)
        if choices.start == 1 or n < 4:
            return np.zeros(n, dtype=int)
        vectors = self.embedding
        # Papers with identical text are one point: more clusters than points is no theme.
        distinct = len(np.unique(np.round(vectors, 6), axis=0))
        best_labels, best_score = None, -2.0
        for k in choices:
            if k >= min(n, distinct):
                break
            restarts = 4 if n <= 500 else 2  # each restart costs a full k-means on big windows
            labels = KMeans(n_clusters=k, n_init=restarts, random_state=_SEED).fit_predict(
                vectors
            )
            if len(set(labels)) < 2:
                continue
            sample = min(n, 1500)
            score = silhouette_score(vectors, labels, sample_size=sample, random_state=_SEED)
            # A small bonus per theme: silhouette alone favours the fewest, broadest clusters.
            score += 0.01 * k
            if score > best_score:
                best_labels, best_score = labels, score
        if best_labels is None:
            return np.zeros(n, dtype=int)
        return self._fold_small(best_labels)

    def _fold_small(self, labels: np.ndarray) -> np.ndarray:
        """Give members of clusters too small to be a theme to the nearest larger one."""
        n = len(labels)
        minimum = max(2, int(0.04 * n))
        sizes = {lab: int(np.sum(labels == lab)) for lab in set(labels)}
        keep = [lab for lab, size in sizes.items() if size >= minimum]
        if not keep or len(keep) == len(sizes):
            return labels
        centres = {lab: self.embedding[labels == lab].mean(axis=0) for lab in keep}
        folded = labels.copy()
        for i in range(n):
            if labels[i] not in keep:
                folded[i] = max(keep, key=lambda lab: float(self.embedding[i] @ centres[lab]))
        return folded

    def _distinctive_phrases(self, groups: list[tuple[int, ...]]) -> list[list[str]]:
        """Class-based TF-IDF: phrases frequent in one theme and rare in the others."""
        n = len(self.papers)
        counts, vocabulary = self.counts
        if counts is None:
            return [[] for _ in groups]
        presence = (counts > 0).astype(np.float32)
        per_class = np.vstack([np.asarray(counts[list(g)].sum(axis=0)).ravel() for g in groups])
        docs_per_class = np.vstack(
            [np.asarray(presence[list(g)].sum(axis=0)).ravel() for g in groups]
        )
        term_totals = per_class.sum(axis=0) + 1e-9
        average = per_class.sum() / max(1, len(groups))
        tf = per_class / (per_class.sum(axis=1, keepdims=True) + 1e-9)
        ctfidf = tf * np.log1p(average / term_totals)
        lengths = np.array([len(v.split()) for v in vocabulary])
        # Words in a quarter of the window say what the topic is, not what a theme is.
        everywhere = (
            np.asarray(presence.sum(axis=0)).ravel() > 0.25 * n
            if n >= 20
            else (np.zeros_like(lengths, dtype=bool))
        )
        result = []
        for row, group in enumerate(groups):
            size = len(group)
            # A label must describe several papers, not one paper's pet term.
            spread = (
                docs_per_class[row] >= max(2, 0.2 * size)
                if size >= 4
                else np.ones_like(lengths, dtype=bool)
            )
            # Phrases read better than single words: "credit assignment" over "credit".
            weight = 1 + 1.5 * (lengths - 1)
            scores = np.where(spread & ~everywhere, ctfidf[row] * weight, -1.0)
            picked: list[str] = []
            for index in np.argsort(-scores)[:60]:
                if scores[index] <= 0:
                    break
                phrase = str(vocabulary[index])
                words = set(phrase.split())
                if any(
                    phrase in p or p in phrase or len(words & set(p.split())) >= 2 for p in picked
                ):
                    continue
                if len(set(phrase.split())) < len(phrase.split()):
                    continue  # "reward reward"
                picked.append(phrase)
                if len(picked) == 8:
                    break
            result.append(picked)
        return result

    def label_inline(self, theme: Theme) -> str:
        """The label for use inside a sentence: lower-case start unless it is a name."""
        label = self.label(theme)
        first = label.split(" ", 1)[0]
        if first[1:].islower() and self.casing.phrase(first.lower()) == first.lower():
            return label[:1].lower() + label[1:]
        return label

    def label(self, theme: Theme) -> str:
        """A readable label from a theme's two best phrases, preferring multi-word phrases
        and acronyms over lone words ("Policy optimization and GRPO")."""
        phrases = list(theme.phrases[:4])  # the label must say what the theme is most about
        multi = [p for p in phrases if " " in p]
        coined = [p for p in phrases if " " not in p and self.casing.phrase(p) != p]
        plain = [p for p in phrases if p not in multi and p not in coined]
        parts = sorted((multi + coined + plain)[:2], key=phrases.index)
        if not parts:
            return "Other papers"
        text = " and ".join(self.casing.phrase(p) for p in parts)
        return text[:1].upper() + text[1:]

    def share(self, phrase: str, members: tuple[int, ...] | None = None) -> list[int]:
        """Which papers (of `members`, else all) mention a phrase in title or abstract."""
        needle = phrase.lower()
        pool = members if members is not None else range(len(self.papers))
        return [i for i in pool if needle in self.documents[i].lower()]
