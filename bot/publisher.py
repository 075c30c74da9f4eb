"""The one way a digest gets into a channel: choose the digest (reuse a stored one, or
build it) by one rule, then post it exactly once through the ledger (`bot.posting`).

Every trigger comes here: `/digest TOPIC` from either chat adapter, the weekly scheduler,
resuming a post a crash cut off, and the CLI's `digest --post`. One lock per (channel,
topic, window) lets two triggers for the same post take turns, so the second finds the
first's ledger entries and posts nothing new.

The rule (`Publisher.choose`), in order:
1. unless forced, a post of this window already started or finished in the channel keeps
   the digest it started with: a resumed thread gets the same messages, a re-run none;
2. unless forced, a stored digest of the window is reused when it was built after arXiv
   had announced the whole window (it cannot change any more) or within the last hour
   (asking twice must not cost two builds);
3. otherwise the digest is built (fetching what the corpus lacks) and stored.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.errors import BotError, PlatformError
from bot.posting import Poster, PostOutcome, post_digest, split_channel
from digest.arxiv_source import Progress
from digest.errors import DigestError
from digest.model import Digest
from digest.render import Block, Message, Span
from digest.service import DigestService
from digest.windows import Window, is_settled
from storage import StorageError
from storage.corpus import StoredDigest
from storage.ledger import LedgerKey, PostLedger

log = logging.getLogger(__name__)

REUSE_FOR = timedelta(hours=1)  # a stored digest younger than this is reused as it is


class ClosingPoster(Poster, Protocol):
    """A poster that holds a connection of its own (the CLI's), closed when done."""

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class PostRequest:
    """A digest someone asked to have posted: what the router answers to `/digest TOPIC`."""

    topic: str
    window: Window
    force: bool = False

    def failed(self, error: Exception) -> Message:
        """What to tell whoever asked when one of `PUBLISH_ERRORS` stopped the post."""
        text = f"I could not post the {self.topic} digest for {self.window} here: {error}"
        return Message("reply", "", (Block("paragraph", (Span(text),)),))


# What a publish can fail with that is not a bug: arXiv or the engine (DigestError), the
# database (StorageError), the platform or a missing connection (BotError).
PUBLISH_ERRORS = (BotError, DigestError, StorageError)


@dataclass(frozen=True, slots=True)
class Chosen:
    """The digest to post and its stored id (None only if it could not be stored)."""

    digest: Digest
    digest_id: int | None


@dataclass(frozen=True, slots=True)
class Publication:
    """What one publish did: the digest posted, where, and the ledger's outcome."""

    digest: Digest
    digest_id: int | None
    channel: str
    outcome: PostOutcome

    def message(self, where: str = "this channel") -> Message:
        """The one sentence that tells whoever asked in chat what happened ("post:" links
        become permalinks where the platform has them)."""
        thread = Span("its thread")
        if self.outcome.thread_ref:
            thread = Span("its thread", url=f"post:{self.channel}:{self.outcome.thread_ref}")
        return self._sentence(where, thread)

    def text(self) -> str:
        """The same sentence for a terminal (the CLI's `--post`), naming the thread by id."""
        ref = self.outcome.thread_ref
        thread = Span(f"its thread ({ref})" if ref else "its thread")
        message = self._sentence(self.channel, thread)
        return "".join(span.text for block in message.blocks for span in block.spans)

    def _sentence(self, where: str, thread: Span) -> Message:
        digest, outcome = self.digest, self.outcome
        what = f"{digest.title} ({digest.since} to {digest.until})"
        if outcome.already_posted:
            spans = (
                Span(f"{what} is already in {where}: "),
                thread,
                Span(". Nothing was sent; add --force to post it again."),
            )
        elif outcome.sent < outcome.total:
            spans = (
                Span(f"Finished posting {what} in {where}, in "),
                thread,
                Span(f": {outcome.sent} of {outcome.total} messages were missing."),
            )
        else:
            spans = (
                Span(f"Posted {what} in {where}, with its sections in "),
                thread,
                Span(f" ({outcome.total} messages)."),
            )
        return Message("posted", "", (Block("paragraph", spans),))


class Builder(Protocol):
    """Builds and stores a digest: the service itself, or `bot.builds.ProcessBuilds`, which
    runs the service in a child process (the bot's; the CLI builds in its own process)."""

    def build_stored(
        self, topic: str, window: Window, *, fetch: bool = ..., force_fetch: bool = ...
    ) -> tuple[Digest, int | None]: ...


class Publisher:
    """Chooses and posts digests for every trigger; holds the running platforms' posters."""

    def __init__(
        self,
        service: DigestService,
        ledger: PostLedger,
        posters: Iterable[Poster] = (),
        *,
        clock: Callable[[], datetime] | None = None,
        present: Callable[[Digest, int | None], Digest] | None = None,
        builder: Builder | None = None,
    ) -> None:
        self.service = service
        # Who builds when a digest must be built (rule 3): the service in this process unless
        # given another (`digestbot run` gives it child processes).
        self.builder: Builder = builder or service
        self.ledger = ledger
        self.clock = clock or service.clock
        # Adds what a post carries besides its text: the web permalink and the chart
        # (bot.presentation); applied to the chosen digest just before it is posted.
        self.present = present
        self._posters: dict[str, Poster] = {}
        self._locks: dict[LedgerKey, threading.Lock] = {}
        self._guard = threading.Lock()
        for poster in posters:
            self.add_poster(poster)

    # -- posters ------------------------------------------------------------------------------

    def add_poster(self, poster: Poster) -> None:
        """Post to `poster.platform` channels with this poster (an adapter's, once started)."""
        with self._guard:
            self._posters[poster.platform] = poster

    def poster(self, channel: str) -> Poster:
        """The poster for a channel like "slack:C0123"; PlatformError when there is none."""
        platform, _ = split_channel(channel)
        with self._guard:
            poster = self._posters.get(platform)
        if poster is None:
            raise PlatformError(
                f"no {platform} connection is running, so {channel} cannot be posted to"
            )
        return poster

    # -- the rule -----------------------------------------------------------------------------

    def choose(
        self,
        topic: str,
        window: Window,
        channel: str | None = None,
        *,
        force: bool = False,
        fetch: bool = True,
        refetch: bool = False,
        progress: Progress | None = None,
    ) -> Chosen:
        """The digest to post to `channel` (the module docstring gives the rule). `force`
        builds a new one; `refetch` asks arXiv again even for a complete window."""
        if not force:
            if channel is not None:
                started = self._started(LedgerKey(channel, topic, window.since, window.until))
                if started is not None:
                    log.info(
                        "%s %s: the digest %s already posted to %s",
                        topic,
                        window,
                        started.digest_id,
                        channel,
                    )
                    return started
            stored = self.service.corpus.latest_digest(topic, window.since, window.until)
            if stored is not None and self._reusable(stored, window):
                log.info("%s %s: reusing the stored digest %s", topic, window, stored.id)
                return Chosen(Digest.from_json(stored.body), stored.id)
        if progress is not None:  # a terminal's progress bar: the build stays in this process
            digest, digest_id = self.service.build_stored(
                topic, window, fetch=fetch, progress=progress, force_fetch=refetch
            )
        else:
            digest, digest_id = self.builder.build_stored(
                topic, window, fetch=fetch, force_fetch=refetch
            )
        return Chosen(digest, digest_id)

    def _started(self, key: LedgerKey) -> Chosen | None:
        for entry in self.ledger.entries(key).values():
            if entry.digest_id is not None:
                stored = self.service.corpus.get_digest(entry.digest_id)
                if stored is not None:
                    return Chosen(Digest.from_json(stored.body), stored.id)
        return None

    def _reusable(self, stored: StoredDigest, window: Window) -> bool:
        fresh = self.clock() - stored.generated_at < REUSE_FOR
        return fresh or is_settled(window, stored.generated_at)

    # -- posting ------------------------------------------------------------------------------

    def publish(
        self,
        topic: str,
        window: Window,
        channel: str,
        *,
        force: bool = False,
        fetch: bool = True,
        refetch: bool = False,
        progress: Progress | None = None,
    ) -> Publication:
        """Post (or finish posting) topic's digest of the window to `channel`, exactly once;
        with `force`, a newly built digest as a new thread."""
        poster = self.poster(channel)  # a malformed channel fails before any work
        key = LedgerKey(channel, topic, window.since, window.until)
        with self._lock(key):
            chosen = self.choose(
                topic,
                window,
                channel,
                force=force,
                fetch=fetch,
                refetch=refetch,
                progress=progress,
            )
            digest = chosen.digest
            if self.present is not None:
                digest = self.present(digest, chosen.digest_id)
            outcome = post_digest(
                digest,
                channel,
                poster,
                self.ledger,
                digest_id=chosen.digest_id,
                force=force,
            )
        return Publication(chosen.digest, chosen.digest_id, channel, outcome)

    def publish_request(self, request: PostRequest, channel: str) -> Publication:
        """Publish what a chat command asked for into the channel it was asked in."""
        return self.publish(request.topic, request.window, channel, force=request.force)

    def _lock(self, key: LedgerKey) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())
