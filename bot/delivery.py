"""Posting a built digest to a channel from outside the bot process (the CLI's --post):
picks the platform's poster and runs it through the ledger."""

from __future__ import annotations

from bot.config import Config
from bot.posting import Poster, PostOutcome, post_digest, split_channel
from bot.presentation import Presenter
from digest.model import Digest
from storage import Corpus
from storage.ledger import PostLedger


def poster_for(platform: str, config: Config) -> Poster:
    """The web-API poster of a platform (no gateway or socket needed)."""
    if platform == "slack":
        from bot.slack.poster import SlackPoster

        return SlackPoster.from_config(config)
    from bot.discord.poster import DiscordPoster

    return DiscordPoster.from_config(config)


def deliver(
    config: Config,
    corpus: Corpus,
    digest: Digest,
    channel: str,
    *,
    digest_id: int | None = None,
    force: bool = False,
) -> PostOutcome:
    """Post `digest` to `channel` ("slack:C0123" or "discord:1234") exactly once."""
    platform, _ = split_channel(channel)
    poster = poster_for(platform, config)
    digest = Presenter.from_config(config, corpus)(digest, digest_id)
    try:
        return post_digest(
            digest, channel, poster, PostLedger(corpus), digest_id=digest_id, force=force
        )
    finally:
        close = getattr(poster, "close", None)
        if close is not None:
            close()
