"""Short names: recognisable, never invented, never a fragment, distinct within a digest.

The real titles come from ../shared/data/arxiv (skipped where absent); the pinned examples
are titles from those feeds and from the example digest, so they run everywhere.
"""

from __future__ import annotations

import re

import pytest

from digest.feed import read_feed_file
from digest.shortnames import MAX_CHARS, is_broken, is_fragment, short_name, short_names
from storage import Paper
from tests.support.papers import make_paper
from tests.support.paths import SHARED_ARXIV

REAL_FEEDS = (
    "feeds/post-train_2026-05-13_to_05-19.atom.xml",
    "feeds/post-train_2026-05-28_to_06-03.atom.xml",
    "feeds/listings_2026-05-14_to_05-21_all.atom.xml",
    "atom_2026-07-13_cat-cs.AI-OR-cs.LG_newest_50entries.xml",
)
# Names longer than MAX_CHARS that are accepted on purpose: one, "Uncertainty Quantification
# (Distribution-Free)", two papers' shared name told apart by a tag; trimmed to fit it read
# "Quantification (Distribution-Free)".
LONG_NAME_EXCEPTIONS = 1

# Abbreviations short_name() substitutes for a title's long form: allowed in a name when the
# long form is in the title.
_LONG_FORMS = {
    "llm": r"large language model",
    "llms": r"large language models",
    "lms": r"language models",
    "vlms": r"vision-+language models",
    "mllms": r"multi-?modal large language models?",
}


def _plain(text: str) -> str:
    """Text without LaTeX markup, lower-cased: what a name's words are compared against."""
    text = re.sub(r"\\[a-zA-Z]+", "", text)
    return re.sub(r"[${}^_\\]", "", text).replace("’", "'").lower()


def _words(text: str) -> list[str]:
    return [w for w in re.split(r"[\W_]+", _plain(text)) if w]


def invented_words(paper: Paper, name: str) -> list[str]:
    """Words of `name` that its paper's title does not contain (the disambiguating surname or
    id that short_names() appends, and documented abbreviations, excepted)."""
    surname = paper.authors[0].split()[-1] if paper.authors else paper.id
    name = name.removesuffix(f" [{paper.id}]").removesuffix(f" ({surname})")
    title = _plain(paper.title)
    present = set(_words(paper.title))
    return [
        w
        for w in _words(name)
        if w not in present and not (w in _LONG_FORMS and re.search(_LONG_FORMS[w], title))
    ]


@pytest.fixture(scope="module")
def real_feeds() -> dict[str, tuple[list[Paper], dict[str, str]]]:
    """Each real feed's papers and their short names, computed once for the module."""
    if not SHARED_ARXIV.is_dir():
        pytest.skip(f"real arXiv data not present at {SHARED_ARXIV} (only in the dev workspace)")
    out = {}
    for name in REAL_FEEDS:
        papers = read_feed_file(SHARED_ARXIV / name).results
        out[name] = (papers, short_names(papers))
    return out


