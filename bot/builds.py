"""Digest builds in child processes, for `digestbot run`.

Building a digest is CPU-bound Python (importing scikit-learn, the offline engine, drawing
the chart). Inside the bot's process it competes for the GIL and the cores with the thread
that answers chat platforms: with builds running behind a burst of 50 parallel Slack acks,
the acks' p99 rose from about 60 ms to 150-190 ms even at the lowest thread priority. Here
each build runs in a small pool of child processes at the lowest CPU priority, which the
kernel schedules behind the bot's own threads.

A child only builds and stores the digest (the SQLite database in WAL mode is shared) and
draws its chart into the chart cache on disk; it returns the stored digest's id. Choosing
what to post and posting it stay in the parent's `Publisher`, so the post ledger's
exactly-once claims are made by one process as before.

    builds = ProcessBuilds(config, corpus)  # no process starts until the first build
    digest, digest_id = builds.build_stored(topic, window, fetch=True, force_fetch=False)
    builds.close()                          # lets builds in progress finish; no child outlives it

Children that have had nothing to build for `IDLE_SECONDS` end (a weekly bot builds a few
digests on Monday and would otherwise hold two engines' memory all week); the next build
starts them again, which costs about a second.

A build that fails in the child, or a child that dies, is raised here as `BuildFailed`,
whose message is one sentence for the user.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from concurrent.futures.process import BrokenProcessPool, ProcessPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from bot.errors import BotError

if TYPE_CHECKING:
    from bot.config import Config
    from digest.chart import ChartData
    from digest.model import Digest
    from digest.service import DigestService
    from digest.windows import Window
    from storage import Corpus

log = logging.getLogger(__name__)
T = TypeVar("T")

IDLE_SECONDS = 600.0  # a pool with no build for this long ends: each child holds ~165 MB
WORKERS = 2  # builds at once: one per core of a small host; more only queue for the CPU
NICE = 19  # the lowest CPU priority: the bot's threads (acks, posting) always go first
# 'spawn' starts a fresh interpreter: nothing of the parent's threads, locks or open SQLite
# connections is copied into the child (forking a threaded process is unsafe), and it is
# what macOS does anyway.
START_METHOD = "spawn"
UNEXPECTED = "the digest build failed unexpectedly; the details are in the bot's log"


class BuildFailed(BotError):
    """A digest build in a child process failed or the child died; one sentence for the user."""


@dataclass(frozen=True, slots=True)
class Built:
    """What a child sends back: the stored digest's id, or the digest itself when the
    database is read-only (nothing could be stored), or why the build failed."""

    digest_id: int | None = None
    body: dict[str, Any] | None = None
    error: str | None = None


class ProcessBuilds:
    """Builds digests in child processes; the pool starts at the first build (so a short
    command or a bot that never builds pays nothing) and is started again after a child
    died. Thread-safe: the bot's worker threads each wait for their own build."""

    def __init__(
        self,
        config: Config,
        corpus: Corpus,
        *,
        workers: int = WORKERS,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        self.config = config
        self.corpus = corpus  # the parent's connection: the stored digest is read from it
        self.workers = workers
        self.idle_seconds = idle_seconds
        self._pool: ProcessPoolExecutor | None = None
        self._guard = threading.Lock()
        self._closed = False
        self._running = 0  # builds submitted and not yet finished
        self._idle_timer: threading.Timer | None = None

    def build_stored(
        self, topic: str, window: Window, *, fetch: bool = True, force_fetch: bool = False
    ) -> tuple[Digest, int | None]:
        """`DigestService.build_stored`, run in a child process; BuildFailed on failure."""
        from digest.model import Digest

        pool, future = self._submit(topic, window, fetch, force_fetch)
        try:
            built = future.result()
        except (BrokenProcessPool, CancelledError) as err:
            self._discard(pool)
            log.error("a digest build process died: %s", err)
            raise BuildFailed(
                "the process building the digest stopped before it finished (the bot's "
                "log may say why); asking again starts a new one"
            ) from None
        if built.error is not None:
            raise BuildFailed(built.error)
        if built.digest_id is None:
            return Digest.from_json(built.body or {}), None
        stored = self.corpus.get_digest(built.digest_id)
        if stored is None:  # only if someone deleted it in between
            raise BuildFailed(f"the digest {built.digest_id} was built but is no longer stored")
        return Digest.from_json(stored.body), stored.id

    def render_chart(self, data: ChartData, title: str) -> bytes:
        """`digest.chart.render_png`, run in a child process (for `ChartCache`): a failure
        is raised as `RuntimeError`, which the presenter logs and posts without a chart."""
        from digest.chart import render_png

        try:
            pool, future = self._submit_call(render_png, data, title)
        except BuildFailed as err:  # the bot is stopping
            raise RuntimeError(str(err)) from None
        try:
            return future.result()
        except (BrokenProcessPool, CancelledError) as err:
            self._discard(pool)
            raise RuntimeError(f"the process drawing the chart stopped: {err}") from None

    def _submit(
        self, topic: str, window: Window, fetch: bool, force_fetch: bool
    ) -> tuple[ProcessPoolExecutor, Future[Built]]:
        return self._submit_call(_build, topic, window, fetch, force_fetch)

    def _submit_call(
        self, function: Callable[..., T], *args: Any
    ) -> tuple[ProcessPoolExecutor, Future[T]]:
        with self._guard:
            if self._closed:
                raise BuildFailed("the bot is stopping, so the digest was not built")
            if self._pool is None:
                self._pool = self._start_pool()
            pool = self._pool
            try:
                future = pool.submit(function, *args)
            except BrokenProcessPool:
                # A child died while idle: start afresh once (the next failure is reported).
                pool.shutdown(wait=False)
                self._pool = pool = self._start_pool()
                future = pool.submit(function, *args)
            self._running += 1
            if self._idle_timer is not None:
                self._idle_timer.cancel()
                self._idle_timer = None
        future.add_done_callback(self._finished)
        return pool, future

    def _finished(self, _: Future[Any]) -> None:
        """Count a build as done; the last one of a burst starts the idle countdown."""
        with self._guard:
            self._running -= 1
            if self._running or self._closed or self._pool is None:
                return
            timer = threading.Timer(self.idle_seconds, self._end_idle_pool, (self._pool,))
            timer.daemon = True
            timer.name = "build-pool-idle"
            self._idle_timer = timer
        timer.start()

    def _end_idle_pool(self, pool: ProcessPoolExecutor) -> None:
        with self._guard:
            if self._pool is not pool or self._running:
                return  # replaced, closed or busy again since the countdown began
            self._pool = None
            self._idle_timer = None
        log.info("digest build processes idle for %.0f s: ending them", self.idle_seconds)
        pool.shutdown(wait=True)

    def _start_pool(self) -> ProcessPoolExecutor:
        import multiprocessing

        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context(START_METHOD),
            initializer=_start_child,
            initargs=(self.config, logging.getLogger().getEffectiveLevel(), os.getpid()),
        )

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        """Forget a broken pool, so that the next build starts a new one."""
        with self._guard:
            if self._pool is pool:
                self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Let builds in progress and queued finish, then end the children (shutdown)."""
        with self._guard:
            self._closed = True
            pool, self._pool = self._pool, None
            if self._idle_timer is not None:
                self._idle_timer.cancel()
        if pool is not None:
            pool.shutdown(wait=True)


# -- in the child ----------------------------------------------------------------------------

_service: DigestService | None = None
_present: Any = None  # bot.presentation.Presenter, imported in the child only


def _start_child(config: Config, log_level: int, parent: int) -> None:
    """Set up a child process: lowest priority, the bot's logging, its own database
    connection and digest service (the same wiring as the parent's)."""
    global _service, _present
    # Ctrl-C in a terminal signals the whole process group: the parent decides when the
    # children stop (it lets builds finish, then shuts the pool down).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError):  # a sandbox may forbid it: the build still runs
        os.nice(NICE)
    _watch_parent(parent)
    from bot.logs import setup_logging
    from bot.presentation import Presenter
    from bot.wiring import corpus_for, digest_service

    setup_logging(log_level, config.secrets.revealed())
    corpus = corpus_for(config)
    _service = digest_service(config, corpus)
    _present = Presenter.from_config(config, corpus)


def _watch_parent(parent: int) -> None:
    """End this child if the bot dies without shutting the pool down (SIGKILL, OOM): a
    build for nobody must not go on holding a core and the database."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _build(topic: str, window: Window, fetch: bool, force_fetch: bool) -> Built:
    """Build and store one digest (in the child), and draw its chart into the cache."""
    from digest.errors import DigestError
    from storage import StorageError

    assert _service is not None, "the pool's initializer sets up the service"
    try:
        digest, digest_id = _service.build_stored(
            topic, window, fetch=fetch, force_fetch=force_fetch
        )
    except (DigestError, StorageError, BotError) as err:
        log.warning("building %s %s failed: %s", topic, window, err)
        return Built(error=str(err))
    except Exception:
        log.exception("building %s %s failed", topic, window)
        return Built(error=UNEXPECTED)
    if digest_id is None:
        return Built(body=digest.to_json())
    try:
        # Drawn here so the parent finds it in the cache on disk instead of drawing it.
        _present(digest, digest_id)
    except Exception:  # a chart is a nicety; the parent tries again and logs
        log.exception("drawing the chart of digest %s failed", digest_id)
    return Built(digest_id=digest_id)
