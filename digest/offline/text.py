"""Abstract text for the offline engine: cleaned, split into sentences, given roles, and
rewritten in the third person so a sentence can speak about its paper in a digest."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from digest.model import cite
from digest.offline.patterns import word_terms
from digest.safety import looks_like_injection, may_hold_injection, neutralize

_LATEX_WRAPPERS = re.compile(
    r"\\(?:textbf|textit|emph|texttt|mathrm|mathbf|mathcal|text)\{([^{}]*)\}"
)
_LATEX_COMMAND = re.compile(r"\\[a-zA-Z]+\*?")
_MATH = re.compile(r"\$([^$]{0,80})\$")
_CITE = re.compile(r"\\cite[tp]?\{[^}]*\}|\[\d+(?:[,–-]\s*\d+)*\]")
_AVAILABILITY = re.compile(
    r"\b(?:code|data|dataset|datasets|models?|weights|checkpoints|benchmark|resources|"
    r"implementation|project page|demo)\b[^.]{0,80}\b(?:is|are|will be|has been|have been)\s+"
    r"(?:made\s+)?(?:publicly\s+|freely\s+|openly\s+)?(?:available|released|open[- ]sourced)"
    r"|\b(?:we|our)\s+(?:release|open[- ]source|make)\b[^.]{0,60}\b(?:code|data|available)"
    r"|\bavailable at\b|\bproject page\b|\bgithub\b",
)
_ABBREVIATION_WORDS = frozenset(
    """
    e.g i.e etc vs cf fig figs eq eqs sec no approx resp w.r.t a.k.a st dr mr ms prof inc
    ltd jr u.s corp
    """.split()
)
# The patterns above and the role patterns below are written in lower case and matched
# against `low(text)`: case-insensitive alternations are several times slower in `re`, and
# every abstract of a 2,500-paper window goes through each of them.
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def low(text: str) -> str:
    """Lower case with every character where it was, so match positions hold for `text`."""
    lowered = text.lower()
    return lowered if len(lowered) == len(text) else text.translate(_ASCII_LOWER)


# The end mark is matched, not looked behind at: a pattern that starts with a character set
# lets `re` skip to the next candidate (a split falls between the mark and the space).
_SENTENCE_END = re.compile(r"[.!?]\s+(?=[\"'(\[]?[A-Z0-9])")

_VERBS = (
    r"propose|introduce|present|develop|design|build|construct|formulate|release|"
    r"contribute|describe|curate|create|establish|offer|study|investigate|examine|analyze|"
    r"analyse|revisit|explore|evaluate|benchmark|conduct|train|identify|frame|reframe|"
    r"provide|extend|adapt|leverage|systematically|compare|collect|quantify|characterize|"
    r"characterise|measure|assess|derive|formalize|formalise|fine-tune|make|put forward|"
    r"take|model|cast|tackle|address|augment|unify|instantiate|operationalize|test"
)
_VERBS_3RD = (
    r"proposes|introduces|presents|develops|designs|builds|constructs|formulates|releases|"
    r"contributes|describes|curates|creates|establishes|offers|studies|investigates|"
    r"examines|analyzes|analyses|revisits|explores|evaluates|benchmarks|conducts|trains|"
    r"identifies|frames|reframes|provides|extends|adapts|compares|quantifies|characterizes|"
    r"measures|assesses|derives|formalizes|tackles|addresses|unifies|demonstrates|shows|"
    r"argues|reports"
)
# "we propose X" at the start or after an opening clause ("To fill this gap, we present
# X"), or "this paper proposes X"; the opening clause is dropped when the sentence is retold.
CONTRIBUTION = re.compile(
    rf"(?:(?:we|this (?:paper|work|study|article)|our (?:paper|work|study))\s+"
    rf"(?:first\s+|further\s+|then\s+|also\s+|here\s+|additionally\s+|instead\s+)?"
    rf"(?P<verb>{_VERBS})|(?:this|our|the present) (?:paper|work|study|article)\s+"
    rf"(?:first\s+|also\s+|further\s+)?(?P<verb3>{_VERBS_3RD}))\b"
)
_SUBJECT = re.compile(r"\b(?:we|this|our|the present)\b")
_LEAD_INS = frozenset({"here ", "in this paper ", "in this work ", "in this study ", "thus "})
_OPENING_MAX = 140  # characters of an opening clause before "we propose"


def contribution(text: str) -> re.Match[str] | None:
    """Where a sentence says what the paper does ("we propose ..."), if it does."""
    return _contribution(low(text))


def _contribution(lowered: str) -> re.Match[str] | None:
    for subject in _SUBJECT.finditer(lowered, 0, _OPENING_MAX + 8):
        start = subject.start()
        if start == 0 or lowered.endswith(", ", 0, start) or lowered[:start] in _LEAD_INS:
            match = CONTRIBUTION.match(lowered, start)
            if match is not None:
                return match
    return None


FINDING = re.compile(
    r"\b(?:we|our (?:results|experiments|analysis|findings))\s+(?:also\s+|further\s+)?"
    r"(?:find|show|observe|demonstrate|reveal|discover|uncover|confirm|report)\b"
    r"|\b(?:results|experiments|evaluations?|analyses|findings)\s+(?:on [^,]{0,60}\s+)?"
    r"(?:show|indicate|demonstrate|suggest|reveal|confirm)\b",
)
# Every match of FINDING ends on one of these verbs: a sentence holding none of them is no
# finding, which a substring test tells far faster than the search.
_FINDING_VERBS = (
    "find", "show", "observe", "demonstrate", "reveal", "discover", "uncover", "confirm",
    "report", "indicate", "suggest",
)  # fmt: skip


def is_finding(text: str) -> bool:
    """Whether a sentence reports a finding ("we find", "results show")."""
    return _is_finding(low(text))


def _is_finding(lowered: str) -> bool:
    return any(verb in lowered for verb in _FINDING_VERBS) and bool(FINDING.search(lowered))


# A limitation classifier: a sentence states a limitation when it has a positive cue and
# no negative one. Positive cues name a shortfall ("remains challenging", "degrades",
# "limited to", "diminished"); negative cues mark the sentence as a claim of success or a
# release note ("the authors publicly release", "outperforms"), which is no limitation
# however it is phrased.
_LIMITATION_TERMS = (
    r"limitations?|limited to|we leave|future (?:work|research|directions?)|"
    r"remains? (?:an? )?(?:open|unclear|challenging|unsolved|difficult|elusive|limited|"
    r"costly|expensive|bottleneck|challenge|problem)|"
    r"open (?:question|problem|challenge)s?|does not (?:generalize|transfer|scale|hold)|"
    r"do not (?:generalize|transfer|scale|hold)|fails? to|failed to|failures? to|"
    r"at the (?:cost|expense) of|only (?:applies|works|holds)|caveat|"
    r"not yet|still (?:lags?|falls? short|struggles?|fails?)|falls? short|lags? behind|"
    r"brittle|degrad(?:e|es|ed|ing|ation)|diminish(?:es|ed|ing)?|struggles?|"
    r"cannot|unable to|vulnerab\w+|trade-?offs?|"
    r"consistently (?:worse|lower|reduced)|reduced|hurts?|harms?|erodes?|eroded"
)
LIMITATION_CUES = word_terms(_LIMITATION_TERMS)
_SUCCESS_TERMS = (
    r"release[sd]?|releasing|publicly|open-source[sd]?|available|demonstrat\w+|"
    r"achiev\w+|outperform\w*|state-of-the-art|sota|improv\w+|surpass\w*|superior|"
    r"significant(?:ly)? (?:better|higher|gains?)|gains?|boost\w*|enabl\w+|"
    r"we propose|we introduce|we present|effective(?:ly)?|robustly|retains?|retaining|"
    r"speedups?|savings?|better|higher|faster|baselines?|compared (?:to|with)|"
    r"preserv\w+|maintain\w*"
)
SUCCESS_CUES = word_terms(_SUCCESS_TERMS)


def states_limitation(text: str) -> bool:
    """Whether a sentence states a limitation: a shortfall cue and no success cue."""
    return _states_limitation(low(text))


def _states_limitation(lowered: str) -> bool:
    return bool(LIMITATION_CUES.search(lowered)) and not SUCCESS_CUES.search(lowered)


PROBLEM = re.compile(
    r"\b(?:however|but|yet|despite|although|remain(?:s)?|challeng\w*|suffer\w*|struggle\w*|"
    r"lack\w*|limited|fail\w*|bottleneck\w*|costly|expensive|unreliable|problem\w*|issue\w*)\b",
    re.IGNORECASE,
)
_VERB_3RD = {
    "propose": "proposes",
    "introduce": "introduces",
    "present": "presents",
    "develop": "develops",
    "design": "designs",
    "build": "builds",
    "construct": "constructs",
    "formulate": "formulates",
    "release": "releases",
    "contribute": "contributes",
    "describe": "describes",
    "curate": "curates",
    "create": "creates",
    "establish": "establishes",
    "offer": "offers",
    "study": "studies",
    "investigate": "investigates",
    "examine": "examines",
    "analyze": "analyzes",
    "analyse": "analyses",
    "revisit": "revisits",
    "explore": "explores",
    "evaluate": "evaluates",
    "benchmark": "benchmarks",
    "conduct": "conducts",
    "train": "trains",
    "identify": "identifies",
    "frame": "frames",
    "reframe": "reframes",
    "provide": "provides",
    "extend": "extends",
    "adapt": "adapts",
    "leverage": "leverages",
    "find": "finds",
    "show": "shows",
    "observe": "observes",
    "demonstrate": "demonstrates",
    "reveal": "reveals",
    "discover": "discovers",
    "uncover": "uncovers",
    "confirm": "confirms",
    "report": "reports",
    "catalogue": "catalogues",
    "catalog": "catalogs",
    "compare": "compares",
    "quantify": "quantifies",
    "characterize": "characterizes",
    "characterise": "characterises",
    "measure": "measures",
    "discuss": "discusses",
    "outline": "outlines",
    "highlight": "highlights",
    "assess": "assesses",
    "test": "tests",
    "derive": "derives",
    "formalize": "formalizes",
    "formalise": "formalises",
}


# Stands in for a LaTeX macro the cleaner cannot resolve (a paper's own "\\method"): a
# sentence holding one is never quoted ("experiments demonstrate 's superiority").
UNRESOLVED = "\u2063"
_ESCAPED = re.compile(r"\\([%&_#$])")
_TEX_QUOTES = re.compile(r"``|''")
_TEX_DASH = re.compile(r"(?<=\d)--(?=\d)|(?<=\s)--(?=\s)")


def untex(text: str) -> str:
    """TeX's typography as plain text, for showing an abstract whole: escaped characters
    ("69.71\\%"), ``quotes'' and -- dashes; math and commands are left as written."""
    if "\\" in text:
        text = _ESCAPED.sub(r"\1", text)
    if "``" in text or "''" in text:
        text = _TEX_QUOTES.sub('"', text)
    if "--" in text:
        text = _TEX_DASH.sub("–", text)
    return text


_EMPTY_PARENS = re.compile(r"\(\s*[,;]?\s*\)")
_SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+([,.;:])")
_MATH_MARKUP = re.compile(r"[{}^]")


@lru_cache(maxsize=16384)  # every section reads the same abstracts; clean each once
def clean_abstract(text: str) -> str:
    """An abstract without URLs, LaTeX commands, citations or code-availability boilerplate."""
    return " ".join(clean_sentences(text))


@lru_cache(maxsize=16384)
def clean_sentences(text: str) -> tuple[str, ...]:
    """The sentences of `clean_abstract(text)`, split once for every pass that needs them
    (`split_sentences(clean_abstract(text))` gives the same)."""
    # Each substitution runs only when the text holds what every match of it needs: most
    # abstracts have no LaTeX, and a substring test costs far less than a pass of `re`.
    if "\\cite" in text or "[" in text:
        text = _CITE.sub("", text)
    if "\\" in text:
        text = _ESCAPED.sub(r"\1", text)  # "0.5\\%" -> "0.5%"
    if "``" in text or "''" in text:
        text = _TEX_QUOTES.sub('"', text)
    if "\\" in text:
        text = _LATEX_WRAPPERS.sub(r"\1", text)
    if "$" in text:
        text = _MATH.sub(lambda m: _MATH_MARKUP.sub("", _LATEX_COMMAND.sub("", m.group(1))), text)
    if "--" in text:
        text = _TEX_DASH.sub("–", text)  # "0.3--0.5", "bias -- models": TeX's en dash
    if "\\" in text:
        text = _LATEX_COMMAND.sub(UNRESOLVED, text)
    text = text.replace("{", "").replace("}", "")
    text = neutralize(text)
    if "(" in text:
        text = _EMPTY_PARENS.sub("", text)  # "()" left by removed markup
    # After neutralize the only whitespace is single spaces (removed markup may leave two).
    if " ," in text or " ." in text or " ;" in text or " :" in text:
        text = _SPACE_BEFORE_PUNCTUATION.sub(r"\1", text)
    # Sentences that read as instructions to a model are data we never repeat, not even as
    # vocabulary: they would otherwise surface as theme phrases ("system prompt").
    parts = split_sentences(text)
    # A sentence is part of the text: when the whole (ASCII) text holds none of the words a
    # test needs, no sentence does, and the test is skipped for all of them.
    availability = _may_mention_availability(text)
    injection = may_hold_injection(text)
    kept = [
        s
        for s in parts
        if not (availability and _mentions_availability(s))
        and not (injection and looks_like_injection(s))
    ]
    if len(kept) == len(parts):
        # `text` has single spaces and no outer ones, so it is its sentences joined by
        # spaces: splitting that again would give `parts` back.
        return tuple(parts)
    # A dropped sentence changes what an abbreviation check at a joint sees: split anew.
    return tuple(split_sentences(" ".join(kept)))


def clear_caches() -> None:
    """Forget every per-abstract cache, so the next pass pays what a fresh process pays
    (the benches time cold builds with it)."""
    clean_abstract.cache_clear()
    clean_sentences.cache_clear()
    sentences_of.cache_clear()


_AVAILABILITY_WORDS = ("availab", "releas", "open", "github", "project page", "make")


def _may_mention_availability(text: str) -> bool:
    """False when no sentence of the text can be availability boilerplate."""
    if not text.isascii():
        return True  # a sentence's `low` may then differ from the whole text's
    lowered = text.lower()
    return any(w in lowered for w in _AVAILABILITY_WORDS)


def _mentions_availability(sentence: str) -> bool:
    """Whether a sentence is code-availability boilerplate; most sentences have none of
    the words it needs, which a substring test rules out far faster than the pattern."""
    lowered = low(sentence)
    return any(w in lowered for w in _AVAILABILITY_WORDS) and bool(
        _AVAILABILITY.search(lowered)
    )


def split_sentences(text: str) -> list[str]:
    """Sentences of running text; abbreviations (e.g., et al.) and decimals do not split
    (a sentence ends at . ! or ? followed by space and a capital, digit or opening mark)."""
    parts = []
    start = 0
    for end in _SENTENCE_END.finditer(text):
        stop = end.start() + 1
        if text[stop - 1] == "." and _is_abbreviation(text, stop - 1):
            continue
        parts.append(text[start:stop].strip())
        start = end.end()
    parts.append(text[start:].strip())
    return [p for p in parts if p]


def _is_abbreviation(text: str, dot: int) -> bool:
    """Whether the dot at `dot` ends an abbreviation ("e.g.", "et al.", "Fig.")."""
    before = low(text[max(0, dot - 8) : dot])
    word = before.rsplit(None, 1)[-1] if before.strip() else ""
    word = word.rsplit("(", 1)[-1].rsplit("[", 1)[-1]
    if word == "al":
        return before.endswith("et al")
    return word in _ABBREVIATION_WORDS


@dataclass(frozen=True, slots=True)
class Sentence:
    """One sentence of an abstract, with its position and what it does there."""

    text: str
    index: int
    total: int
    is_contribution: bool
    is_finding: bool
    is_limitation: bool

    @property
    def usable(self) -> bool:
        """Short enough to quote, long enough to say something, and not an instruction."""
        words = len(self.text.split())
        return 6 <= words <= 60 and not looks_like_injection(self.text)


@lru_cache(maxsize=8192)
def sentences_of(abstract: str) -> tuple[Sentence, ...]:
    """The usable sentences of an abstract with their roles."""
    parts = clean_sentences(abstract)
    lowered = [low(text) for text in parts]  # once, for every role test below
    total = len(parts)
    contributions = [i for i, text in enumerate(lowered) if _contribution(text)]
    # Abstracts go motivation -> contribution -> results: a "however" before the paper says
    # what it does is about earlier work, not a limitation of this paper.
    first_own = contributions[0] + 1 if contributions else max(1, total // 2)
    out = []
    for index, text in enumerate(parts):
        # clean_abstract has dropped instruction-like sentences: only the length decides
        # which are kept (every sentence still counts for the positions above).
        if not 6 <= len(text.split()) <= 60:
            continue
        finding = _is_finding(lowered[index])
        out.append(
            Sentence(
                text=text,
                index=index,
                total=total,
                is_contribution=index in contributions,
                is_finding=finding,
                # The position tests first: they are free, and decide most sentences.
                is_limitation=index not in contributions
                and (index >= first_own or finding)
                and _states_limitation(lowered[index]),
            )
        )
    return tuple(out)


_WE = re.compile(r"\bwe\b", re.IGNORECASE)
_OUR = re.compile(r"\bour\b", re.IGNORECASE)
_US = re.compile(r"\bus\b")


def _third_person(text: str) -> str:
    # Each pass only where its word can be: no letter of "we" or "our" has a case variant
    # outside ASCII, so a case-insensitive match is in the lower-cased text too.
    lowered = text.lower()
    if "we" in lowered:
        text = _WE.sub("the authors", text)
    if "our" in lowered:
        text = _OUR.sub("their", text)
    if "us" in text:
        text = _US.sub("them", text)
    return text


# Where a long sentence can end early and still be a complete sentence: before a
# subordinate or participial clause, a list, or a prepositional tail.
_CLAUSE_BOUNDARY = re.compile(
    r",\s+(?:which|where|while|whereas|thereby|thus|and|but|enabling|allowing|achieving|"
    r"leading|resulting|yielding|making|using|including|such as|as well as|"
    r"[a-z]+ing\b)|;\s|\s[—–]\s|:\s|,\s|\s(?:by|via|through|using|with|without|"
    r"that|which|where|to|for|across|in|on|under|from|and|based on)\s"
)
_STRONG_BOUNDARY = re.compile(
    r",\s+(?:which|where|while|whereas|thereby|thus|but)\b|;\s|\s[—–]\s|:\s|"
    r",\s+[a-z]+ing\b"
)
_WEAK_END = re.compile(
    r"\s+(?:and|or|of|to|in|for|with|by|from|the|a|an|that|which|using|its|their|is|are|"
    r"as|on|at|into|than|both|between|each|whose)$",
    re.IGNORECASE,
)


def _shorten(text: str, max_words: int) -> str | None:
    """At most about `max_words` words, ending at a clause boundary so the result is still
    a complete sentence; None when no boundary leaves enough to say (the caller then picks
    another sentence). Never cut mid-clause with an ellipsis."""
    text = text.strip().rstrip(" .;,:")
    words = text.split()
    if len(words) <= max_words:
        return _balanced(text) + "."
    best = strong = None
    for match in _CLAUSE_BOUNDARY.finditer(text):
        head = text[: match.start()].rstrip(" ,;:")
        count = len(head.split())
        if count > max_words:
            break
        if count >= 7:
            best = head
            if _STRONG_BOUNDARY.match(match.group(0)) and count >= 0.4 * max_words:
                strong = head
    # A clause that ends where the sentence's own structure does ("..., which") reads
    # better than a later cut before a preposition inside a list.
    best = strong or best
    if best is None:
        return None
    best = _WEAK_END.sub("", best).rstrip(" ,;:")
    while _WEAK_END.search(best):
        best = _WEAK_END.sub("", best).rstrip(" ,;:")
    return _balanced(best) + "."


def _balanced(text: str) -> str:
    """Drop an unclosed parenthesis or quote left by a cut, with what follows it."""
    for opening, closing in (("(", ")"), ("[", "]"), ("“", "”")):
        if text.count(opening) > text.count(closing):
            text = text[: text.rfind(opening)].rstrip(" ,;:")
    if text.count('"') % 2:
        text = text[: text.rfind('"')].rstrip(" ,;:")
    return text


# A demonstrative pointing back at a sentence the reader of a digest does not see ("studies
# this problem", "examines this in two scenarios").
DANGLING = re.compile(
    r"\b(?:this|these|those|such|the former|the latter|aforementioned)\b"
    r"(?!\s+(?:paper|work|study|article)\b)",
    re.IGNORECASE,
)


# Base-form verbs that, after "and", continue the authors' own action ("we X and study Y").
_COORDINATED = tuple(
    """
    propose introduce present develop design study investigate examine analyze analyse
    evaluate show find demonstrate reveal release construct build identify explore provide
    establish catalogue catalog compare quantify characterize characterise measure discuss
    outline highlight assess test train curate derive formalize formalise
    """.split()
)
_AND_VERB = re.compile(rf"\band ({'|'.join(_COORDINATED)})\b")
# "X (an acronym), a method that ..." after the verb: the paper's name and what it is.
_APPOSITIVE = re.compile(
    r"(?:a |an |the |A |An |The )?(?:novel |new )?(?P<name>[^,(]{1,80}?)\s*(?:\([^)]*\))?"
    r"\s*,\s*(?P<what>(?:a|an|the)\s.+)$",
    re.DOTALL,
)
_DISCOURSE = re.compile(
    r"^(?:notably|moreover|furthermore|additionally|finally|overall|in addition|specifically|"
    r"importantly|in particular|crucially|concretely|empirically|consequently|thus|hence|"
    r"theoretically|practically|experimentally|surprisingly|interestingly|together|"
    r"however|but|yet|still|nevertheless|nonetheless),?\s+",
    re.IGNORECASE,
)


def about(
    paper_id: str,
    sentence: str,
    short_name: str = "",
    max_words: int = 40,
    ordinary: frozenset[str] = frozenset(),
    strict: bool = True,
) -> str | None:
    """A sentence of the paper's abstract turned into a complete statement about the paper.

    "We propose Kestrel, a calibration step ..." -> "[[id]] is a calibration step ..."
    "To fill this gap, we study X" -> "[[id]] studies X"; "We find that X" -> "[[id]] finds
    that X"; any other sentence is attributed: "[[id]] notes that joint constraint ...".
    None when the sentence says nothing beyond the paper's name, carries LaTeX the cleaner
    could not resolve, points back with a demonstrative ("this problem") the reader cannot
    resolve (unless not `strict`: then "the problem"), or cannot be shortened to
    `max_words` at a clause boundary. `ordinary` holds words seen in lower case in the
    window, so "Ablations show" reads "notes that ablations show".
    """
    marker = cite(paper_id)
    sentence = _DISCOURSE.sub("", sentence.strip())
    if UNRESOLVED in sentence:
        return None
    match = contribution(sentence)
    if match:
        verb = (match.group("verb") or match.group("verb3")).lower()
        rest = sentence[match.end() :].lstrip()
        verb_3rd = _VERB_3RD.get(verb, verb if match.group("verb3") else verb + "s")
        if verb == "systematically":  # "we systematically explore X": the verb follows
            following, _, rest = rest.partition(" ")
            verb_3rd = f"systematically {_VERB_3RD.get(following.lower(), following)}"
        # "identify and systematically analyze" -> "identifies and systematically analyzes"
        rest = re.sub(
            r"^and\s+((?:systematically|further|then|empirically)\s+)?([a-z]+)\b",
            lambda m: f"and {m.group(1) or ''}{_VERB_3RD.get(m.group(2), m.group(2))}",
            rest,
        )
        without_name = rest.replace(short_name, "") if short_name else rest
        if len(without_name.split()) < 4:
            return None  # "We propose CRAM." says nothing the name does not
        appositive = _APPOSITIVE.match(rest) if short_name else None
        if appositive and appositive.group("name").strip().lower() != short_name.lower():
            appositive = None
        # "... frame data as X and study agents" -> "... frames data as X and studies agents"
        rest = _AND_VERB.sub(lambda m: f"and {_VERB_3RD[m.group(1)]}", rest)
        body = (
            f"{marker} is {appositive.group('what')}"
            if appositive
            else f"{marker} {verb_3rd} {rest}"
        )
        return _finish(_third_person(body), max_words, strict)
    finding = re.match(
        r"^we\s+(?:also\s+|further\s+)?(?P<verb>find|show|observe|demonstrate|reveal|"
        r"discover|uncover|confirm|report)\b",
        sentence,
        re.IGNORECASE,
    )
    if finding:
        verb = _VERB_3RD[finding.group("verb").lower()]
        body = _third_person(f"{marker} {verb}{sentence[finding.end() :]}")
        return _finish(body, max_words, strict)
    text = _third_person(sentence)
    said = re.match(
        r"^the authors (?:also |further )?(?P<verb>find|show|observe|demonstrate|reveal|"
        r"discover|report|argue|prove|identify)\b",
        text,
    )
    if said:  # "the authors show that X" -> "[[id]] shows that X"
        verb = _VERB_3RD.get(said.group("verb"), said.group("verb") + "s")
        return _finish(f"{marker} {verb}{text[said.end() :]}", max_words, strict)
    first, _, remainder = text.partition(" ")
    if _is_ordinary_word(first, sentence) or first.lower().strip(",;:") in ordinary:
        text = f"{first.lower()} {remainder}"
    return _finish(f"{marker} notes that {text}", max_words, strict)


def _finish(body: str, max_words: int, strict: bool) -> str | None:
    """The statement shortened at a clause boundary, checked for dangling demonstratives."""
    shortened = _shorten(body, max_words)
    if shortened is None:
        return None
    if DANGLING.search(shortened):
        if strict:
            return None
        shortened = DANGLING.sub(lambda m: "the" if m.group(0)[0].islower() else "The", shortened)
    return shortened


def _is_ordinary_word(word: str, sentence: str) -> bool:
    """Whether a sentence-initial word can be lower-cased: a plain Title-case word, not a
    name ("GRAIL", "Kestrel"), judged by whether the text uses it in lower case elsewhere."""
    bare = word.strip(",;:")
    if not (bare[:1].isupper() and bare[1:].islower()):
        return False
    # Common openers, and words shaped like verbs or adverbs ("Detecting", "Notably"),
    # are not names.
    if bare.lower() in _COMMON_OPENERS or bare.endswith(("ing", "ly", "ed")):
        return True
    return re.search(rf"(?<!^)\b{re.escape(bare.lower())}\b", sentence[len(word) :]) is not None


_COMMON_OPENERS = frozenset(
    """
    the this these those such existing current most many some all our their its results
    experiments training models reward rewards despite while although when unlike
    compared across on in for with without however yet both each it they there
    performance evaluation analysis extensive further
    """.split()
)
