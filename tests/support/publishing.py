"""Posting a digest made by a test the way production does: stored in the corpus, then
chosen and posted by the one `Publisher`."""

from __future__ import annotations

from bot.commands import Router
from bot.config import Config
from bot.posting import Poster, split_channel
from bot.publisher import Publication, Publisher
from bot.wiring import digest_service, poster_for
from digest.model import Digest
from digest.windows import Window
from storage import Corpus
from storage.ledger import PostLedger


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