class TestRealTitles:
    @pytest.mark.parametrize("feed", REAL_FEEDS)
    def test_every_paper_gets_a_readable_name(
        self, feed: str, real_feeds: dict[str, tuple[list[Paper], dict[str, str]]]
    ) -> None:
        """Every real title gets a non-empty name that is not a fragment."""
        papers, names = real_feeds[feed]

        assert set(names) == {p.id for p in papers}
        assert all(names[p.id].strip() for p in papers)
        fragments = [(names[p.id], p.title) for p in papers if is_fragment(names[p.id])]
        assert fragments == []

    @pytest.mark.parametrize("feed", REAL_FEEDS)
    def test_names_are_distinct_within_a_feed(
        self, feed: str, real_feeds: dict[str, tuple[list[Paper], dict[str, str]]]
    ) -> None:
        """No two papers of one feed share a name, ignoring case."""
        papers, names = real_feeds[feed]

        lowered = [names[p.id].lower() for p in papers]
        assert len(set(lowered)) == len(lowered)

    @pytest.mark.parametrize("feed", REAL_FEEDS)
    def test_names_are_never_invented(
        self, feed: str, real_feeds: dict[str, tuple[list[Paper], dict[str, str]]]
    ) -> None:
        """Every word of a name occurs in its title (LaTeX and punctuation ignored)."""
        papers, names = real_feeds[feed]

        invented = {names[p.id]: p.title for p in papers if invented_words(p, names[p.id])}
        assert invented == {}

    def test_names_fit_max_chars(
        self, real_feeds: dict[str, tuple[list[Paper], dict[str, str]]]
    ) -> None:
        """Names are at most 40 characters, with LONG_NAME_EXCEPTIONS (1) allowed."""
        too_long = [
            name
            for papers, names in real_feeds.values()
            for name in names.values()
            if len(name) > MAX_CHARS
        ]
        assert MAX_CHARS == 40
        assert len(too_long) <= LONG_NAME_EXCEPTIONS, too_long[:10]

    def test_pinned_names_in_their_feed(
        self, real_feeds: dict[str, tuple[list[Paper], dict[str, str]]]
    ) -> None:
        """The feeds' coined names survive de-duplication within their whole feed."""
        _, names = real_feeds["feeds/post-train_2026-05-28_to_06-03.atom.xml"]
        by_name = set(names.values())

        expected = {"MusaCoder", "GRAIL", "BiasGRPO", "StepPRM-RTL", "Draft-OPD", "Aryabhata 2"}
        assert expected | {"D3", "DPO Recipe"} <= by_name
        _, earlier = real_feeds["feeds/post-train_2026-05-13_to_05-19.atom.xml"]
        assert "Cross-Modal Skill Injection" in earlier.values()


PREFIX_NAMES = [
    (
        "MusaCoder: Native GPU Kernel Generation with Full-Stack Training on Moore Threads GPU",
        "MusaCoder",
    ),
    (
        "GRAIL: Gradient-Reweighted Advantages for Reinforcement Learning with Verifiable Rewards",
        "GRAIL",
    ),
    (
        "BiasGRPO: Stabilizing Bias Mitigation in High-Variance Reward Landscapes via "
        "Group-Relative Policy Optimization",
        "BiasGRPO",
    ),
    (
        "StepPRM-RTL: Stepwise Process-Reward Guided LLM Fine-Tuning for Enhanced RTL Synthesis",
        "StepPRM-RTL",
    ),
    ("Draft-OPD: On-Policy Distillation for Speculative Draft Models", "Draft-OPD"),
    ("Aryabhata 2: Scaling Reinforcement Learning for Advanced STEM Reasoning", "Aryabhata 2"),
    ("D$^3$: Dynamic Directional Graph-Constrained Data Scheduling for LLM Training", "D3"),
    ("GUI-CIDER: Causal Interaction Data for Training GUI Agents", "GUI-CIDER"),
    ("PEFT-Arena: Measuring What Fine-Tuning Forgets", "PEFT-Arena"),
]
PHRASE_NAMES = [
    (
        "Recovering Diversity Without Losing Alignment: A DPO Recipe for Post-Trained LLMs",
        "DPO Recipe",
    ),
    (
        "Investigating Cross-Modal Skill Injection: Scenarios, Methods, and Hyperparameters",
        "Cross-Modal Skill Injection",
    ),
]


class TestPinnedNames:
    @pytest.mark.parametrize(("title", "expected"), PREFIX_NAMES)
    def test_a_coined_prefix_is_the_name(self, title: str, expected: str) -> None:
        """The prefix before the colon, LaTeX removed, is the name when it is a coined one."""
        assert short_name(title) == expected

    @pytest.mark.parametrize(("title", "expected"), PHRASE_NAMES)
    def test_otherwise_the_head_phrase(self, title: str, expected: str) -> None:
        """Without a coined prefix, the name is the title's head noun phrase."""
        assert short_name(title) == expected

    def test_the_distinctive_phrase_wins_over_a_generic_one(self) -> None:
        """ "Auditing LLM Benchmarks with Item Response Theory" -> "Item Response Theory"."""
        assert short_name("Auditing LLM Benchmarks with Item Response Theory") == (
            "Item Response Theory"
        )


