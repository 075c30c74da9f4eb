"""The offline engine: a digest from the window's papers alone, with no key and no network.

The default when no API key is set and the fallback when the API fails. Every sentence it
writes about a paper comes from that paper's own abstract or from counts over the window.
"""

from __future__ import annotations

from dataclasses import replace

from digest.model import SECTION_TITLES, CatalogEntry, Digest, Item, Section, cite
from digest.offline.analysis import WindowAnalysis
from digest.offline.challenges import challenges_section
from digest.offline.methods import method_families, methods_section
from digest.offline.notable import notable_section, rank_notable
from digest.offline.overview import OFFLINE_ENGINE, gist, overview_items
from digest.offline.prose import tldr
from digest.offline.themes import themes_section
from digest.offline.trends import new_section, rising_terms
from digest.synthesis import SynthesisRequest, catalog, metadata_section, new_digest

TLDR_WORDS = 40


def with_tldrs(
    analysis: WindowAnalysis, entries: tuple[CatalogEntry, ...]
) -> tuple[CatalogEntry, ...]:
    """Catalog entries carrying each paper's TL;DR: its contribution as one sentence with
    the paper's short name as subject (the catalog shows names, not citation markers)."""
    position = {p.id: i for i, p in enumerate(analysis.papers)}
    out = []
    for entry in entries:
        text = tldr(analysis, position[entry.id], entry.short_name, TLDR_WORDS)
        if text:
            text = text.replace(cite(entry.id), entry.short_name)
        out.append(replace(entry, tldr=text))
    return tuple(out)


def _section(key: str, items: list[Item]) -> Section:
    return Section(key, SECTION_TITLES[key], tuple(items))


class OfflineEngine:
    """Writes digests by clustering and extraction; deterministic for a given window."""

    name = "offline"

    def synthesize(self, request: SynthesisRequest) -> Digest:
        papers = list(request.papers)
        entries = catalog(papers)
        if not papers:
            return new_digest(
                request,
                synthesizer=self.name,
                papers=entries,
                gist=(
                    f"No new papers on {request.topic.title} were submitted to arXiv from "
                    f"{request.window.since} to {request.window.until}. A quiet week; the next "
                    "digest comes as usual."
                ),
                sections=(metadata_section(request, OFFLINE_ENGINE),),
            )
        names = {e.id: e.short_name for e in entries}
        analysis = WindowAnalysis(papers, request.topic.name)
        entries = with_tldrs(analysis, entries)
        families = method_families(analysis)
        picks = rank_notable(analysis, request.notable_count)
        challenges = challenges_section(analysis, names)
        rising, _ = rising_terms(analysis, request.history)
        overview = overview_items(
            analysis,
            request,
            [(family.name, len(members), family.does) for family, members in families],
            picks,
            [f"“{analysis.casing.phrase(p)}”" for p, _, _ in rising],
            [i.heading for i in challenges if i.papers],
        )
        sections = (
            _section("themes", themes_section(analysis, names)),
            _section("methods", methods_section(analysis, names, families)),
            _section("notable", notable_section(analysis, names, picks)),
            _section("new", new_section(analysis, request.history)),
            _section("challenges", challenges),
            _section("overview", overview),
            metadata_section(request, OFFLINE_ENGINE),
        )
        return new_digest(
            request,
            synthesizer=self.name,
            gist=gist(analysis, request, picks),
            sections=sections,
            papers=entries,
        )
