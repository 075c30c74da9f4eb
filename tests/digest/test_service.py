"""DigestService.build end to end: the loopback arXiv, a real SQLite corpus, the offline engine."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from digest.arxiv_source import ArxivSettings, ArxivSource
from digest.errors import DigestError, SynthesisFailed, UnknownTopic
from digest.model import Digest, Item, Section, cite
from digest.offline.engine import OfflineEngine
from digest.render import to_text
from digest.service import DigestService, WindowNotFetched
from digest.synthesis import SynthesisRequest
from digest.topics import TopicCatalog
from digest.windows import Window
from storage import Corpus
from tests.fakes.arxiv_server import FakeArxiv
from tests.support.paths import REPO
from tests.support.weeks import WEEK_A, WEEK_B, load_week, week_entries

WINDOW_A, PAPERS_A = load_week(WEEK_A)
WINDOW_B, PAPERS_B = load_week(WEEK_B)
AFTER_BOTH_SETTLED = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)


def at(moment: datetime) -> Callable[[], datetime]:
    """A clock stopped at `moment`."""
    return lambda: moment


@pytest.fixture
def fake() -> Iterator[FakeArxiv]:
    """The loopback arXiv holding both invented weeks."""
    with FakeArxiv() as served:
        served.add_entries(week_entries(WEEK_A), week_entries(WEEK_B))
        yield served


def make_service(corpus: Corpus, fake: FakeArxiv | None, **kwargs) -> DigestService:
    source = None
    if fake is not None:
        source = ArxivSource(
            ArxivSettings(api_url=fake.url, delay_seconds=0, backoff_seconds=0.01),
            sleep=lambda _: None,
        )
    kwargs.setdefault("clock", at(AFTER_BOTH_SETTLED))
    return DigestService(
        corpus=corpus,
        topics=TopicCatalog.with_builtins(),
        source=source,
        **kwargs,
    )


class TestBuild:
    def test_fetches_synthesizes_and_stores(self, corpus: Corpus, fake: FakeArxiv) -> None:
        """build() fetches the window, digests exactly its papers and stores the JSON."""
        service = make_service(corpus, fake)

        digest = service.build("post-train", WINDOW_A)

        assert {e.id for e in digest.papers} == {p.id for p in PAPERS_A}
        assert digest.generated_at == AFTER_BOTH_SETTLED
        assert len(fake.requests) == 1
        stored = corpus.digests("post-train")
        assert [(s.since, s.until, s.engine) for s in stored] == [
            (WINDOW_A.since, WINDOW_A.until, "offline")
        ]
        assert stored[0].body == digest.to_json()
        assert Digest.from_json(stored[0].body) == digest

    def test_build_stored_returns_the_id_of_the_row_it_saved(
        self, corpus: Corpus, fake: FakeArxiv
    ) -> None:
        """Issue 16: the id comes from the save itself, not a second look-up (which could
        find another build's row of the same window)."""
        service = make_service(corpus, fake)

        first, first_id = service.build_stored("post-train", WINDOW_A)
        second, second_id = service.build_stored(
            "post-train", WINDOW_A, fetch=False, regenerate=True
        )
        cached, cached_id = service.build_stored("post-train", WINDOW_A, fetch=False)

        assert first_id != second_id
        assert cached_id == second_id and cached == second  # the stored digest, served again
        for digest, digest_id in ((first, first_id), (second, second_id)):
            stored = corpus.get_digest(digest_id)
            assert stored is not None and stored.body == digest.to_json()

    def test_next_window_compares_with_the_stored_digest(
        self, corpus: Corpus, fake: FakeArxiv
    ) -> None:
        """The second week's History holds the first digest; "What Is New" refers to it."""
        service = make_service(corpus, fake)
        first = service.build("post-train", WINDOW_A)

        history = service.history(service.topics.get("post-train"), WINDOW_B)
        second = service.build("post-train", WINDOW_B)

        assert history.digests == (first,)
        assert {p.id for p in history.earlier_papers} == {p.id for p in PAPERS_A}
        new = second.section("new").items
        assert new[0].heading == "Against the digest of 2026-06-08 to 2026-06-14"
        assert "The previous digest covered 2026-06-08 to 2026-06-14" in new[0].text
        assert [s.since for s in corpus.digests("post-train")] == [WINDOW_B.since, WINDOW_A.since]

    def test_first_digest_has_empty_history(self, corpus: Corpus, fake: FakeArxiv) -> None:
        """Nothing stored before the window: History is empty and the digest says first."""
        service = make_service(corpus, fake)

        assert service.history(service.topics.get("post-train"), WINDOW_A).is_empty
        digest = service.build("post-train", WINDOW_A)

        assert digest.section("new").items[0].heading == "First digest for this topic"

    def test_no_fetch_asks_arxiv_nothing(self, corpus: Corpus, fake: FakeArxiv) -> None:
        """build(fetch=False) uses only the corpus: no request to the API at all."""
        service = make_service(corpus, fake)
        service.build("post-train", WINDOW_A)
        asked = len(fake.requests)

        again = service.build("post-train", WINDOW_A, fetch=False)

        assert len(fake.requests) == asked == 1
        assert service.source.requests_made == 1
        assert again.paper_count == 6
        assert not again.notes, "a fully fetched window is not flagged incomplete"

    def test_no_fetch_of_a_never_fetched_window_is_not_a_quiet_week(
        self, corpus: Corpus, fake: FakeArxiv
    ) -> None:
        """Without fetching, a window the corpus never fetched raises instead of becoming a
        stored "no new papers" digest."""
        service = make_service(corpus, fake)

        with pytest.raises(WindowNotFetched, match="never fetched post-train"):
            service.build("post-train", WINDOW_B, fetch=False)

        assert corpus.latest_digest("post-train", WINDOW_B.since, WINDOW_B.until) is None
        assert fake.requests == []

    def test_no_fetch_of_a_partly_fetched_window_says_it_is_incomplete(
        self, corpus: Corpus, fake: FakeArxiv
    ) -> None:
        """Fetched for only some of its days, a window's digest says it is incomplete."""
        service = make_service(corpus, fake)
        part = Window(WINDOW_A.since, WINDOW_A.since.replace(day=WINDOW_A.since.day + 2))
        service.build("post-train", part)

        digest = service.build("post-train", WINDOW_A, fetch=False)

        assert any(
            "Incomplete window" in note and "3 of its 7 days" in note for note in digest.notes
        ), digest.notes

    def test_settled_window_is_served_from_the_corpus(
        self, corpus: Corpus, fake: FakeArxiv
    ) -> None:
        """A second build of a settled window does not ask arXiv again."""
        service = make_service(corpus, fake)
        service.build("post-train", WINDOW_A)

        service.build("post-train", WINDOW_A)

        assert len(fake.requests) == 1

    def test_empty_week_is_stored_too(self, corpus: Corpus, fake: FakeArxiv) -> None:
        """A window with no papers gives a stored short digest, not an error."""
        service = make_service(corpus, fake)

        digest = service.build("post-train", Window(date(2026, 6, 1), date(2026, 6, 7)))

        assert digest.paper_count == 0 and digest.papers == ()
        assert [s.key for s in digest.sections] == ["metadata"]
        assert len(corpus.digests("post-train")) == 1

    def test_without_a_source_fetching_is_an_error(self, corpus: Corpus) -> None:
        """No arXiv source configured: build() refuses to fetch; build(fetch=False) works
        from stored papers (and says a never-fetched, empty window was never fetched)."""
        service = make_service(corpus, None)

        with pytest.raises(DigestError, match="no arXiv source"):
            service.build("post-train", WINDOW_A)
        with pytest.raises(WindowNotFetched):
            service.build("post-train", WINDOW_A, fetch=False)
        corpus.store_papers(PAPERS_A, "post-train", [p.id for p in PAPERS_A])
        assert service.build("post-train", WINDOW_A, fetch=False).paper_count == 6

    def test_unknown_topic(self, corpus: Corpus, fake: FakeArxiv) -> None:
        """An unknown topic raises UnknownTopic naming the known ones, and asks nothing."""
        service = make_service(corpus, fake)

        with pytest.raises(UnknownTopic, match="post-train"):
            service.build("no-such-topic", WINDOW_A)
        assert fake.requests == []


class CitingOutsider:
    """An engine that cites a paper outside the window (as a model might hallucinate one)."""

    name = "outsider-engine"

    def synthesize(self, request: SynthesisRequest) -> Digest:
        from digest.offline.engine import OfflineEngine

        digest = OfflineEngine().synthesize(request)
        invented = Item("Invented", f"{cite('2601.00001')} is not in this window.", ("2601.00001",))
        themes = digest.section("themes")
        extra = Section(themes.key, themes.title, (*themes.items, invented))
        sections = tuple(extra if s.key == "themes" else s for s in digest.sections)
        return replace(
            digest,
            synthesizer=self.name,
            sections=sections,
            gist=f"{digest.gist} Also {cite('2601.00002')}.",
        )


class Failing:
    """An engine that always fails the way a broken API answer does."""

    name = "failing-engine"

    def synthesize(self, request: SynthesisRequest) -> Digest:
        raise SynthesisFailed("the answer was not valid JSON")


class TestEngines:
    def test_citations_outside_the_window_are_removed_before_storing(
        self, corpus: Corpus, fake: FakeArxiv
    ) -> None:
        """An engine's citations of papers outside the window never reach the stored digest."""
        service = make_service(corpus, fake, synthesizer=CitingOutsider())

        digest = service.build("post-train", WINDOW_A)

        window_ids = {p.id for p in PAPERS_A}
        assert set(digest.all_citations()) <= window_ids
        assert "Invented" not in [i.heading for i in digest.section("themes").items]
        assert "2601.0000" not in str(corpus.digests("post-train")[0].body)
        assert digest.synthesizer == "outsider-engine"

    def test_failed_engine_falls_back_to_offline_with_a_note(
        self, corpus: Corpus, fake: FakeArxiv
    ) -> None:
        """A failing engine is replaced by the offline engine, and the digest says why."""
        service = make_service(corpus, fake, synthesizer=Failing())

        digest = service.build("post-train", WINDOW_A)

        assert digest.synthesizer == "offline"
        assert len(digest.notes) == 1
        assert "failing-engine failed" in digest.notes[0]
        assert "not valid JSON" in digest.notes[0]
        assert corpus.digests("post-train")[0].body["notes"] == list(digest.notes)

    def test_fallback_note_is_visible_in_the_channel(self, corpus: Corpus, fake: FakeArxiv) -> None:
        """The reason for the fallback shows in the rendered digest, not only in the JSON."""
        service = make_service(corpus, fake, synthesizer=Failing())

        digest = service.build("post-train", WINDOW_A)

        text = re.sub(r"\s+", " ", to_text(digest))
        assert "failing-engine failed (the answer was not valid JSON)" in text


class TestStoredDigestIsServed:
    """A complete window whose papers have not changed gets its stored digest back."""

    def test_second_build_serves_the_stored_digest(
        self, corpus: Corpus, fake: FakeArxiv
    ) -> None:
        """No second synthesis: the same digest (its generated_at too), no new stored row."""
        first = make_service(corpus, fake).build("post-train", WINDOW_A)
        later = make_service(corpus, fake, clock=at(datetime(2026, 7, 9, 8, 0, tzinfo=UTC)))

        again = later.build("post-train", WINDOW_A)

        assert again == first
        assert again.generated_at == AFTER_BOTH_SETTLED
        assert len(corpus.digests("post-train")) == 1

    def test_regenerate_synthesizes_again(self, corpus: Corpus, fake: FakeArxiv) -> None:
        """--regenerate ignores the stored digest and stores a new one."""
        make_service(corpus, fake).build("post-train", WINDOW_A)
        moment = datetime(2026, 7, 9, 8, 0, tzinfo=UTC)

        again = make_service(corpus, fake, clock=at(moment)).build(
            "post-train", WINDOW_A, regenerate=True
        )

        assert again.generated_at == moment
        assert len(corpus.digests("post-train")) == 2

    def test_changed_papers_are_synthesized_again(self, corpus: Corpus, fake: FakeArxiv) -> None:
        """A paper revised after the digest was written makes the stored digest stale."""
        make_service(corpus, fake).build("post-train", WINDOW_A)
        revised = replace(
            PAPERS_A[0],
            version=2,
            abstract=PAPERS_A[0].abstract + " We add a second experiment.",
            updated=datetime(2026, 7, 1, 9, 0, tzinfo=UTC),
        )
        corpus.upsert_papers([revised])
        moment = datetime(2026, 7, 9, 8, 0, tzinfo=UTC)

        again = make_service(corpus, fake, clock=at(moment)).build(
            "post-train", WINDOW_A, fetch=False
        )

        assert again.generated_at == moment

    def test_a_window_not_yet_complete_is_synthesized_again(
        self, corpus: Corpus, fake: FakeArxiv
    ) -> None:
        """A digest written before arXiv had announced the whole window is not final."""
        early = datetime(2026, 6, 14, 20, 0, tzinfo=UTC)  # the window's last day
        make_service(corpus, fake, clock=at(early)).build("post-train", WINDOW_A)

        again = make_service(corpus, fake).build("post-train", WINDOW_A, fetch=False)

        assert again.generated_at == AFTER_BOTH_SETTLED

    def test_a_fallback_digest_is_not_served_to_the_engine_that_failed(
        self, corpus: Corpus, fake: FakeArxiv
    ) -> None:
        """A digest the offline engine wrote is rebuilt once another engine is configured."""
        make_service(corpus, fake).build("post-train", WINDOW_A)

        class Named:
            name = "claude-test"

            def synthesize(self, request: SynthesisRequest) -> Digest:
                return replace(OfflineEngine().synthesize(request), synthesizer=self.name)

        again = make_service(corpus, fake, synthesizer=Named()).build("post-train", WINDOW_A)

        assert again.synthesizer == "claude-test"

    def test_serving_the_stored_digest_imports_no_scikit_learn(self, tmp_path) -> None:
        """The cached path must not pay for scikit-learn or SciPy (a second of start-up)."""
        script = f"""
import sys
from datetime import UTC, datetime
from digest.service import DigestService
from digest.topics import TopicCatalog
from digest.windows import Window
from storage import open_corpus
from tests.support.paths import REPO
from tests.support.weeks import WEEK_A, load_week
window, papers = load_week(WEEK_A)
clock = lambda: datetime(2026, 6, 30, 12, tzinfo=UTC)
with open_corpus({str(tmp_path / "c.db")!r}) as corpus:
    corpus.store_papers(papers, "post-train", [p.id for p in papers])
    service = DigestService(corpus, TopicCatalog.with_builtins(), clock=clock)
    if sys.argv[1] == "build":
        service.build("post-train", window, fetch=False)
    else:
        service.build("post-train", window, fetch=False)
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("sklearn", "scipy")))
"""
        run = [sys.executable, "-c", script]
        subprocess.run([*run, "build"], check=True, cwd=REPO, capture_output=True)
        served = subprocess.run([*run, "serve"], check=True, cwd=REPO, capture_output=True)

        assert served.stdout.decode().strip() == "[]"