class TestNoFragments:
    @pytest.mark.parametrize(
        "title",
        [
            "It's Not the Reward: Credit Assignment in Long Horizons",
            "It’s Not About Size: Why Small Critics Win",
            "It's Not Forgetting, It's Drift: Auditing Post-Training Retention",
            "It's All in the Prompt",
        ],
    )
    def test_contractions_never_split(self, title: str) -> None:
        """ "It's Not X: Y" never gives "It s" or any name with a one-letter word."""
        name = short_name(title)

        assert name != "It s"
        assert not re.search(r"\bIt s\b", name)
        assert not is_fragment(name)

    @pytest.mark.parametrize(
        "title",
        [
            "What Makes Medical Reasoning Verifiable?",
            "What Makes Medical Reasoning Verifiable? A Study of Clinical Rubrics",
            "What Makes Reward Models Robust?",
        ],
    )
    def test_questions_do_not_yield_verb_fragments(self, title: str) -> None:
        """ "What Makes Medical Reasoning Verifiable?" never gives "Makes Medical"."""
        name = short_name(title)

        assert not name.lower().startswith("makes")
        assert not is_fragment(name)

    def test_is_fragment_spots_broken_names(self) -> None:
        """is_fragment flags the example digest's broken names and passes real ones."""
        assert is_fragment("It s")
        assert is_fragment("Makes Medical")
        assert is_fragment("of Agents")
        assert is_fragment("")
        assert not is_fragment("GRAIL")
        assert not is_fragment("DPO Recipe")


class TestDistinctNames:
    def test_same_title_different_first_authors(self) -> None:
        """Two papers with the same title get different names (the first author's surname)."""
        title = "VISTA: Video Instruction Tuning at Scale"
        papers = [
            make_paper("2606.00201", title=title, authors=("Mei Chen",)),
            make_paper("2606.00202", title=title, authors=("Oskar Lind",)),
        ]

        names = short_names(papers)

        assert names["2606.00201"] != names["2606.00202"]
        assert names == {"2606.00201": "VISTA (Chen)", "2606.00202": "VISTA (Lind)"}

    def test_same_title_same_author_falls_back_to_the_id(self) -> None:
        """Same title and same first author: the arXiv id tells them apart."""
        title = "Reward Hacking in Verifier Loops"
        papers = [
            make_paper("2606.00301", title=title, authors=("Ada Lovelace",)),
            make_paper("2606.00302", title=title, authors=("Ada Lovelace",)),
        ]

        names = short_names(papers)

        assert len({n.lower() for n in names.values()}) == 2
        assert all(p.id in names[p.id] for p in papers)

    def test_clashing_phrases_of_different_titles_stay_distinct(self) -> None:
        """Different titles whose phrase names clash still get distinct, uninvented names."""
        papers = [
            make_paper("2606.00401", title="Process Reward Models for Long Mathematical Proofs"),
            make_paper("2606.00402", title="Process Reward Models for Long Agent Trajectories"),
        ]

        names = short_names(papers)

        assert len({n.lower() for n in names.values()}) == 2
        assert all(not invented_words(p, names[p.id]) for p in papers)

    def test_different_titles_are_told_apart_by_their_words(self) -> None:
        """Two different titles with the same head phrase differ by title words, not by ids."""
        papers = [
            make_paper("2606.00401", title="Process Reward Models for Long Mathematical Proofs"),
            make_paper("2606.00402", title="Process Reward Models for Long Agent Trajectories"),
        ]

        names = short_names(papers)

        assert not any(p.id in names[p.id] for p in papers), names
        assert all(len(n) <= MAX_CHARS for n in names.values()), names


