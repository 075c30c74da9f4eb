"""Posting a digest made by a test the way production does: stored in the corpus, then
chosen and posted by the one `Publisher`."""

from __future__ import annotations

from datetime import UTC, date, datetime

from bot.commands import Router
from bot.config import Config
from bot.posting import Poster, split_channel
from bot.publisher import Publication, Publisher
from bot.wiring import digest_service, poster_for
from digest.model import Digest
from digest.offline.engine import OfflineEngine
from digest.synthesis import SynthesisRequest
from digest.topics import POST_TRAIN
from digest.windows import Window
from storage import Corpus
from storage.ledger import PostLedger
from tests.support.papers import make_paper


def store(corpus: Corpus, digest: Digest) -> int:
    """Store `digest` unless its window already has one; the stored digest's id."""
    stored = corpus.latest_digest(digest.topic, digest.since, digest.until)
    if stored is not None:
        return stored.id
    return corpus.save_digest(
        topic=digest.topic,
        since=digest.since,
        until=digest.until,
        engine=digest.synthesizer,
        generated_at=digest.generated_at,
        body=digest.to_json(),
    )


def post_like_the_cli(
    config: Config, corpus: Corpus, digest: Digest, channel: str, *, force: bool = False
) -> Publication:
    """What `digestbot digest --post CHANNEL --no-fetch` does once `digest` is the stored
    digest of its window (built after the window settled, so the Publisher reuses it)."""
    store(corpus, digest)
    poster = poster_for(split_channel(channel)[0], config)
    try:
        publisher = Publisher(digest_service(config, corpus), PostLedger(corpus), [poster])
        window = Window(digest.since, digest.until)
        return publisher.publish(digest.topic, window, channel, force=force, fetch=False)
    finally:
        poster.close()


def publisher_for(router: Router, *posters: Poster) -> Publisher:
    """The Publisher `digestbot run` wires next to this router: same service and ledger
    (the adapters add their own posters to it)."""
    return Publisher(router.service, router.ledger, posters)


POSTING_WINDOW = Window(date(2026, 5, 28), date(2026, 6, 3))


def offline_digest(n: int = 6) -> Digest:
    """The offline digest of n invented reward-model papers (a parent and its thread)."""
    papers = tuple(
        make_paper(
            f"2606.{i:05d}",
            title=f"Method{i}: Reward Models for Step {i}",
            abstract=f"We propose Method{i}, a reward model for reasoning step {i}. "
            "Experiments show gains on math benchmarks. A limitation is the cost of labels.",
        )
        for i in range(1, n + 1)
    )
    request = SynthesisRequest(POST_TRAIN, POSTING_WINDOW, papers, datetime(2026, 6, 4, tzinfo=UTC))
    return OfflineEngine().synthesize(request)
