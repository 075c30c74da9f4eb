"""Concepts: the named ideas a theme is about, and which papers are about each.

A theme is a concept a researcher would name ("Preference optimization and DPO"), not a
cluster labelled by its most distinctive word fragments. For the built-in post-train topic
the concepts are curated; for any other topic they are learned from the phrases the
window's papers repeat in their titles and contribution sentences. A paper belongs to the
concept its title and contribution sentence name most strongly; a paper that names none
goes to "Other papers" rather than being forced into a theme it does not share.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from digest.offline.patterns import word_terms
from digest.offline.vocabulary import STOP_WORDS, Casing, phrase_analyzer

OTHER = "Other papers"


@dataclass(frozen=True, slots=True)
class Concept:
    """A named idea: its label (a noun phrase of at most five words) and the terms that
    signal it, matched against lower-cased titles and contribution sentences."""

    label: str
    pattern: re.Pattern[str]
    generic: bool = False  # broad concepts ("reasoning") lose ties to specific ones
    # Every match of `pattern` holds one of these strings; () when that is not known. A
    # substring test rules out most texts far faster than the search.
    needles: tuple[str, ...] = ()

    def names(self, text: str) -> bool:
        """Whether the (lower-cased) text names the concept: `pattern.search(text)`."""
        return self.may_name(text) and self.pattern.search(text) is not None

    def may_name(self, text: str) -> bool:
        """False when the text cannot name the concept (it holds none of the needles)."""
        if not self.needles:
            return True
        for needle in self.needles:  # noqa: SIM110 - a loop: no generator on this hot path
            if needle in text:
                return True
        return False


def literal_needles(terms: str) -> tuple[str, ...]:
    """For terms "a|b|c" of a pattern, the literal start of each term ("distill" for
    "distill\\w*", "rollout" for "rollouts?"): every match holds one of them. () when a
    term starts with no literal, or the terms hold a group or an escape."""
    if "(" in terms or "\\" in terms.replace("\\w", ""):
        return ()
    needles = []
    for term in terms.split("|"):
        literal = term
        for at, char in enumerate(term):
            if char in "\\[.^$+":
                literal = term[:at]
                break
            if char in "?*{":  # the character before may be absent
                literal = term[: at - 1]
                break
        if not literal:
            return ()
        needles.append(literal)
    return _fewest(needles)


def _fewest(needles: list[str]) -> tuple[str, ...]:
    """The needles without any that holds another (a text holding "reward modeling" holds
    "reward model"): the same test with fewer substring searches."""
    unique = list(dict.fromkeys(needles))
    return tuple(n for n in unique if not any(o != n and o in n for o in unique))


def _concept(label: str, terms: str, generic: bool = False) -> Concept:
    return Concept(label, word_terms(terms), generic, literal_needles(terms))


# The built-in post-train topic. Order breaks ties: the more specific concept first.
POST_TRAIN_CONCEPTS: tuple[Concept, ...] = (
    _concept(
        "Preference optimization and DPO",
        r"dpo|direct preference optimi[sz]ation|preference optimi[sz]ation|simpo|kto|orpo|"
        r"ipo|preference pairs?|pairwise preferences?|bradley-terry|preference learning|"
        r"preference alignment|preference data|rlhf|human feedback",
    ),
    _concept(
        "RL with verifiable rewards",
        r"grpo|rlvr|verifiable rewards?|ppo|group relative|policy optimi[sz]ation|"
        r"reinforcement learning|policy gradients?|rollouts?|on-policy|off-policy|"
        r"advantage estimation|credit assignment|rl",
    ),
    _concept(
        "Reward models and judges",
        r"reward models?|reward modeling|reward modelling|llm-as-a-judge|llm-as-judge|"
        r"judges?|verifiers?|rubrics?|process rewards?|prms?|reward hacking|generative rewards?",
    ),
    _concept(
        "Distillation",
        r"distill\w*|teacher models?|student models?|teachers?",
    ),
    _concept(
        "Data selection and synthesis",
        r"data selection|synthetic data|data synthesis|curriculum|data curation|"
        r"data generation|data mixtures?|data quality|training data|instruction data|"
        r"data-efficient|datasets? construction|corpus construction|synthesi[sz]ed data",
    ),
    _concept(
        "Agents and tool use",
        r"agents?|agentic|tool use|tool-use|tool calls?|tool calling|tool-integrated|"
        r"web navigation|gui|multi-turn|search agents?|deep research",
    ),
    _concept(
        "Safety and alignment",
        r"safety|safe|jailbreak\w*|harmful|harmlessness|refusals?|red-team\w*|poison\w*|"
        r"backdoors?|misalignment|misaligned|unlearning|sycophan\w*|decepti\w+|toxicity|"
        r"privacy|attacks?|adversarial",
    ),
    _concept(
        "Multilingual models",
        r"multilingual|cross-lingual|crosslingual|low-resource languages?|translation|"
        r"non-english|languages",
    ),
    _concept(
        "Multimodal models",
        r"multimodal|multi-modal|vision-language|vlms?|mllms?|visual|images?|video|speech|"
        r"audio|vision",
    ),
    _concept(
        "Efficiency and compression",
        r"quantiz\w*|pruning|sparsity|compression|low-bit|kv cache|kv-cache|lora|peft|"
        r"parameter-efficient|low-rank|mixture of experts|moe|inference cost|latency|"
        r"speedups?|token-efficient|compute-efficient|memory footprint",
    ),
    _concept(
        "Supervised fine-tuning",
        r"supervised fine-tuning|sft|instruction tuning|instruction-tuned|fine-tuning|"
        r"finetuning|fine-tuned",
        generic=True,
    ),
    _concept(
        "Evaluation and benchmarks",
        r"benchmarks?|evaluation|evaluating|leaderboards?|diagnos\w+|audit\w*|"
        r"measur\w+|empirical study",
        generic=True,
    ),
    _concept(
        "Reasoning",
        r"reasoning|chain-of-thought|cot|math\w*|thinking|problem solving",
        generic=True,
    ),
)

TITLE_WEIGHT = 3.0  # the title is the authors' own summary
CONTRIBUTION_WEIGHT = 2.0
FINDING_WEIGHT = 1.0


@dataclass(frozen=True, slots=True)
class PaperText:
    """What a paper says about itself: its title and its contribution and finding
    sentences, lower-cased."""

    title: str
    contribution: str
    finding: str


def _score(concept: Concept, text: PaperText, head: str) -> float:
    """How strongly the paper names the concept; `head` is its title and contribution
    joined by "\x00" (no needle spans it), tested first as one text."""
    if not concept.may_name(head):
        return 0.0
    names = concept.names
    named = TITLE_WEIGHT * names(text.title) + CONTRIBUTION_WEIGHT * names(text.contribution)
    # Findings only strengthen a concept the title or contribution names (one met only
    # among the findings never holds a paper), so they are not searched otherwise.
    return named + FINDING_WEIGHT * names(text.finding) if named else 0.0


def names_concept(concept: Concept, text: PaperText) -> bool:
    """Whether the paper's title or contribution sentence names the concept (the test a
    theme's members must pass for the theme to be coherent)."""
    return concept.names(text.title) or concept.names(text.contribution)


