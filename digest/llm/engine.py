"""The language-model engine: a digest written by a model, as trustworthy as the offline
engine's, whichever API writes it (a `Transport`: Anthropic's or any OpenAI-compatible one).

One digest is one call when the window's paper block fits the input budget, else map-reduce
over the offline engine's clusters (a cheaper model writes notes per cluster, the main
model writes the digest from the notes). Every answer is structured JSON validated against
a schema; an unusable answer gets one repair request. Every string then passes the check
(`check.py`): citations outside the window removed, items left without one dropped, names
and links only from the corpus, and no arXiv id in any form left outside a checked
citation. A section left empty gets one refill request, then the offline engine's section.
Anything the API cannot deliver raises `SynthesisFailed`, and the service falls back to the
offline engine for the whole digest: never a half digest.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

import pydantic

from digest.errors import BudgetExceeded, LLMError, LLMOutputInvalid, SynthesisFailed
from digest.llm import prompt
from digest.llm.budget import (
    UNCERTAIN_BAND,
    Plan,
    estimate_json_tokens,
    estimate_tokens,
    plan_digest,
)
from digest.llm.check import Checker, CheckReport, normalize_id, scrub_digest
from digest.llm.cost import PRICES, Price, describe_cost, ledger_cost
from digest.llm.schema import DRAFT_SECTIONS, ClusterNotes, DigestDraft, schema_json
from digest.llm.transport import Transport
from digest.llm.usage import UsageLedger
from digest.model import (
    SECTION_TITLES,
    Digest,
    Item,
    Section,
    cite,
    cited_ids,
    restrict_citations,
    with_note,
)
from digest.offline.analysis import WindowAnalysis
from digest.offline.engine import OfflineEngine
from digest.offline.trends import rising_terms
from digest.settings import ModelSettings
from digest.synthesis import SynthesisRequest, catalog, metadata_section, new_digest

log = logging.getLogger(__name__)
T = TypeVar("T", bound=pydantic.BaseModel)
SECTION_LIMITS = {"themes": 8, "methods": 8, "new": 6, "challenges": 8, "overview": 3}


@dataclass(frozen=True, slots=True)
class EngineSettings(ModelSettings):
    """Models and limits of a language-model engine: the `ModelSettings` of `[anthropic]` or
    `[openai]` (`for_models`), and `[digest] language`."""

    abstract_chars: int = prompt.ABSTRACT_CHARS
    count_tokens: bool = True  # ask the API to count when the estimate is near the budget
    language: str = "en"  # what the digest is written in (ids, names and the query stay)
    prices: Mapping[str, Price] = field(default_factory=lambda: dict(PRICES))

    @classmethod
    def for_models(cls, models: ModelSettings, **rest: Any) -> EngineSettings:
        """These settings with the models and token limits of `models` (a config section)."""
        return cls(**models.model_values(), **rest)


@dataclass
class _Run:
    """The state of one digest's synthesis: inputs, what was spent, what was repaired."""

    request: SynthesisRequest
    settings: EngineSettings
    offline: OfflineEngine
    ledger: UsageLedger = field(default_factory=UsageLedger)
    report: CheckReport = field(default_factory=CheckReport)
    repairs: list[str] = field(default_factory=list)
    offline_sections: list[str] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.papers = list(self.request.papers)
        self.entries = catalog(self.papers)
        self.names = {e.id: e.short_name for e in self.entries}
        self.records = [
            prompt.paper_record(p, self.names[p.id], self.settings.abstract_chars)
            for p in self.papers
        ]

    @cached_property
    def analysis(self) -> WindowAnalysis:
        return WindowAnalysis(self.papers)

    @cached_property
    def offline_digest(self) -> Digest:
        """The offline engine's digest of the same window, for sections the model left
        empty (computed only when one is needed)."""
        return self.offline.synthesize(self.request)

    @cached_property
    def history(self) -> str:
        history = self.request.history
        rising: list[tuple[str, list[str], int]] = []
        if history.earlier_papers:
            picked, _ = rising_terms(self.analysis, history)
            rising = [
                (self.analysis.casing.phrase(phrase), [self.papers[i].id for i in users], before)
                for phrase, users, before in picked
            ]
        return prompt.history_block(history, rising)

    @cached_property
    def checker(self) -> Checker:
        # Words the model was shown beyond the papers: names in the history are not
        # invented (they are in quotes and uncitable, but may be mentioned).
        return Checker(self.papers, self.names, [self.history], self.report)

    def spent(self) -> str:
        total = self.ledger.total
        cost = ledger_cost(self.ledger, self.settings.prices)
        money = f", ${cost:.4f} at list prices" if cost is not None else ""
        return f"{total.requests} request{'s' if total.requests != 1 else ''}{money}"


