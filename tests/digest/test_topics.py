"""Topics: the generated arXiv query and the local matcher."""

from __future__ import annotations

import re

import pytest

from digest.errors import UnknownTopic
from digest.topics import POST_TRAIN, Topic, TopicCatalog
from tests.support.paths import SHARED_ARXIV

# Our own record of the built-in query, so the check also runs where ../shared is absent.
POST_TRAIN_QUERY = (
    '(cat:cs.CL OR cat:cs.AI OR cat:cs.LG) AND ((ti:"llm" OR abs:"llm" OR ti:"large language '
    'model" OR abs:"large language model" OR ti:"large language models" OR abs:"large language '
    'models") AND (ti:"post-training" OR abs:"post-training" OR ti:"post training" OR abs:"post '
    'training" OR ti:"instruction tuning" OR abs:"instruction tuning" OR ti:"supervised '
    'fine-tuning" OR abs:"supervised fine-tuning" OR ti:"sft" OR abs:"sft" OR ti:"preference '
    'optimization" OR abs:"preference optimization" OR ti:"direct preference optimization" OR '
    'abs:"direct preference optimization" OR ti:"dpo" OR abs:"dpo" OR ti:"rlhf" OR abs:"rlhf" '
    'OR ti:"rlaif" OR abs:"rlaif" OR ti:"grpo" OR abs:"grpo" OR ti:"reward model" OR abs:"reward '
    'model" OR ti:"reward modeling" OR abs:"reward modeling"))'
)


class TestQuery:
    def test_post_train_query_is_exactly_the_example_digests(self) -> None:
        example = SHARED_ARXIV.parent.parent / "seed" / "digest-example.txt"
        if not example.is_file():
            pytest.skip(f"the example digest is not present at {example}")
        text = example.read_text(encoding="utf-8")
        printed = text.split("- arXiv Query:", 1)[1].strip()
        assert POST_TRAIN.query() == printed

    def test_post_train_query_matches_our_record(self) -> None:
        assert POST_TRAIN.query() == POST_TRAIN_QUERY

    def test_window_query_appends_the_submission_range(self) -> None:
        query = POST_TRAIN.window_query("202605280000", "202606032359")
        assert query == POST_TRAIN_QUERY + " AND submittedDate:[202605280000 TO 202606032359]"

    def test_exclude_uses_andnot_and_categories_are_optional(self) -> None:
        topic = Topic("t", "T", (), (("diffusion",),), exclude=("survey", "review"))
        assert topic.query() == (
            '((ti:"diffusion" OR abs:"diffusion")) ANDNOT '
            '(ti:"survey" OR abs:"survey" OR ti:"review" OR abs:"review")'
        )

    def test_categories_only(self) -> None:
        assert Topic("t", "T", ("cs.CV",), ()).query() == "(cat:cs.CV)"


class TestMatches:
    def test_needs_a_phrase_of_every_group_and_a_category(self) -> None:
        abstract = "We post-train a large language model with DPO."
        assert POST_TRAIN.matches("Title", abstract, ["cs.CL"])
        assert not POST_TRAIN.matches("Title", abstract, ["cs.CV"])
        assert not POST_TRAIN.matches("Title", "We post-train a vision model.", ["cs.CL"])

    def test_phrases_fold_plurals_hyphens_and_case(self) -> None:
        assert POST_TRAIN.matches("Reward Models for LLMs", "Post Training.", ["cs.LG"])

    def test_words_must_be_whole(self) -> None:
        """'sft' must not match inside 'softer', nor 'llm' inside 'llmish'."""
        assert not POST_TRAIN.matches("Softer llmish things", "nothing", ["cs.CL"])

    def test_exclude_wins(self) -> None:
        topic = Topic("t", "T", (), (("diffusion",),), exclude=("survey",))
        assert topic.matches("Diffusion models", "", [])
        assert not topic.matches("A survey of diffusion", "", [])


class TestCatalog:
    def test_config_topics_extend_and_override_builtins(self) -> None:
        mine = Topic("post-train", "Mine", ("cs.CL",), (("sft",),))
        extra = Topic("vision", "Vision", ("cs.CV",), ())
        catalog = TopicCatalog.with_builtins([mine, extra])
        assert catalog.names() == ["post-train", "vision"]
        assert catalog.get("post-train").title == "Mine"

    def test_unknown_topic_lists_known_ones(self) -> None:
        with pytest.raises(UnknownTopic, match=re.escape("known topics: post-train")):
            TopicCatalog.with_builtins().get("post-trian")


class TestFastMatcher:
    """`Topic.matches` skips the fold when a cheap substring test rules a paper out; it must
    answer exactly as the fold alone does."""

    @staticmethod
    def folded_only(topic: Topic, title: str, abstract: str, categories: tuple[str, ...]) -> bool:
        from digest.topics import _folded, _folded_phrase

        if topic.categories and not set(categories) & set(topic.categories):
            return False
        text = _folded(f"{title} {abstract}")
        if any(_folded_phrase(p) in text for p in topic.exclude):
            return False
        return all(any(_folded_phrase(p) in text for p in group) for group in topic.include)

    # Words close to the topic's phrases: plurals, hyphens, case, run-together, prefixes.
    PIECES = (
        "LLM",
        "LLMs",
        "llms.",
        "large",
        "Language",
        "models",
        "model",
        "post-training",
        "Post",
        "training",
        "posttraining",
        "SFT",
        "sfts",
        "(SFT)",
        "DPO-style",
        "rlhf",
        "reward",
        "Reward-Modeling",
        "modelings",
        "instruction",
        "tuning;",
        "fine-tuning",
        "supervised",
        "preference",
        "optimization",
        "grpo",
        "the",
        "a",
        "--",
        "’s",
        "Ünïcode",
    )

    def test_agrees_with_the_fold_on_generated_texts(self) -> None:
        import random

        rng = random.Random(16)
        topic = Topic(
            name="t",
            title="T",
            categories=("cs.CL", "cs.LG"),
            include=POST_TRAIN.include,
            exclude=("reward hacking", "sfts"),
        )
        hits = 0
        for _ in range(4000):
            title = " ".join(rng.choices(self.PIECES, k=rng.randint(1, 6)))
            abstract = rng.choice(["", " ", "\n"]).join(
                rng.choices(self.PIECES, k=rng.randint(0, 12))
            )
            categories = rng.choice([("cs.CL",), ("cs.AI",), ("math.CO", "cs.LG")])
            for candidate in (topic, POST_TRAIN):
                expected = self.folded_only(candidate, title, abstract, categories)
                assert candidate.matches(title, abstract, categories) == expected, (title, abstract)
                hits += expected
        assert hits > 100  # the generated texts do reach the matching branch

    def test_agrees_with_the_fold_on_the_real_listings(self, shared_arxiv) -> None:
        from digest.feed import read_feed_file

        feed = read_feed_file(shared_arxiv / "feeds" / "listings_2026-05-14_to_05-21_all.atom.xml")
        for paper in feed.results:
            expected = self.folded_only(POST_TRAIN, paper.title, paper.abstract, paper.categories)
            assert POST_TRAIN.matches(paper.title, paper.abstract, paper.categories) == expected
