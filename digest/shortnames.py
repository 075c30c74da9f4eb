"""Short names: how a digest refers to a paper so that a reader recognises it.

The title's prefix before a colon when that prefix is a name ("MedGuideX", "GUI-CIDER");
otherwise the head noun phrase of the title ("Recovering Diversity ...: A DPO Recipe for
Post-Trained LLMs" -> "DPO Recipe"). Never a fragment that starts or ends on a function word,
never a split contraction, and never the same name for two papers of one digest.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from storage import Paper

MAX_WORDS = 4
MAX_CHARS = 40

# Function words: a name never starts or ends on one, and phrases break at them. The verbs
# at the end are ones titles use between a subject and a claim ("X Aligns Y", "X Enables Y").
_STOP = frozenset(
    """
    a an the and or but nor of in on at to for from by with via without within into onto
    over under through across between among against about as than then so is are was
    were be been being do does did can could should would will shall may might must not
    no its it's it their our your his her we you they i this that these those which what
    when where why how who whom whose while toward towards beyond vs versus own more
    most less least very just only also even both each every all any some such using
    based upon per after before during until unless whether if aligns enables meets
    matter matters improves helps makes beats outperforms reveals shows yields drives
    boosts works fails learns needs leads reduces unlocks unlock make elicits induces
    shapes turns teaches hurts harms breaks fools steers scales generalizes transfers
    predicts explains emerges remains becomes gets knows thinks sees says talks want
    wants need are is be
    """.split()
)
# Verbs that lead a title's claim ("... Unlocks Task-Oriented Behavior"): a name never
# starts with one.
_CLAIM_VERBS = frozenset(
    """
    unlocks unlock make makes made elicits elicit induces induce shapes shape turns turn
    teaches teach hurts hurt harms harm breaks break fools fool steers steer scales scale
    generalizes generalize transfers transfer predicts predict explains explain improves
    improve helps help beats beat reveals reveal shows show yields yield drives drive
    boosts boost works work fails fail learns learn needs need leads lead reduces reduce
    enables enable aligns align matter matters check checks know knows think thinks
    """.split()
)
# Words that open a title rhetorically: a prefix starting with one is a claim, not a name.
_RHETORICAL = frozenset(
    """
    towards toward beyond from what why how when where which who the a an on in is are
    can do does
    """.split()
)
# Verbs that open a title ("Mitigating X", "Towards X"); the name is in what follows them.
_LEAD = _RHETORICAL | frozenset(
    """
    rethinking revisiting understanding investigating exploring evaluating measuring
    benchmarking probing mitigating improving enhancing boosting teaching unlocking
    harnessing leveraging bridging imbuing distilling consolidating recovering
    reconciling demystifying diagnosing detecting reducing simulating adapting
    agentifying auditing nudging make making
    """.split()
)
# Words that say nothing about which paper it is when they are all a phrase has.
_GENERIC = frozenset(
    """
    large language model models llm llms mllm mllms lm lms language multimodal multi-
    modal vision-language vlm vlms agent agents ai system systems approach approaches
    method methods framework frameworks study studies analysis paper novel new
    reinforcement learning training fine-tuning reasoning evaluation evaluating
    comparative comprehensive empirical systematic investigation case objective
    objectives dataset datasets curated data benchmark optimization alignment
    """.split()
)
_GENERIC_NAMES = frozenset(
    """
    position survey review tutorial overview perspective introduction preprint report
    abstract summary note comment erratum
    """.split()
)
_ABBREVIATIONS = (
    (re.compile(r"\bMulti-?modal Large Language Models?\b", re.I), "MLLMs"),
    (re.compile(r"\bLarge Language Models\b", re.I), "LLMs"),
    (re.compile(r"\bLarge Language Model\b", re.I), "LLM"),
    (re.compile(r"\bVision-Language Models\b", re.I), "VLMs"),
    (re.compile(r"(?<![-\w])Language Models\b", re.I), "LMs"),
)
_TOKEN = re.compile(r"[^\s;:!?()\[\]\"“”]+")
_BREAK = "\x00"  # a comma ends a phrase as a function word does
_SEPARATORS = re.compile(r"\s*(?::\s|\?\s|\s--\s|\s—\s|\s–\s)\s*")
# "EchoDistill:Alignment ..." -- a coined name glued to its subtitle by a bare colon.
_GLUED = re.compile(r"^([^\s:]{2,40}):(?=[A-Z])")


_LATEX_COMMAND = re.compile(r"\\[a-zA-Z]+")
_MARKUP = re.compile(r"[${}^_\\]")


def _clean(text: str) -> str:
    """Drop LaTeX markup (D$^3$ -> D3) and stray quotes; keep letters, digits, hyphens."""
    if "\\" in text:
        text = _LATEX_COMMAND.sub("", text)
    text = _MARKUP.sub("", text)
    return " ".join(text.replace("’", "'").split()).strip(" '.-")


def _tokens(text: str) -> list[str]:
    text = _clean(text).replace(",", f" {_BREAK} ")
    return [t.strip("'.") for t in _TOKEN.findall(text) if t.strip("'.")]


def _is_stop(word: str) -> bool:
    return word == _BREAK or word.lower() in _STOP


def _is_namey(token: str) -> bool:
    """A token that looks coined: inner capitals (MedGuideX), digits (AdaptR1), all caps."""
    letters = [c for c in token if c.isalpha()]
    return (
        any(c.isupper() for c in token[1:] if c.isalpha())
        or any(c.isdigit() for c in token)
        or (len(letters) >= 2 and all(c.isupper() for c in letters))
    )


def _is_name(prefix: str) -> bool:
    """Whether a title's prefix before the colon is a name rather than a phrase or a claim."""
    if "," in prefix or '"' in prefix or len(_clean(prefix)) > MAX_CHARS:
        return False
    words = _tokens(prefix)
    if not words:
        return False
    if len(words) > 4:
        return False
    lower = [w.lower() for w in words]
    if _is_stop(words[0]) or _is_stop(words[-1]) or lower[0] in _LEAD:
        return False
    if any(_is_stop(w) for w in words):
        # "Plan Before Search": a title-cased phrase may hold a function word inside; a
        # claim ("Search Agents Need Plans") or a sentence may not.
        inner = [w for w in words if _is_stop(w)]
        if len(inner) > 1 or any(w.lower() in _CLAIM_VERBS for w in inner):
            return False
        return all(w[:1].isupper() for w in words)
    if len(words) > 3:
        return False
    if len(words) == 1 and lower[0] in _GENERIC_NAMES:
        return False
    if all(w in _GENERIC for w in lower):
        return False
    # A coined token, or a short title-cased phrase ("Citation Grounding").
    return any(_is_namey(w) for w in words) or all(w[:1].isupper() for w in words)