def assign(
    concepts: Sequence[Concept],
    texts: Sequence[PaperText],
    min_size: int,
    max_themes: int,
) -> list[tuple[Concept | None, list[int]]]:
    """Papers grouped by the concept each names most strongly, largest group first; papers
    naming none, or only concepts too rare to be a theme, form the last group (None)."""
    heads = [f"{t.title}\x00{t.contribution}" for t in texts]
    scores = [[_score(c, t, head) for c in concepts] for t, head in zip(texts, heads, strict=True)]
    allowed = set(range(len(concepts)))
    while True:
        groups: dict[int, list[int]] = {}
        others: list[int] = []
        for index, row in enumerate(scores):
            best = _best(concepts, row, allowed, texts[index])
            if best is None:
                others.append(index)
            else:
                groups.setdefault(best, []).append(index)
        ranked = sorted(groups, key=lambda c: (-len(groups[c]), c))
        # Over the limit, broad concepts ("Reasoning") give way before specific ones of a
        # similar size ("Preference optimization and DPO"): their papers usually name a
        # specific concept too.
        keep = sorted(
            groups, key=lambda c: (-len(groups[c]) * (0.5 if concepts[c].generic else 1.0), c)
        )
        small = {c for c in ranked if len(groups[c]) < min_size} | set(keep[max_themes:])
        if not small:
            break
        # Drop the smallest themes and give their papers to their next-best concept.
        allowed -= small
    ordered: list[tuple[Concept | None, list[int]]] = [(concepts[c], groups[c]) for c in ranked]
    if others:
        ordered.append((None, others))
    return ordered


