"""How the offline digest reads: themes a researcher would name, one complete TL;DR per
paper, sections that are what they say (issue 12).

The real weeks come from ../shared/data/arxiv (skipped where absent); the sentence-level
cases are sentences of the kind the review quoted, so they run everywhere.
"""

from __future__ import annotations

import functools
import re

import pytest

from digest.model import Digest
from digest.offline.analysis import WindowAnalysis
from digest.offline.concepts import POST_TRAIN_CONCEPTS, PaperText, assign, names_concept
from digest.offline.prose import join_items
from digest.offline.quality import Quality, measure
from digest.offline.text import about, clean_abstract, sentences_of, states_limitation
from digest.render import to_text
from digest.topics import POST_TRAIN
from tests.support.papers import make_paper
from tests.support.weeks import WEEK_A, load_week, read_real, synthesize

REAL = ("post-train-42", "post-train-87", "day-50")


@functools.cache
def real(name: str) -> tuple[Digest, Quality, WindowAnalysis]:
    window, papers = read_real(name)
    digest = synthesize(papers, window)
    analysis = WindowAnalysis(list(papers), POST_TRAIN.name)
    return digest, measure(digest, analysis), analysis


class TestRealWeeks:
    """The bench's goals, held on every shared post-train week."""

    @pytest.mark.parametrize("name", REAL)
    def test_every_theme_is_coherent(self, name: str) -> None:
        """At least 80% of a theme's papers name its concept in title or contribution."""
        _, quality, _ = real(name)

        assert quality.coherence
        assert quality.min_coherence >= 0.8, quality.coherence

    @pytest.mark.parametrize("name", REAL)
    def test_no_cut_latex_dangling_or_boilerplate(self, name: str) -> None:
        _, quality, _ = real(name)

        assert quality.ellipsis_cuts == 0
        assert quality.latex_residue == 0
        assert quality.dangling == 0
        assert quality.boilerplate == 0

    @pytest.mark.parametrize("name", REAL)
    def test_most_papers_get_a_descriptive_tldr(self, name: str) -> None:
        _, quality, _ = real(name)

        assert quality.descriptive_share >= 0.6

    @pytest.mark.parametrize("name", REAL)
    def test_no_broken_short_names(self, name: str) -> None:
        _, quality, _ = real(name)

        assert quality.broken_names == []

    def test_labels_are_short_noun_phrases_and_other_comes_last(self) -> None:
        """Labels of at most five words, no joined fragments ("Mean and translation"), and
        the papers naming no theme in "Other papers" rather than forced into one."""
        digest, _, _ = real("post-train-87")
        headings = [
            re.sub(r"\s*\(\d+ papers?\)$", "", i.heading) for i in digest.section("themes").items
        ]

        assert all(len(h.split()) <= 5 for h in headings), headings
        assert headings[-1] == "Other papers"
        assert "Preference optimization and DPO" in headings
        assert "RL with verifiable rewards" in headings

    def test_tldr_in_the_catalog_json(self) -> None:
        """Catalog entries carry a one-sentence `tldr` (DESIGN.md, Round 2 contracts), and it
        survives the stored JSON."""
        digest, _, _ = real("post-train-87")
        entries = digest.to_json()["papers"]
        with_tldr = [e for e in entries if "tldr" in e]

        assert len(with_tldr) >= 0.6 * len(entries)
        for entry in with_tldr:
            assert entry["tldr"].startswith(entry["short_name"])
            assert entry["tldr"].endswith(".") and "[[" not in entry["tldr"]
        assert Digest.from_json(digest.to_json()) == digest

    def test_challenges_hold_no_release_note_or_success_claim(self) -> None:
        digest, _, _ = real("post-train-87")
        text = " ".join(i.text for i in digest.section("challenges").items)

        assert not re.search(r"publicly release|outperform|state-of-the-art", text), text


