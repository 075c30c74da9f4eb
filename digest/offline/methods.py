"""Methodological Approaches: the families of methods the window's papers use, found by
the terms the papers themselves use, each with the papers that use it."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from digest.model import Item
from digest.offline.analysis import WindowAnalysis
from digest.offline.patterns import word_terms
from digest.offline.prose import (
    cite_list,
    clause,
    join,
    limitation,
    plural,
    sentence,
    sentence_mentioning,
    verb_for,
)


@dataclass(frozen=True, slots=True)
class Family:
    name: str
    does: str  # what papers of the family do, completing "N papers ..."
    pattern: re.Pattern[str]


def _family(name: str, does: str, terms: str) -> Family:
    # Matched against lower-cased text: case-insensitive alternations are several times
    # slower in `re`, and there are ~20 families times every paper of the window.
    return Family(name, does, re.compile(rf"\b(?:{terms})\b"))


# Broad enough for any ML topic; a family is reported only when the window's papers use it.
FAMILIES: tuple[Family, ...] = (
    _family(
        "Preference-optimization losses",
        "learn from preference pairs by changing the training loss",
        r"dpo|direct preference optimization|simpo|ipo|kto|orpo|preference optimization|"
        r"preference pairs?|pairwise preferences?|bradley-terry",
    ),
    _family(
        "Policy-gradient RL from verifiable rewards",
        "optimise the policy with reinforcement learning from automatically checked rewards",
        r"grpo|ppo|rlvr|verifiable rewards?|policy gradients?|policy optimization|rollouts?|"
        r"advantage estimat\w*|group relative",
    ),
    _family(
        "Credit assignment and process rewards",
        "decide where in a long response or trajectory the learning signal should land",
        r"credit assignment|process rewards?|process reward models?|prms?|step-level|"
        r"token-level (?:rewards?|advantages?|credit)|dense rewards?|reward shaping|"
        r"intermediate rewards?",
    ),
    _family(
        "Reward models, verifiers and judges",
        "build, calibrate or audit the signal that scores model outputs",
        r"reward models?|reward modeling|verifiers?|llm-as-a-judge|llm-as-judge|judges?|"
        r"rubrics?|generative reward",
    ),
    _family(
        "Supervised and instruction fine-tuning",
        "adapt models on curated demonstrations",
        r"supervised fine-tuning|sft|instruction tuning|instruction-tuned|"
        r"continual instruction",
    ),
    _family(
        "Parameter-efficient adaptation and merging",
        "train a small part of the model, or combine trained models",
        r"lora|adapters?|peft|parameter-efficient|low-rank adaptation|model merging|merging",
    ),
    _family(
        "Data selection, synthesis and curricula",
        "decide which examples to train on, or generate new ones",
        r"data selection|synthetic data|data synthesis|data generation|curriculum|"
        r"data curation|core ?sets?|data mixtures?|rejection sampling|data engineering|"
        r"data scheduling|data organization",
    ),
    _family(
        "Distillation",
        "transfer behaviour from a stronger, larger or privileged teacher",
        r"distill\w*|teacher models?|student models?|self-distillation",
    ),
    _family(
        "Agents, tools and environments",
        "train or test models that act over several steps with tools or in environments",
        r"agents?|agentic|tool use|tool-use|tool calls?|tool-integrated|environments?|"
        r"multi-turn|web navigation|gui",
    ),
    _family(
        "Test-time compute, search and decoding",
        "spend computation at inference time instead of (or besides) training",
        r"test-time|inference-time|decoding|best-of-n|beam search|tree search|"
        r"self-consistency|speculative",
    ),
    _family(
        "Benchmarks and diagnostics",
        "measure model behaviour rather than change it",
        r"benchmarks?|benchmarking|leaderboards?|diagnos\w+|audit\w*|evaluation suite",
    ),
    _family(
        "Safety, robustness and attacks",
        "make models safer or probe how they fail under attack",
        r"safety|jailbreak\w*|harmful|red-team\w*|refusals?|poison\w*|backdoors?|"
        r"adversarial|unlearning|toxicity",
    ),
    _family(
        "Efficiency: quantization, pruning, experts",
        "make models cheaper to train or run",
        r"quantiz\w+|pruning|sparsity|compression|low-bit|kv cache|mixture of experts|moe",
    ),
    _family(
        "Interpretability and representation analysis",
        "look inside models at representations, activations or mechanisms",
        r"interpretab\w+|mechanistic|representations?|activations?|probing|circuits?|"
        r"steering|latent spaces?",
    ),
    _family(
        "Retrieval, memory and long context",
        "bring outside information or long histories into the model",
        r"retrieval|rag|retrieval-augmented|memory|long-context|context windows?",
    ),
    _family(
        "Multimodal and vision-language models",
        "work across text and images, video, speech or other signals",
        r"multimodal|multi-modal|vision-language|mllms?|vlms?|video|visual|speech|audio",
    ),
    _family(
        "Diffusion and generative modelling",
        "generate images, video, 3D or data with diffusion and related models",
        r"diffusion|denoising|flow matching|generative adversarial|gans?",
    ),
    _family(
        "3D, geometry and reconstruction",
        "recover or generate 3D structure, scenes and poses",
        r"3d|point clouds?|reconstruction|gaussian splatting|nerf|pose estimation|depth",
    ),
    _family(
        "Segmentation, detection and recognition",
        "locate and label what is in images, video or signals",
        r"segmentation|object detection|detectors?|recognition",
    ),
)

MAX_FAMILIES = 6


def _singular(term: str) -> str:
    if len(term) <= 3 or not term.endswith("s") or term.endswith(("ss", "is", "us")):
        return term  # "synthesis", "corpus" are singular already
    return term[:-1]


def family_members(analysis: WindowAnalysis, family: Family) -> dict[int, Counter[str]]:
    """Papers using the family, with the family's terms each uses (singular and plural
    counted as one), from what each paper says it does."""
    found: dict[int, Counter[str]] = {}
    hits_of = _all_hits(analysis)
    # Each distinct term is matched once, not once per paper using it.
    terms = {h for h in set().union(*hits_of) if family.pattern.fullmatch(h)}
    for index, hits in enumerate(hits_of):
        own = [h for h in hits if h in terms]
        if own:
            found[index] = Counter(_singular(analysis.casing.phrase(h)) for h in own)
    return found


# Every family's terms in one pattern: one pass over each paper's text finds the terms of
# all families (19 passes cost seconds on a 2,500-paper window); each hit is then given to
# the families whose pattern it matches.
_ANY_FAMILY = word_terms("|".join(f.pattern.pattern[5:-3] for f in FAMILIES))


def _all_hits(analysis: WindowAnalysis) -> list[list[str]]:
    cached = analysis.__dict__.get("_family_hits")
    if cached is None:
        cached = [_ANY_FAMILY.findall(text) for text in analysis.focus_texts_lower]
        analysis.__dict__["_family_hits"] = cached
    return cached


def method_families(analysis: WindowAnalysis) -> list[tuple[Family, dict[int, Counter[str]]]]:
    """The families worth reporting: used by enough papers, but not by nearly all of them
    (a family every paper uses says nothing), most used first."""
    n = len(analysis.papers)
    minimum = max(1 if n < 5 else 2, round(0.05 * n))
    chosen = []
    for family in FAMILIES:
        members = family_members(analysis, family)
        if minimum <= len(members) and (len(members) <= 0.85 * n or n < 5):
            chosen.append((family, members))
    chosen.sort(key=lambda pair: -len(pair[1]))
    return chosen[:MAX_FAMILIES]


def family_item(
    analysis: WindowAnalysis,
    family: Family,
    members: dict[int, Counter[str]],
    names: dict[str, str],
) -> Item:
    papers = analysis.papers
    terms: Counter[str] = Counter()
    for used in members.values():
        terms.update(used.keys())  # papers per term, not mentions
    named = [f"{term} ({count})" for term, count in terms.most_common(4)]
    # The papers that lean on the family most, as examples.
    ranked = sorted(members, key=lambda i: (-sum(members[i].values()), i))
    lowered = [t.lower() for t in terms]
    examples = []
    for index in ranked:
        statement = sentence_mentioning(analysis, index, lowered, names[papers[index].id], 28)
        if statement:
            examples.append((index, clause(statement)))
        if len(examples) == 2:
            break
    verb, _, rest = family.does.partition(" ")
    parts = [f"{plural(len(members), 'paper')} {verb_for(len(members), verb)} {rest}."]
    if len(members) > 1:
        parts.append(f"Terms they use: {join(named)}.")
    if examples:
        parts.append(sentence("For example, " + "; ".join(s for _, s in examples)))
    shown = {i for i, _ in examples}
    unshown = [papers[i].id for i in ranked if i not in shown]
    if unshown:
        parts.append(f"Also: {cite_list(unshown, limit=8)}.")
    for index in ranked:
        caveat = limitation(analysis, index, names[papers[index].id], 30)
        if caveat and any(t in caveat.lower() for t in lowered):
            parts.append(f"A limit stated from inside this family: {caveat}")
            break
    ids = tuple(papers[i].id for i in ranked)
    return Item(f"{family.name} ({plural(len(members), 'paper')})", " ".join(parts), ids)


def methods_section(
    analysis: WindowAnalysis,
    names: dict[str, str],
    families: list[tuple[Family, dict[int, Counter[str]]]],
) -> list[Item]:
    """One item per method family (from `method_families`), or one saying none is shared."""
    if not families and analysis.papers:
        ids = tuple(p.id for p in analysis.papers)
        return [
            Item(
                "No shared method family",
                "The papers of this window do not share any of the method families the "
                f"offline engine recognises: {cite_list(list(ids))}.",
                ids,
            )
        ]
    return [family_item(analysis, family, members, names) for family, members in families]
