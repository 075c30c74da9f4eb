"""Digest builds in child processes (bot.builds): the child builds and stores, the parent's
Publisher posts exactly once; a failure in the child is a BuildFailed sentence; no child
outlives the pool or the bot."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import psutil
import pytest

from bot.builds import UNEXPECTED, BuildFailed, ProcessBuilds
from bot.config import Config, parse_config
from bot.publisher import PUBLISH_ERRORS, PostRequest, Publication, Publisher
from digest.arxiv_source import ArxivSettings, ArxivSource
from digest.service import DigestService
from digest.topics import TopicCatalog
from digest.windows import Window
from storage import Corpus
from storage.ledger import PostLedger
from tests.fakes.poster import FakePoster
from tests.support.paths import REPO
from tests.support.racing import seed

pytestmark = pytest.mark.slow  # each test starts Python processes that import the engine

UNREACHABLE = "http://127.0.0.1:9/api/query"
WINDOW = Window(date(2026, 6, 1), date(2026, 6, 7))
CHANNEL = "slack:C1"


def store_week(corpus: Corpus) -> None:
    """Five papers of WINDOW, fetched completely already: a build never needs arXiv."""
    seed(Path(corpus.path), WINDOW)


def config_for(db: Path) -> Config:
    raw = {"database": {"path": str(db)}, "arxiv": {"api_url": UNREACHABLE, "retries": 0}}
    return parse_config(raw, {}, source="test")


@pytest.fixture
def builds(corpus: Corpus) -> Iterator[ProcessBuilds]:
    store_week(corpus)
    pool = ProcessBuilds(config_for(Path(corpus.path)), corpus, workers=1)
    yield pool
    pool.close()


def publisher_with(corpus: Corpus, builds: ProcessBuilds) -> Publisher:
    unreachable = ArxivSource(ArxivSettings(api_url=UNREACHABLE, retries=0))
    service = DigestService(corpus, TopicCatalog.with_builtins(), unreachable)
    return Publisher(service, PostLedger(corpus), [FakePoster()], builder=builds)


def pool_children() -> list[int]:
    """The build processes this test process started (not multiprocessing's tracker)."""
    return [
        child.pid
        for child in psutil.Process().children()
        if "spawn_main" in " ".join(child.cmdline()) and _alive(child.pid)
    ]


def gone(pids: list[int], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(psutil.pid_exists(pid) and _alive(pid) for pid in pids):
            return True
        time.sleep(0.1)
    return False


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


class TestBuildInAChild:
    def test_no_process_starts_before_the_first_build(self, builds: ProcessBuilds) -> None:
        assert pool_children() == []

    def test_a_digest_built_in_the_child_is_posted_once_by_the_parent(
        self, corpus: Corpus, builds: ProcessBuilds
    ) -> None:
        publisher = publisher_with(corpus, builds)
        outcomes: list[Publication] = []
        triggers = [
            threading.Thread(
                target=lambda: outcomes.append(publisher.publish("post-train", WINDOW, CHANNEL))
            )
            for _ in range(3)
        ]
        for trigger in triggers:
            trigger.start()
        for trigger in triggers:
            trigger.join(120)
        # Built in another process, at the lowest priority, and stored there.
        children = pool_children()
        assert children and os.getpid() not in children
        assert all(psutil.Process(pid).nice() == 19 for pid in children)
        stored = corpus.digests("post-train")
        assert len(stored) == 1 and stored[0].body["papers"]
        # Posted once, by this process, through the ledger.
        poster = publisher.poster(CHANNEL)
        assert isinstance(poster, FakePoster)
        keys = poster.keys()
        total = max(o.outcome.total for o in outcomes)
        assert total > 2 and len(keys) == len(set(keys)) == total
        assert sorted(o.outcome.already_posted for o in outcomes) == [False, True, True]
        assert {o.digest_id for o in outcomes} == {stored[0].id}

    def test_the_chart_is_drawn_in_the_child(self, corpus: Corpus, builds) -> None:
        digest, digest_id = builds.build_stored("post-train", WINDOW)
        assert digest.paper_count == 5 and digest_id is not None
        assert (Path(corpus.path).parent / "charts" / f"digest-{digest_id}.png").is_file()


class TestFailures:
    def test_a_digest_error_in_the_child_is_one_sentence_for_the_user(
        self, corpus: Corpus, builds: ProcessBuilds
    ) -> None:
        empty = Window(WINDOW.since.replace(year=2025), WINDOW.until.replace(year=2025))
        publisher = publisher_with(corpus, builds)
        with pytest.raises(BuildFailed) as caught:
            publisher.publish("post-train", empty, CHANNEL, fetch=False)
        assert isinstance(caught.value, PUBLISH_ERRORS)  # the adapters tell the user
        said = PostRequest("post-train", empty).failed(caught.value)
        text = said.blocks[0].spans[0].text
        assert "has never fetched post-train" in text and "\n" not in text
        assert "Traceback" not in text
        assert publisher.poster(CHANNEL).sent == []  # type: ignore[attr-defined]

    def test_an_unexpected_error_in_the_child_says_where_the_details_are(
        self, corpus: Corpus, builds: ProcessBuilds
    ) -> None:
        # A damaged earlier digest (its row is not a digest): reading the history fails
        # with a KeyError, which no layer translates.
        earlier = Window(WINDOW.since.replace(month=5), WINDOW.until.replace(month=5))
        corpus.save_digest(
            topic="post-train",
            since=earlier.since,
            until=earlier.until,
            engine="offline",
            generated_at=datetime(2026, 5, 20, tzinfo=UTC),
            body={"not": "a digest"},
        )
        with pytest.raises(BuildFailed) as caught:
            builds.build_stored("post-train", WINDOW)
        assert str(caught.value) == UNEXPECTED
        assert len(corpus.digests("post-train", before=WINDOW.since)) == 1  # nothing new

    def test_a_child_that_cannot_start_is_a_build_failure_and_the_next_build_retries(
        self, corpus: Corpus, tmp_path: Path
    ) -> None:
        store_week(corpus)
        (tmp_path / "not-a-db").mkdir()
        broken = ProcessBuilds(config_for(tmp_path / "not-a-db"), corpus, workers=1)
        try:
            for _ in range(2):  # a new pool each time, not a pool broken forever
                with pytest.raises(BuildFailed, match="stopped before it finished"):
                    broken.build_stored("post-train", WINDOW)
        finally:
            broken.close()

    def test_a_child_killed_mid_build_is_a_build_failure_and_the_next_build_works(
        self, corpus: Corpus, builds: ProcessBuilds
    ) -> None:
        failures: list[Exception] = []

        def build() -> None:
            try:
                builds.build_stored("post-train", WINDOW)
            except BuildFailed as err:
                failures.append(err)

        trigger = threading.Thread(target=build)
        trigger.start()
        deadline = time.monotonic() + 30
        while not pool_children() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # a first build imports the engine for seconds: it is under way
        for child in pool_children():
            os.kill(child, signal.SIGKILL)
        trigger.join(60)
        assert [str(e) for e in failures] == [
            "the process building the digest stopped before it finished (the bot's log may "
            "say why); asking again starts a new one"
        ]
        assert corpus.digests("post-train") == []
        assert builds.build_stored("post-train", WINDOW)[1] is not None


class TestCharts:
    def test_a_chart_is_drawn_in_a_child_and_not_after_close(self, builds) -> None:
        from digest.chart import ChartData

        data = ChartData(themes=(("Reward models", 3),), weeks=((WINDOW.since, 5),))
        png = builds.render_chart(data, "post-train, a week")
        assert png.startswith(b"\x89PNG") and pool_children()
        builds.close()
        with pytest.raises(RuntimeError, match="stopping"):
            builds.render_chart(data, "post-train, a week")


class TestShutdown:
    def test_close_ends_every_child_and_refuses_new_builds(self, builds) -> None:
        builds.build_stored("post-train", WINDOW)
        children = pool_children()
        assert children
        builds.close()
        assert gone(children)
        with pytest.raises(BuildFailed, match="stopping"):
            builds.build_stored("post-train", WINDOW)

    def test_idle_children_end_and_the_next_build_starts_them_again(self, corpus: Corpus) -> None:
        store_week(corpus)
        builds = ProcessBuilds(config_for(Path(corpus.path)), corpus, workers=1, idle_seconds=0.5)
        try:
            builds.build_stored("post-train", WINDOW)
            children = pool_children()
            assert children
            assert gone(children)  # half a second with nothing to build
            assert builds.build_stored("post-train", WINDOW)[1] is not None
            assert pool_children()
        finally:
            builds.close()

    def test_children_end_when_the_parent_is_killed(self, corpus: Corpus) -> None:
        """SIGKILL (or the OOM killer) gives the pool no chance to shut down: the children
        notice their parent is gone and exit on their own."""
        store_week(corpus)
        script = textwrap.dedent(
            f"""
            import psutil
            from bot.builds import ProcessBuilds
            from bot.config import parse_config
            from datetime import date
            from digest.windows import Window
            from storage import open_corpus

            if __name__ == "__main__":
                corpus = open_corpus({corpus.path!r})
                config = parse_config({{"database": {{"path": {corpus.path!r}}},
                                       "arxiv": {{"api_url": {UNREACHABLE!r}}}}}, {{}})
                builds = ProcessBuilds(config, corpus, workers=1)
                builds.build_stored("post-train", Window(date(2026, 6, 1), date(2026, 6, 7)))
                print(*(p.pid for p in psutil.Process().children()), flush=True)
                input()
            """
        )
        parent = subprocess.Popen(
            [sys.executable, "-c", script],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert parent.stdout is not None
            children = [int(pid) for pid in parent.stdout.readline().split()]
            assert children and all(_alive(pid) for pid in children)
            parent.kill()
            parent.wait(10)
            assert gone(children)
        finally:
            if parent.poll() is None:
                parent.kill()
