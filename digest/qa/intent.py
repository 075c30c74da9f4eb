"""What a question asks, read without a model: its kind, and the time window it names.

Kinds (`Intent.kind`):

- "authors"  who wrote it (and where they work);
- "when"     submitted, updated, which version;
- "proposes" what the paper proposes (its TL;DR);
- "data"     datasets, benchmarks, baselines or results (`Intent.facet` says which);
- "code"     code, weights, data or project links;
- "compare"  two or three papers side by side;
- "list"     which papers (of a time window) are about something;
- "general"  anything else about a paper ("tell me about 2605.13217").

Time expressions ("this week", "last week", "last month", "since 2026-05-20", "since May
20", "in May", "past 10 days", and a few in French, German and Spanish) become a window of
UTC days and are cut out of the text, so "papers from last week about reward models"
searches for "reward models" in that week, not for "last".

Cues in French, German, Spanish, Italian and Portuguese are recognised for the kinds too:
a question in another language still gets the kind of answer it asks for, and the paper
names and technical words in it (which are rarely translated) still find the papers.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

MONTHS = {
    name: number
    for number, names in enumerate(
        (
            (),
            ("january", "jan", "janvier", "januar", "enero", "gennaio", "janeiro"),
            ("february", "feb", "fevrier", "février", "februar", "febrero", "febbraio"),
            ("march", "mar", "mars", "märz", "marz", "marzo", "março"),
            ("april", "apr", "avril", "abril", "aprile"),
            ("may", "mai", "mayo", "maggio", "maio"),
            ("june", "jun", "juin", "juni", "junio", "giugno", "junho"),
            ("july", "jul", "juillet", "juli", "julio", "luglio", "julho"),
            ("august", "aug", "août", "aout", "agosto"),
            ("september", "sep", "sept", "septembre", "septiembre", "settembre", "setembro"),
            ("october", "oct", "octobre", "oktober", "octubre", "ottobre", "outubro"),
            ("november", "nov", "novembre", "noviembre", "novembro"),
            ("december", "dec", "décembre", "decembre", "dezember", "diciembre", "dicembre"),
        )
    )
    for name in names
}
_MONTH = "(?:" + "|".join(sorted(map(re.escape, MONTHS), key=len, reverse=True)) + r")\.?"
_ISO = r"\d{4}-\d{2}-\d{2}"
# "May 20", "20 May", "May 20, 2026", "20 May 2026", "2026-05-20"
_ORDINAL = r"\d{1,2}(?:st|nd|rd|th)?"
_DAY = (
    rf"(?:{_ISO}|{_MONTH}\s+{_ORDINAL}(?:,?\s+\d{{4}})?"
    rf"|{_ORDINAL}\s+(?:of\s+)?{_MONTH}(?:\s+\d{{4}})?)"
)
_LEAD = re.compile(
    r"\b(?:from|in|during|of|over|submitted|published|posted|announced|released"
    r"|de|du|der|vom|aus|del|di|da)\s+$",
    re.IGNORECASE,
)
MAX_TIME_EXPRESSIONS = 8  # per kind of expression; a question rarely has more than one
_UNITS = {"day": 1, "days": 1, "week": 7, "weeks": 7, "month": 30, "months": 30}

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in (
        ("between", rf"\bbetween\s+(?P<a>{_DAY})\s+and\s+(?P<b>{_DAY})"),
        ("since", rf"\b(?:since|after|depuis|seit|desde|dal|dopo)\s+(?P<a>{_DAY}|{_MONTH})"),
        ("before", rf"\b(?:before|until|till|avant|vor|antes\s+de)\s+(?P<a>{_DAY})"),
        ("past", r"\b(?:the\s+)?(?:past|last)\s+(?P<n>\d{1,3})\s+(?P<unit>days?|weeks?|months?)\b"),
        (
            "this_week",
            r"\b(?:this|current)\s+week\b|\bcette\s+semaine\b|\bdiese[rn]?\s+woche\b"
            r"|\besta\s+semana\b|\bquesta\s+settimana\b",
        ),
        (
            "last_week",
            r"\b(?:last|previous|past)\s+week\b|\bthe\s+week\s+before\b"
            r"|\bla\s+semaine\s+derni[eè]re\b|\bla\s+semaine\s+pass[ée]e\b"
            r"|\b(?:letzte[rn]?|vorige[rn]?|vergangene[rn]?)\s+woche\b|\bla\s+semana\s+pasada\b"
            r"|\bla\s+settimana\s+scorsa\b|\bsemana\s+passada\b",
        ),
        (
            "this_month",
            r"\b(?:this|current)\s+month\b|\bce\s+mois(?:-ci)?\b|\bdiese[nm]?\s+monat\b"
            r"|\beste\s+mes\b|\bquesto\s+mese\b",
        ),
        (
            "last_month",
            r"\b(?:last|previous|past)\s+month\b|\ble\s+mois\s+dernier\b"
            r"|\b(?:letzte[nm]?|vorige[nm]?)\s+monat\b|\bel\s+mes\s+pasado\b|\bil\s+mese\s+scorso\b",
        ),
        ("today", r"\btoday\b|\baujourd'hui\b|\bheute\b|\bhoy\b|\boggi\b"),
        ("yesterday", r"\byesterday\b|\bhier\b|\bgestern\b|\bayer\b|\bieri\b"),
        ("on", rf"\b(?:on|le|am|el)\s+(?P<a>{_DAY})"),
        ("month", rf"\b(?:in|en|im|a|di|em)\s+(?P<m>{_MONTH})(?:\s+(?P<y>\d{{4}}))?\b"),
        ("day", rf"(?<![\w.-])(?P<a>{_ISO})(?![\w.-])"),
    )
)


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """UTC days `since`..`until`, inclusive, and the words that named them."""

    since: date
    until: date
    said: str

    def holds(self, day: date) -> bool:
        return self.since <= day <= self.until

    def describe(self) -> str:
        if self.since == self.until:
            return f"on {self.since.isoformat()}"
        if self.since == date.min:
            return f"up to {self.until.isoformat()}"
        return f"from {self.since.isoformat()} to {self.until.isoformat()}"


def _month_day(text: str, today: date) -> date | None:
    text = text.strip().rstrip(",")
    if re.fullmatch(_ISO, text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            return None
    parts = re.findall(r"[^\W\d_]+|\d+", text.lower())
    month = next((MONTHS[p] for p in parts if p in MONTHS), None)
    numbers = [int(p) for p in parts if p.isdigit()]
    if month is None or not numbers:
        return None
    day_number = numbers[0]
    year = numbers[1] if len(numbers) > 1 else None
    if year is None:
        # Without a year, the latest such day not after today.
        year = today.year if (month, day_number) <= (today.month, today.day) else today.year - 1
    try:
        return date(year, month, day_number)
    except ValueError:
        return None


def _month_range(month: int, year: int | None, today: date) -> tuple[date, date]:
    if year is None:
        year = today.year if month <= today.month else today.year - 1
    last = calendar.monthrange(year, month)[1]
    return date(year, month, 1), min(date(year, month, last), max(today, date(year, month, 1)))


def _window(name: str, match: re.Match[str], today: date) -> tuple[date, date] | None:
    groups = match.groupdict()
    if name == "between":
        a, b = _month_day(groups["a"], today), _month_day(groups["b"], today)
        return (min(a, b), max(a, b)) if a and b else None
    if name == "since":
        text = groups["a"]
        start: date | None
        if text.lower().rstrip(".") in MONTHS:
            start = _month_range(MONTHS[text.lower().rstrip(".")], None, today)[0]
        else:
            start = _month_day(text, today)
        return (start, today) if start else None
    if name == "before":
        end = _month_day(groups["a"], today)
        return (date.min, end - timedelta(days=1)) if end and end > date.min else None
    if name == "past":
        days = int(groups["n"]) * _UNITS[groups["unit"].lower()]
        return (today - timedelta(days=max(days - 1, 0)), today)
    monday = today - timedelta(days=today.weekday())
    if name == "this_week":
        return monday, today
    if name == "last_week":
        return monday - timedelta(days=7), monday - timedelta(days=1)
    if name == "this_month":
        return today.replace(day=1), today
    if name == "last_month":
        end = today.replace(day=1) - timedelta(days=1)
        return end.replace(day=1), end
    if name == "today":
        return today, today
    if name == "yesterday":
        return today - timedelta(days=1), today - timedelta(days=1)
    if name in ("on", "day"):
        day = _month_day(groups["a"], today)
        return (day, day) if day else None
    if name == "month":
        year = int(groups["y"]) if groups.get("y") else None
        return _month_range(MONTHS[groups["m"].lower().rstrip(".")], year, today)
    return None


def read_time(text: str, today: date) -> tuple[TimeWindow | None, str]:
    """The first time window the text names, and the text with every time expression cut
    out (so its words are not searched for)."""
    window: TimeWindow | None = None
    rest = text
    for name, pattern in _PATTERNS:
        spans: list[tuple[int, int, tuple[date, date]]] = []
        for match in pattern.finditer(rest):
            found = _window(name, match, today)
            if found is None or (name == "month" and not _is_month_phrase(match)):
                continue
            # "from last week", "submitted in May": the lead word goes with the expression.
            # (Looked for behind the match, not as an optional prefix of every pattern: that
            # would be tried at every position of a long question.)
            lead = _LEAD.search(rest, max(0, match.start() - 16), match.start())
            spans.append((lead.start() if lead else match.start(), match.end(), found))
            if len(spans) == MAX_TIME_EXPRESSIONS:
                break
        if spans and window is None:
            start, end, found = spans[0]
            window = TimeWindow(found[0], found[1], " ".join(rest[start:end].split()))
        for start, end, _ in reversed(spans):  # from the end: earlier offsets stay valid
            rest = f"{rest[:start]} {rest[end:]}"
    return window, " ".join(rest.split())


def _is_month_phrase(match: re.Match[str]) -> bool:
    """ "in May" is a month; "in mar" or "a mar..." in running text rarely is: short month
    abbreviations count only when written with a capital."""
    month = match.group("m")
    return len(month.rstrip(".")) > 3 or month[:1].isupper()


# -- kinds --------------------------------------------------------------------------------------

_KINDS: tuple[tuple[str, str, re.Pattern[str]], ...] = tuple(
    (kind, facet, re.compile(pattern, re.IGNORECASE))
    for kind, facet, pattern in (
        (
            "compare",
            "",
            r"\bcompar(?:e|es|ed|ing|ison)\b|\bversus\b|\bvs\.?(?!\w)|\bdiffer(?:ence|ences|s)?\b"
            r"|\bcontrast\b|\bcomparer\b|\bvergleich\w*|\bcompara\w*|\bconfront\w*",
        ),
        (
            "authors",
            "",
            r"\bwho\s+(?:wrote|writes|authored|made|created|developed|is\s+behind|are\s+behind)\b"
            r"|\bauthor(?:s|ed|ship)?\b|\bwritten\s+by\b|\baffiliation\w*|\bwhich\s+(?:lab|labs"
            r"|university|universities|institution|institutions|team|group)\b"
            r"|\bqui\s+a\s+[ée]crit\b|\bauteur\w*|\bwer\s+hat\b|\bautor\w*|\bqui[ée]n\b"
            r"|\bchi\s+ha\s+scritto\b|\bquem\s+escreveu\b",
        ),
        (
            "code",
            "",
            r"\bcode\b|\bgithub\b|\bgitlab\b|\brepo(?:s|sitory|sitories)?\b|\bsource\s+code\b"
            r"|\bopen[- ]?sourced?\b|\bweights\b|\bcheckpoints?\b|\bproject\s+page\b"
            r"|\bhugging\s*face\b|\blinks?\b|\bdownload\w*|\bimplementation\b|\bc[oó]digo\b"
            r"|\bquellcode\b",
        ),
        (
            "data",
            "baselines",
            r"\bbaselines?\b|\bcompared?\s+(?:against|with|to)\b|\bagainst\s+what\b"
            r"|\bl[ií]neas?\s+base\b|\bvergleichsmethoden\b",
        ),
        (
            "data",
            "datasets",
            r"\bdata\s*sets?\b|\bcorp(?:us|ora)\b|\btraining\s+data\b|\bwhat\s+data\b"
            r"|\bwhich\s+data\b|\bdonn[ée]es\b|\bdatens[äa]tze?\w*|\bdatos\b|\bdati\b|\bdados\b",
        ),
        (
            "data",
            "benchmarks",
            r"\bbenchmark\w*|\bevaluat\w*\s+(?:on|with|against)\b|\btested\s+on\b"
            r"|\bevaluation\b|\b[ée]valu\w*|\bbewert\w*|\bevalu\w*",
        ),
        (
            "data",
            "results",
            r"\bresults?\b|\bhow\s+(?:well|good|much)\b|\bperform\w*|\baccura\w*|\bscores?\b"
            r"|\bimprove\w*|\bgains?\b|\boutperform\w*|\bfind(?:ings)?\b|\bfound\b"
            r"|\br[ée]sultat\w*|\bergebnis\w*|\bresultad\w*|\brisultat\w*",
        ),
        (
            "when",
            "",
            r"\bwhen\b|\bwhat\s+(?:date|day)\b|\bwhich\s+(?:date|day|version)\b|\bversions?\b"
            r"|\bhow\s+(?:old|recent)\b|\bsubmitted\b|\bpublished\b|\bannounced\b|\bupdated\b"
            r"|\bquand\b|\bwann\b|\bcu[aá]ndo\b|\bquando\b",
        ),
        (
            "proposes",
            "",
            r"\bpropos\w*|\bintroduc\w*|\bcontribut\w*|\bmain\s+idea\b|\bkey\s+idea\b"
            r"|\btl;?\s*dr\b|\bgist\b|\bin\s+short\b|\bin\s+a\s+nutshell\b|\bnovel\w*"
            r"|\bpropon\w*|\bvorschl\w*|\bschl[äa]gt\b|\bpropuesta\b|\bproposta\b",
        ),
    )
)


@dataclass(frozen=True, slots=True)
class Intent:
    """What the question asks for: `kind` and, for "data", `facet` (datasets, benchmarks,
    baselines, results)."""

    kind: str
    facet: str = ""


def read_kind(text: str, *, named: int, wants_list: bool, window: bool) -> Intent:
    """The kind of a question (text without ids and time words), given how many papers it
    names, whether it asks for papers in the plural and whether it names a time window."""
    hits = {(kind, facet) for kind, facet, pattern in _KINDS if pattern.search(text)}
    if named >= 2 and (("compare", "") in hits or not hits):
        return Intent("compare")
    if named == 0 and (wants_list or window or ("compare", "") not in hits):
        return Intent("list")
    for kind, facet, _ in _KINDS:
        if (kind, facet) in hits and kind != "compare":
            return Intent(kind, facet)
    if named >= 2:
        return Intent("compare")
    return Intent("general")


# "Which papers ...?" in other languages (English is `digest.qa.text.asks_for_a_list`).
_PAPERS_CUES = re.compile(
    r"\b(?:quels|quelles)\s+(?:articles|papiers|travaux|publications)\b"
    r"|\bwelche\s+(?:papers|arbeiten|artikel|publikationen|veröffentlichungen)\b"
    r"|\bqu[ée]\s+(?:art[ií]culos|papers|trabajos)\b|\bcu[aá]les\s+(?:art[ií]culos|papers)\b"
    r"|\bquali\s+(?:articoli|paper|lavori)\b|\bquais\s+(?:artigos|trabalhos)\b",
    re.IGNORECASE,
)


def asks_for_papers(text: str) -> bool:
    """Whether a question in French, German, Spanish, Italian or Portuguese asks which
    papers (plural) are about something."""
    return bool(_PAPERS_CUES.search(text))