class LLMEngine:
    """Writes digests with a language model through `client`; `name` (the JSON's
    `synthesizer`) is the model name."""

    def __init__(
        self,
        client: Transport,
        settings: EngineSettings | None = None,
        offline: OfflineEngine | None = None,
    ) -> None:
        self.client = client
        self.settings = settings or EngineSettings()
        self.offline = offline or OfflineEngine()
        self.name = self.settings.model

    def synthesize(self, request: SynthesisRequest) -> Digest:
        """The digest of the request's window, or `SynthesisFailed` saying why not."""
        if not request.papers:
            # Nothing to write about: the offline engine's short "quiet week" post says it.
            digest = self.offline.synthesize(request)
            return with_note(digest, "No papers in the window, so no model was asked.")
        run = _Run(request, self.settings, self.offline)
        try:
            plan = self._plan(run)
            log.info(
                "%s digest of %d papers: %s", self.name, len(run.papers), _plan_text(plan, run)
            )
            if plan.single:
                draft, system = self._single(run)
            else:
                draft, system = self._map_reduce(run, plan)
            return self._assemble(run, plan, draft, system)
        except LLMError as err:
            raise SynthesisFailed(f"{err}; {run.spent()}") from err
        except BudgetExceeded as err:
            raise SynthesisFailed(str(err)) from err

    def plan(self, request: SynthesisRequest) -> Plan:
        """How the request's digest would be requested (for benchmarks and diagnostics;
        may ask the API to count tokens when the estimate is near the budget)."""
        return self._plan(_Run(request, self.settings, self.offline))

    # -- planning ---------------------------------------------------------------------------

    def _single_parts(self, run: _Run) -> tuple[list[dict[str, Any]], str]:
        request = run.request
        data = prompt.papers_block(request.window, run.records) + "\n" + run.history
        system = prompt.system_blocks(
            prompt.rules(request.topic, request.window, language=self.settings.language), data
        )
        return system, prompt.synthesis_task(len(run.papers), request.notable_count)

    def _plan(self, run: _Run) -> Plan:
        s = self.settings
        request = run.request
        system, task = self._single_parts(run)
        draft_schema = schema_json(DigestDraft)
        schema_tokens = estimate_json_tokens(draft_schema)
        estimate = estimate_tokens(_joined(system) + task) + schema_tokens
        counted = False
        low, high = UNCERTAIN_BAND
        near = low * s.max_input_tokens < estimate <= high * s.max_input_tokens
        if s.count_tokens and self.client.counts_tokens and near:
            try:
                estimate = self.client.count_tokens(
                    system, [prompt.user(task)], DigestDraft, s.model
                )
                counted = True
            except LLMError as err:
                log.info("token count unavailable (%s); planning by estimate", err)
        map_fixed = estimate_tokens(
            prompt.rules(request.topic, request.window)
            + prompt.papers_block(request.window, [], len(run.papers))
            + prompt.map_task(0, 0, "x" * 60, 1, 1, 0)
        ) + estimate_json_tokens(schema_json(ClusterNotes))
        reduce_fixed = (
            estimate_tokens(
                prompt.rules(request.topic, request.window, source="notes")
                + prompt.notes_block(request.window, [], len(run.papers))
                + run.history
                + prompt.synthesis_task(len(run.papers), request.notable_count, from_notes=True)
            )
            + schema_tokens
        )
        return plan_digest(
            prompt_tokens=estimate,
            budget=s.max_input_tokens,
            record_tokens=[estimate_tokens(r) + 1 for r in run.records],
            clusters=lambda: [theme.members for theme in run.analysis.themes],
            map_fixed_tokens=map_fixed,
            reduce_fixed_tokens=reduce_fixed,
            counted=counted,
        )

    # -- requests ---------------------------------------------------------------------------

    def _ask(
        self,
        run: _Run,
        system: list[dict[str, Any]],
        task: str,
        output_model: type[T],
        model: str,
        max_tokens: int,
        *,
        repair: bool = True,
    ) -> T:
        """One structured request, and one repair request if the answer is unusable."""
        try:
            parsed, usage = self.client.structured(
                system, [prompt.user(task)], output_model, model, max_tokens
            )
        except LLMOutputInvalid as err:
            run.ledger.add(model, err.usage)
            if not repair:
                raise
            log.warning("%s gave an unusable answer (%s); asking once more", model, err)
            run.repairs.append(err.kind)
            again = prompt.repair_task(task, err.kind, str(err))
            try:
                parsed, usage = self.client.structured(
                    system, [prompt.user(again)], output_model, model, max_tokens
                )
            except LLMOutputInvalid as second:
                run.ledger.add(model, second.usage)
                raise LLMOutputInvalid(
                    second.kind, f"{err}, and after one repair request {second}"
                ) from None
            except LLMError as second:
                run.ledger.add(model, second.usage)
                raise
        except LLMError as err:
            run.ledger.add(model, err.usage)
            raise
        run.ledger.add(model, usage)
        return parsed

    def _single(self, run: _Run) -> tuple[DigestDraft, list[dict[str, Any]]]:
        system, task = self._single_parts(run)
        draft = self._ask(
            run, system, task, DigestDraft, self.settings.model, self.settings.max_output_tokens
        )
        return draft, system

    def _map_reduce(self, run: _Run, plan: Plan) -> tuple[DigestDraft, list[dict[str, Any]]]:
        request = run.request
        themes = run.analysis.themes
        parts_of = {c: plan.chunk_clusters.count(c) for c in set(plan.chunk_clusters)}
        seen: dict[int, int] = {}
        words = int(plan.map_output_tokens * 0.6)  # words the notes may use, with room to spare
        notes: list[dict[str, Any]] = []
        rules = prompt.rules(request.topic, request.window, language=self.settings.language)
        for members, cluster in zip(plan.chunks, plan.chunk_clusters, strict=True):
            seen[cluster] = seen.get(cluster, 0) + 1
            data = prompt.papers_block(
                request.window, [run.records[i] for i in members], len(run.papers)
            )
            # No cache mark: a map prompt is sent once (twice only on a repair), and a cache
            # write costs 1.25x against a read that would rarely come.
            system = prompt.system_blocks(rules, data, cache=False)
            label = run.analysis.label(themes[cluster])
            task = prompt.map_task(
                len(members), len(run.papers), label, seen[cluster], parts_of[cluster], words
            )
            parsed = self._ask(
                run, system, task, ClusterNotes, self.settings.map_model, plan.map_output_tokens
            )
            notes.append(self._checked_notes(run, parsed, len(members)))
        data = prompt.notes_block(request.window, notes, len(run.papers)) + "\n" + run.history
        system = prompt.system_blocks(
            prompt.rules(
                request.topic, request.window, source="notes", language=self.settings.language
            ),
            data,
        )
        task = prompt.synthesis_task(len(run.papers), request.notable_count, from_notes=True)
        draft = self._ask(
            run, system, task, DigestDraft, self.settings.model, self.settings.max_output_tokens
        )
        return draft, system

    def _checked_notes(self, run: _Run, notes: ClusterNotes, count: int) -> dict[str, Any]:
        """Map notes through the same check as the digest, so the reduce step is never
        handed an id outside the window or a name from nowhere."""
        checker = run.checker

        def lines(items: list[Any], one_paper: bool = False) -> list[str]:
            out = []
            for note in items:
                text, _ = checker.text(note.text)
                listed = {normalize_id(p) for p in note.papers}
                ids = [i for i in (checker.known & listed) if i not in text]
                cited = list(dict.fromkeys(cited_ids(text) + sorted(ids)))
                if not text or not cited:
                    continue
                if one_paper:
                    text = f"{cite(cited[0])}: {text}" if cite(cited[0]) not in text else text
                elif ids:
                    text += " (" + ", ".join(cite(i) for i in sorted(ids)) + ")"
                out.append(text)
            return out

        summary, _ = checker.text(notes.summary)
        return {
            "label": checker.heading(notes.label) or "Cluster",
            "count": count,
            "summary": summary,
            "methods": lines(notes.methods),
            "notable": lines(notes.notable, one_paper=True),
            "challenges": lines(notes.challenges),
        }

    # -- the digest -------------------------------------------------------------------------

    def _assemble(
        self, run: _Run, plan: Plan, draft: DigestDraft, system: list[dict[str, Any]]
    ) -> Digest:
        request = run.request
        checker = run.checker
        notable = request.notable_count
        limits = {**SECTION_LIMITS, "notable": notable}
        gist, _ = checker.text(draft.gist)
        sections = {
            key: checker.items(getattr(draft.sections, key), key, limits[key])
            for key in DRAFT_SECTIONS
        }
        empty = [key for key in DRAFT_SECTIONS if not sections[key]]
        if empty:
            self._refill(run, system, empty, sections, limits)
        if not gist:
            gist = run.offline_digest.gist
            run.remarks.append("the gist is the offline engine's (the model's had nothing left)")
        report = run.report
        if report.removed_ids or report.dropped_sentences or report.stray_ids:
            log.warning("citation check: %s", report.log_text())
        built = new_digest(
            request,
            synthesizer=self.name,
            gist=gist,
            sections=(
                *(Section(k, SECTION_TITLES[k], sections[k]) for k in DRAFT_SECTIONS),
                metadata_section(request, self._description(), self._metadata(run, plan)),
            ),
            papers=run.entries,
        )
        # The check above already did this; kept so no path can skip the contract.
        digest, removed = restrict_citations(scrub_digest(built, run.report))
        if removed:  # pragma: no cover - the checker removes these first
            log.error("restrict_citations removed ids the check let through: %s", removed)
        return digest

    def _refill(
        self,
        run: _Run,
        system: list[dict[str, Any]],
        empty: list[str],
        sections: dict[str, tuple[Item, ...]],
        limits: dict[str, int],
    ) -> None:
        """One request for the sections left empty (same prefix and schema, so a cache
        read); what stays empty comes from the offline engine."""
        log.warning("sections left empty after the citation check: %s", ", ".join(empty))
        run.repairs.append("empty sections")
        task = prompt.section_repair_task(empty, run.request.notable_count)
        try:
            patch = self._ask(
                run,
                system,
                task,
                DigestDraft,
                self.settings.model,
                self.settings.max_output_tokens,
                repair=False,
            )
            for key in empty:
                sections[key] = run.checker.items(getattr(patch.sections, key), key, limits[key])
        except LLMError as err:
            # The rest of the digest is good: the offline engine fills these sections in.
            log.warning("refilling %s failed: %s", ", ".join(empty), err)
            run.remarks.append(f"the refill request failed ({err})")
        for key in empty:
            if not sections[key]:
                offline = run.offline_digest.section(key)
                sections[key] = offline.items if offline else ()
                run.offline_sections.append(key)

    def _description(self) -> str:
        language = prompt.language_name(self.settings.language)
        return (
            f"{self.settings.model} through {self.client.provider}: structured JSON output, "
            f"written in {language}, every citation checked against the window's papers"
        )

    def _metadata(self, run: _Run, plan: Plan) -> tuple[Item, ...]:
        total = run.ledger.total
        s = self.settings
        model = s.model if plan.single else f"{s.model}; map step {s.map_model}"
        requests = f"{total.requests}"
        details = []
        if total.retries:
            details.append(f"{total.retries} repeated after a transient API error")
        if run.repairs:
            details.append("repairs: " + ", ".join(_REPAIR_WORDS.get(r, r) for r in run.repairs))
        if details:
            requests += f" ({'; '.join(details)})"
        items = [
            Item("Model", model),
            Item("Plan", _plan_text(plan, run)),
            Item("Requests", requests),
            Item("Input tokens", f"{total.input_tokens:,} (uncached)"),
            Item("Output tokens", f"{total.output_tokens:,}"),
            Item("Cache-read tokens", f"{total.cache_read_tokens:,}"),
            Item("Cache-write tokens", f"{total.cache_write_tokens:,}"),
            Item("Estimated cost", describe_cost(run.ledger, s.prices)),
            Item("Citation check", run.report.summary()),
        ]
        if run.offline_sections:
            names = ", ".join(SECTION_TITLES[k] for k in run.offline_sections)
            items.append(
                Item(
                    "Sections from the offline engine",
                    f"{names}: the model's version had no valid citation left, even after "
                    "one refill request",
                )
            )
        items.extend(Item("Note", remark) for remark in run.remarks)
        return tuple(items)


_REPAIR_WORDS = {
    "truncated": "a truncated answer",
    "invalid_json": "invalid JSON",
    "schema": "an answer off the schema",
    "refused": "a refusal",
    "empty": "an empty answer",
    "empty sections": "sections left empty by the citation check",
}


def _plan_text(plan: Plan, run: _Run) -> str:
    how = "counted" if plan.counted else "estimated"
    size = f"{len(run.papers)} papers, ~{plan.prompt_tokens:,} prompt tokens ({how})"
    if plan.single:
        return f"one request: {size} fit the {plan.budget:,}-token input budget"
    clusters = len(set(plan.chunk_clusters))
    return (
        f"map-reduce: {size} exceed the {plan.budget:,}-token input budget; "
        f"{len(plan.chunks)} map requests over {clusters} clusters, then one reduce request"
    )


def _joined(system: list[dict[str, Any]]) -> str:
    return "\n".join(block["text"] for block in system)