def _chunks(segment: str) -> list[list[str]]:
    """Runs of content words, split at function words and commas; "X of Y" stays whole."""
    words = _tokens(segment)
    while words and (_is_stop(words[0]) or words[0].lower() in _LEAD):
        words = words[1:]
    chunks: list[list[str]] = []
    current: list[str] = []
    for word in words:
        if _is_stop(word):
            if current:
                chunks.append(current)
            current = []
            # "Mixture of Experts", "Reasoning over Grammar": bridge a one-word chunk.
            if chunks and len(chunks[-1]) == 1 and word.lower() in {"of", "over", "for"}:
                current = [*chunks.pop(), word]
        elif word.lower() in _LEAD and not current:
            continue  # "Towards X" after a comma or inside a subtitle
        else:
            current.append(word)
    if current:
        chunks.append(current)
    return chunks


def _best_phrase(segment: str, max_words: int) -> tuple[float, str]:
    """The segment's most name-like phrase and its score (higher is better)."""
    best: tuple[float, str] = (-9.0, "")
    for position, chunk in enumerate(_chunks(segment)):
        while chunk and _is_stop(chunk[-1]):
            chunk = chunk[:-1]
        while len(chunk) > 2 and chunk[0].lower() in _CLAIM_VERBS:
            chunk = chunk[1:]  # "Check Grounded Claim Factuality" -> the object it names
        core = [w for w in chunk if not _is_stop(w)]
        if not core or all(w.lower() in _GENERIC for w in core):
            continue
        # English noun phrases end on their head noun: keep the end of a long run.
        words = chunk[-(max_words - 1) :] if len(chunk) > max_words else chunk
        while words and _is_stop(words[0]):
            words = words[1:]
        if 2 <= len(words) <= max_words:
            score = 2.0
        elif any(map(_is_namey, words)):
            score = 1.5
        else:
            score = 0.5
        score -= 0.8 * sum(w.lower() in _GENERIC for w in words) / len(words)
        score += max(0.0, 0.6 - 0.3 * position)
        if score > best[0]:
            best = (score, " ".join(words))
    return best


def short_name(title: str, max_words: int = MAX_WORDS) -> str:
    """The short name of one title, before de-duplication."""
    title = " ".join(title.split())
    glued = _GLUED.match(title)
    if glued and _is_namey(glued.group(1)) and _is_name(glued.group(1)):
        return _clean(glued.group(1))
    parts = _SEPARATORS.split(title, maxsplit=1)
    if len(parts) == 2 and _is_name(parts[0]):
        return _clean(parts[0])
    if "language model" in title.lower():  # every abbreviated phrase holds it
        for pattern, short in _ABBREVIATIONS:
            title = pattern.sub(short, title)
    parts = _SEPARATORS.split(title, maxsplit=1)
    is_question = len(parts) == 2 and bool(re.search(r"\?\s", title[: len(parts[0]) + 2]))
    candidates: list[tuple[float, int, str]] = []
    for index, segment in enumerate(parts):
        score, phrase = _best_phrase(segment, max_words)
        if not phrase:
            continue
        if segment.rstrip().endswith("?") or (index == 0 and is_question):
            score -= 2.0
        first = _tokens(segment)[:1]
        if index == 0 and len(parts) == 2 and first and first[0].lower() in _RHETORICAL:
            score -= 1.0  # "Beyond X: Y" -- Y says what the paper is
        candidates.append((score, index, phrase))
    if candidates:
        best = _fit(max(candidates)[2])  # on a tie, the subtitle: it says what it does
        if not is_broken(best):
            return best
        return _title_prefix(parts[0], max_words) or best
    prefix = _title_prefix(title, max_words)
    if prefix:
        return prefix
    words = [w for w in _tokens(title) if not _is_stop(w)]
    return _fit(" ".join(words[:max_words])) or _clean(title)[:MAX_CHARS] or "Untitled"