class TestSentences:
    """A statement about a paper is one complete sentence from its own words."""

    def test_long_sentences_end_at_a_clause_boundary_never_with_an_ellipsis(self) -> None:
        sentence = (
            "We propose Kestrel, a calibration step for reward models that rescales scores "
            "per prompt, which removes length bias, reduces reward hacking in best-of-n "
            "sampling across four benchmarks and three model families, and costs nothing at "
            "inference time because the scale is fitted once."
        )

        text = about("2606.00001", sentence, "Kestrel", max_words=20)

        assert text is not None and "…" not in text
        assert text == (
            "[[2606.00001]] is a calibration step for reward models that rescales scores "
            "per prompt."
        )

    def test_a_dangling_demonstrative_is_not_quoted(self) -> None:
        """ "We study this problem in game settings" points at a sentence the reader does
        not see."""
        assert about("2606.00001", "We study this problem in game settings.") is None

    def test_the_contribution_after_an_opening_clause(self) -> None:
        sentence = (
            "To fill this gap, we present H-Mem, a memory mechanism with a hybrid structure "
            "of trees and graphs."
        )

        text = about("2606.00001", sentence, "H-Mem")

        assert (
            text
            == "[[2606.00001]] is a memory mechanism with a hybrid structure of trees and graphs."
        )

    def test_latex_escapes_resolve_and_unknown_macros_are_never_quoted(self) -> None:
        abstract = (
            "We introduce a method that improves accuracy by 0.5\\% on average. "
            "Experiments demonstrate \\method's superiority over six strong baselines."
        )
        cleaned = clean_abstract(abstract)

        assert "0.5%" in cleaned and "\\" not in cleaned
        quotable = [about("2606.00001", s.text) for s in sentences_of(abstract)]
        assert not any(q and "'s superiority" in q for q in quotable)

    def test_tldr_prefers_the_contribution_to_the_motivation(self) -> None:
        paper = make_paper(
            "2606.00009",
            title="GRAIL: Gradient-Reweighted Advantages",
            abstract=(
                "Reinforcement learning with verifiable rewards has become the standard "
                "recipe for reasoning models. However, it treats all tokens alike. "
                "To address this, we introduce GRAIL, a token-wise advantage reweighting "
                "method that follows gradient saliency. GRAIL improves accuracy by 4% on "
                "math benchmarks."
            ),
        )
        window, _ = load_week(WEEK_A)
        digest = synthesize([paper], window)

        assert digest.papers[0].tldr == (
            "GRAIL is a token-wise advantage reweighting method that follows gradient saliency."
        )


class TestLimitations:
    @pytest.mark.parametrize(
        "sentence",
        [
            "Factuality is consistently diminished after preference alignment.",
            "Joint constraint satisfaction remains challenging for all models.",
            "The approach is limited to English and degrades on long inputs.",
        ],
    )
    def test_stated_limitations(self, sentence: str) -> None:
        assert states_limitation(sentence)

    @pytest.mark.parametrize(
        "sentence",
        [
            "The authors publicly release the checkpoint and the training code.",
            "Our method outperforms all baselines, although the gap narrows at scale.",
            "It retains 84.6% of dense accuracy with 2.42x less perplexity degradation.",
            "Despite short training stories, it preserves quality where most models degrade.",
        ],
    )
    def test_release_notes_and_success_claims_are_not_limitations(self, sentence: str) -> None:
        assert not states_limitation(sentence)


class TestThemes:
    def test_a_paper_naming_no_concept_goes_to_other(self) -> None:
        texts = [
            PaperText("dpo with margins", "we propose a dpo loss", ""),
            PaperText("simpo revisited", "we study preference optimization", ""),
            PaperText("sepsis triage with records", "we build a triage tool", ""),
        ]

        groups = assign(POST_TRAIN_CONCEPTS, texts, min_size=2, max_themes=8)

        assert [(c.label if c else None, m) for c, m in groups] == [
            ("Preference optimization and DPO", [0, 1]),
            (None, [2]),
        ]

    def test_a_concept_met_only_in_the_findings_does_not_hold_a_paper(self) -> None:
        """ "Mathematical reasoning" held sepsis agents and OCR papers: a term in the
        results is no theme."""
        text = PaperText("ocr for receipts", "we build an ocr pipeline", "it helps math reasoning")
        reasoning = next(c for c in POST_TRAIN_CONCEPTS if c.label == "Reasoning")

        assert not names_concept(reasoning, text)
        groups = assign(POST_TRAIN_CONCEPTS, [text, text], min_size=1, max_themes=8)
        assert groups == [(None, [0, 1])]


class TestLists:
    def test_items_with_and_are_separated_by_semicolons(self) -> None:
        """Not "credit assignment and mathematical reasoning and mathematical reasoning and
        instruction tuning"."""
        text = join_items(["credit assignment", "reasoning and math", "instruction tuning"])

        assert text == "credit assignment; reasoning and math; and instruction tuning"
        assert join_items(["a and b", "c"]) == "a and b, and c"

    def test_the_invented_week_reads_without_ellipses(self) -> None:
        window, papers = load_week(WEEK_A)

        assert "…" not in to_text(synthesize(papers, window))