def _best(
    concepts: Sequence[Concept], row: list[float], allowed: set[int], text: PaperText
) -> int | None:
    best, best_key = None, (0.0, 0)
    for c in allowed:
        # Only a concept the title or contribution sentence names can hold the paper: a
        # term met only among the findings is too weak a tie.
        if row[c] <= 0:
            continue
        key = (row[c] - (0.5 if concepts[c].generic else 0.0), -c)
        if best is None or key > best_key:
            best, best_key = c, key
    return best


# -- learned concepts for custom topics ----------------------------------------------------

# Words that make a poor theme on their own even when frequent.
_WEAK_HEADS = frozenset(
    """
    accuracy evidence text mean means quality information knowledge reasoning training
    learning inference generation understanding prediction detection representation
    representations system systems tool tools modeling modelling feature features
    structure structures performance robustness control design process signal signals
    output outputs input inputs content context behavior behaviour domain domains
    gap gaps human humans pipeline pipelines space spaces token tokens architecture
    architectures object objects scene scenes level levels image images video videos
    model data approach way
    """.split()
)
_ADJECTIVE_ENDINGS = ("al", "ic", "ive", "ous", "able", "ible", "ent", "ant", "ar", "ary")


def learn_concepts(
    texts: Sequence[PaperText], casing: Casing, limit: int, min_size: int
) -> list[Concept]:
    """Concepts for a topic without a curated list: the phrases the window's papers repeat
    in their titles and contribution sentences, picked greedily so that each new concept
    covers papers the earlier ones did not. Multi-word phrases and coined terms first;
    generic words ("accuracy", "text", "mean") are not concepts."""
    analyze = phrase_analyzer(3)
    n = len(texts)
    documents = [set(analyze(f"{t.title}. {t.contribution}")) for t in texts]
    frequency: Counter[str] = Counter()
    heads: Counter[str] = Counter()  # papers using a word as the head of a phrase
    for doc in documents:
        frequency.update(doc)
        heads.update({p.rsplit(" ", 1)[1] for p in doc if p.count(" ") == 1})
    ceiling = max(min_size, int(0.3 * n))
    candidates: list[tuple[float, str]] = []
    for phrase, count in frequency.items():
        if count < min_size or count > ceiling:
            continue
        words = phrase.split()
        coined = casing.phrase(phrase) != phrase
        if (
            len(words) == 1
            and not coined
            and (words[0] in _WEAK_HEADS or words[0].endswith(_ADJECTIVE_ENDINGS))
        ):
            continue  # "semantic", "visual", "accuracy": not a theme a researcher names
        if len(words) == 1 and (len(phrase) <= 2 or phrase.endswith(("ing", "ed", "ly"))):
            continue
        if len(words) == 1 and not coined and heads[phrase] < 0.25 * count:
            continue  # not a noun papers build phrases on ("robust", "construct")
        if any(w in STOP_WORDS for w in words) or words[-1].endswith(("ed", "ly")):
            continue
        if words[0].endswith(("ed", "ly")) or len(set(words)) < len(words):
            continue
        # A lone word must be far more frequent than a phrase to win: "image" says less
        # than "image generation"; a coined term ("LLM", "3D") names a field by itself.
        weight = {1: 0.5, 2: 1.6, 3: 2.0}[len(words)] + (0.6 if coined else 0.0)
        candidates.append((count * weight, phrase))
    candidates.sort(key=lambda pair: (-pair[0], pair[1]))
    chosen: list[str] = []
    covered: set[int] = set()
    for _, phrase in candidates[: 40 * limit]:
        if len(chosen) >= limit:
            break
        stem = _stem(phrase)
        if any(_stem(p) == stem or phrase in p or p in phrase for p in chosen):
            continue
        members = {i for i, doc in enumerate(documents) if phrase in doc}
        if len(members - covered) < min_size:
            continue  # mostly the same papers as a concept already chosen
        chosen.append(phrase)
        covered |= members
    return [_learned(phrase, casing) for phrase in chosen]


def _stem(phrase: str) -> str:
    return " ".join(w[:-1] if w.endswith("s") and len(w) > 3 else w for w in phrase.split())


def _learned(phrase: str, casing: Casing) -> Concept:
    forms = sorted({phrase, _stem(phrase), _stem(phrase) + "s"}, key=len)[::-1]
    terms = "|".join(re.escape(p) for p in forms)
    return Concept(casing.heading(phrase), re.compile(rf"\b(?:{terms})\b"), needles=_fewest(forms))