def _title_prefix(segment: str, max_words: int) -> str | None:
    """The opening words of the title, ending on a content word ("LLMs Are
    Overconfident"): recognisable where no phrase of the title is a name."""
    words = _tokens(segment)
    while words and (words[0].lower() in _RHETORICAL or words[0].lower() in _LEAD):
        words = words[1:]
    words = [w for w in words if w != _BREAK][:max_words]
    while words and (_is_stop(words[-1]) or len(" ".join(words)) > MAX_CHARS):
        words = words[:-1]
    prefix = " ".join(words)
    return prefix if prefix and len(words) >= 2 and not is_fragment(prefix) else None


def _fit(phrase: str, limit: int = MAX_CHARS) -> str:
    """At most `limit` characters: drop words from the front, keeping the head noun."""
    words = phrase.split()
    while len(words) > 1 and len(" ".join(words)) > limit:
        words = words[1:]
    while len(words) > 1 and _is_stop(words[0]):
        words = words[1:]  # "for Hallucination Reduction" -> "Hallucination Reduction"
    if len(words) == 1 < len(phrase.split()) and not _is_namey(words[0]):
        # "Representation-Rationalizability Tradeoff" is a little long; "Tradeoff" alone
        # names nothing. A slightly long name beats a lone generic word.
        full = phrase.split()
        while len(full) > 2 and len(" ".join(full)) > limit + 16:
            full = full[1:]
        if len(" ".join(full)) <= limit + 16:
            return " ".join(full)
    return " ".join(words)


def _surname(paper: Paper) -> str:
    return paper.authors[0].split()[-1] if paper.authors else paper.id


def short_names(papers: Sequence[Paper]) -> dict[str, str]:
    """Short names for the papers of one digest, distinct from each other.

    Papers that would share a name are told apart by a word of their own title that the
    others lack ("Process Reward Models (Code)"), else by first author, else by id.
    """
    names = {p.id: short_name(p.title) for p in papers}
    by_id = {p.id: p for p in papers}
    for group in _clash_groups(names):
        titles = {i: {w.lower() for w in _tokens(by_id[i].title)} for i in group}
        for paper_id in group:
            others = set().union(*(t for j, t in titles.items() if j != paper_id))
            taken = {w.lower() for w in names[paper_id].split()}
            word = next(
                (
                    w
                    for w in _tokens(by_id[paper_id].title)
                    if not _is_stop(w) and w.lower() not in others and w.lower() not in taken
                ),
                None,
            )
            tag = f" ({word or _surname(by_id[paper_id])})"
            names[paper_id] = _fit(names[paper_id], MAX_CHARS - len(tag)) + tag
    for group in _clash_groups(names):  # same words and first author: the id decides
        for paper_id in group:
            names[paper_id] = f"{names[paper_id]} [{paper_id}]"
    return names


def _clash_groups(names: dict[str, str]) -> list[list[str]]:
    seen: dict[str, list[str]] = {}
    for paper_id, name in names.items():
        seen.setdefault(name.lower(), []).append(paper_id)
    return [ids for ids in seen.values() if len(ids) > 1]


def is_fragment(name: str) -> bool:
    """Whether a name reads as a broken piece: 'It s', 'Makes Medical', 'of Agents'."""
    words = name.split()
    if not words:
        return True
    if any(len(w) == 1 and w.isalpha() and w not in "AI" for w in words):
        return True
    return words[0].lower() in _STOP or words[-1].lower() in _STOP


def is_broken(name: str, title: str = "") -> bool:
    """Whether a short name reads badly: a fragment ("It s"), a claim's verb-led tail
    ("Unlocks Task-Oriented Behavior"), a lone or all-generic word ("Overconfident",
    "Curated Dataset"), or a name glued to its subtitle ("EchoDistill:Alignment"). A coined
    name the title itself puts before its colon ("Mistletoe: ...") is never broken."""
    base = re.sub(r"\s*[(\[].*$", "", name).strip()  # without a disambiguating tag
    if title and re.match(rf"{re.escape(base)}\s*(?::|\s--\s|\s[—–]\s)", _clean(title)):
        return False
    words = base.split()
    if not words or is_fragment(base):
        return True
    if re.search(r"\w:\w", base):
        return True
    if words[0].lower() in _CLAIM_VERBS:
        return True
    if all(w.lower() in _GENERIC or w.lower() in _STOP for w in words):
        return True
    return len(words) == 1 and not _is_namey(words[0])


def all_titles(papers: Iterable[Paper]) -> list[str]:
    return [p.title for p in papers]