class TestIssue12Names:
    """Every short-name case the review of the offline digest found, and the real titles
    of ../shared/data/arxiv that showed each kind of defect."""

    @pytest.mark.parametrize(
        ("title", "expected"),
        [
            # A coined name glued to its subtitle by a bare colon: the name, no subtitle.
            ("EchoDistill:Alignment of Noisy-to-Clean Self-Distillation", "EchoDistill"),
            # 2605.30727
            (
                "MosaicLeaks:Privacy Risks in Querying-in-the-Open for Deep Research Agents",
                "MosaicLeaks",
            ),
            # A title-cased prefix with a function word inside is still the paper's name.
            ("Plan Before Search: Search Agents Need Plans", "Plan Before Search"),
            # 2606.03437: a claim with no name reads as its opening words, not one adjective.
            (
                "Large Language Models Are Overconfident in Their Own Responses",
                "LLMs Are Overconfident",
            ),
            # A verb-led tail of a claim loses its verb.
            (
                "Teaching Language Models to Check Grounded Claim Factuality with Human "
                "Test-Taking Strategies",
                "Grounded Claim Factuality",
            ),
            # 2606.00291: a long compound head keeps its modifier.
            (
                "The Representation-Rationalizability Tradeoff in Reward Learning",
                "Representation-Rationalizability Tradeoff",
            ),
            # A cut never starts on a function word.
            (
                "Score-Control for Hallucination Reduction in Diffusion Models",
                "Hallucination Reduction",
            ),
        ],
    )
    def test_cases_from_the_review(self, title: str, expected: str) -> None:
        name = short_name(title)

        assert name == expected
        assert not is_broken(name, title)

    @pytest.mark.parametrize(
        ("name", "title"),
        [
            ("EchoDistill:Alignment", "EchoDistill:Alignment of Noisy-to-Clean Self-Distillation"),
            ("Unlocks Task-Oriented Behavior", "Tool Use Unlocks Task-Oriented Behavior in LLMs"),
            ("Make Worse Forecasts", "Reasoning Models Make Worse Forecasts Than You Think"),
            ("Overconfident", "Large Language Models Are Overconfident in Their Own Responses"),
            ("Curated Dataset", "A Curated Dataset of Dialogues"),
            (
                "Training Objectives",
                "From Context Shift to Stylistic Collapse: Why Training Objectives Matter More "
                "Than Scale",
            ),
            ("It s", "It's Not the Data, It's the Objective"),
        ],
    )
    def test_is_broken_spots_each_kind(self, name: str, title: str) -> None:
        assert is_broken(name, title)

    def test_a_coined_colon_prefix_is_never_broken(self) -> None:
        """ "Mistletoe: ..." is a name even though it is one plain word."""
        title = "Mistletoe: Stealthy Acceleration-Collapse Attacks on Speculative Decoding"

        assert short_name(title) == "Mistletoe"
        assert not is_broken("Mistletoe", title)

    def test_a_dpo_paper_is_not_named_by_a_lone_generic_word(self) -> None:
        """Two papers whose best phrase is "Optimization" are not told apart as
        "Optimization (English-Mandarin)": the name itself must say something."""
        papers = [
            make_paper(
                "2606.00001",
                title="Direct Preference Optimization for English-Mandarin Code-Switching",
            ),
            make_paper("2606.00002", title="Direct Preference Optimization for Low-Resource MT"),
        ]
        names = short_names(papers)

        assert all(not is_broken(n, p.title) for n, p in zip(names.values(), papers, strict=True))
        assert not any(n.startswith("Optimization") for n in names.values())

    @pytest.mark.parametrize("feed", REAL_FEEDS)
    def test_no_broken_name_in_a_real_feed(
        self, feed: str, real_feeds: dict[str, tuple[list[Paper], dict[str, str]]]
    ) -> None:
        """At most one broken name in a whole real feed (the 2,489-paper listings have one:
        "volatility", of a lower-case title with no noun phrase of its own)."""
        papers, names = real_feeds[feed]

        broken = [(names[p.id], p.title) for p in papers if is_broken(names[p.id], p.title)]
        assert len(broken) <= (1 if "listings" in feed else 0), broken
