"""The Discord poster: the real discord.py, over REST, against the fake Discord API."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from bot.config import Config, parse_config
from bot.discord.poster import DiscordPoster, part_nonce
from bot.discord.render import LIMIT, discord_len
from bot.errors import ConfigError, PlatformError
from bot.posting import post_digest
from digest.model import Digest, Item, Section
from digest.render import Block, Message, Span
from storage import Corpus
from storage.ledger import PostLedger
from tests.fakes.discord_server import BOT_ID, CHANNEL_ID, FakeDiscord
from tests.support.discord import build_digest, week_papers
from tests.support.publishing import post_like_the_cli

CHANNEL = f"discord:{CHANNEL_ID}"


@pytest.fixture
def poster(config: Config) -> Iterator[DiscordPoster]:
    opened = DiscordPoster.from_config(config)
    yield opened
    opened.close()


def thread_of(fake: FakeDiscord) -> int:
    threads = fake.threads(CHANNEL_ID)
    assert len(threads) == 1
    return int(threads[0]["id"])


def expected(poster: DiscordPoster, digest: Digest) -> list[str]:
    return [p.payload.content for p in poster.render(digest)]


class TestPosting:
    def test_parent_then_thread_then_sections(
        self, fake: FakeDiscord, poster: DiscordPoster, digest: Digest, corpus: Corpus
    ) -> None:
        """The parent goes to the channel, a thread is started from it (named after the
        digest, archived after a week), and every other part goes into that thread, in order."""
        outcome = post_digest(digest, CHANNEL, poster, PostLedger(corpus))
        parts = expected(poster, digest)
        assert outcome.sent == outcome.total == len(parts)

        parent = fake.messages(CHANNEL_ID)
        assert [m["content"] for m in parent] == parts[:1]
        thread = fake.threads(CHANNEL_ID)[0]
        assert thread["id"] == parent[0]["id"]  # started from the parent message
        assert thread["name"] == f"{digest.title}, {digest.since} to {digest.until}"
        assert thread["thread_metadata"]["auto_archive_duration"] == 10080
        assert outcome.thread_ref == thread["id"]
        assert [m["content"] for m in fake.messages(int(thread["id"]))] == parts[1:]

    def test_every_message_pings_nobody_and_fits(
        self, fake: FakeDiscord, poster: DiscordPoster, digest: Digest, corpus: Corpus
    ) -> None:
        """Every request carries allowed_mentions {"parse": []}, suppresses link previews,
        carries a nonce with enforce_nonce, and is within 2000 characters."""
        post_digest(digest, CHANNEL, poster, PostLedger(corpus))
        created = fake.created()
        assert len(created) == len(poster.render(digest))
        for message in created:
            assert message.allowed_mentions == {"parse": []}
            assert message.flags & 4  # SUPPRESS_EMBEDS
            assert message.enforce_nonce and message.nonce and len(message.nonce) <= 25
            assert discord_len(message.content) <= LIMIT
        assert len({m.nonce for m in created}) == len(created)

    def test_a_20000_character_section_arrives_complete(
        self, fake: FakeDiscord, poster: DiscordPoster, digest: Digest, corpus: Corpus
    ) -> None:
        """A 20,000-character section reaches the thread as several messages, all within
        the limit, with every sentence in it."""
        sentences = [f"Finding {i} concerns reward hacking under setting {i}." for i in range(420)]
        big = replace(
            digest,
            sections=(
                Section("themes", "Key Research Themes", (Item("Huge", " ".join(sentences)),)),
            ),
        )
        post_digest(big, CHANNEL, poster, PostLedger(corpus))
        thread = fake.messages(thread_of(fake))
        assert len(thread) >= 11
        assert all(discord_len(m["content"]) <= LIMIT for m in thread)
        text = "\n".join(m["content"] for m in thread)
        for i in range(420):
            assert text.count(f"Finding {i} concerns") == 1

    def test_a_long_catalog_is_attached(
        self, fake: FakeDiscord, poster: DiscordPoster, corpus: Corpus
    ) -> None:
        """A 120-paper week's catalog arrives as a file in the thread's last message."""
        big = build_digest(week_papers(120))
        post_digest(big, CHANNEL, poster, PostLedger(corpus))
        last = fake.created()[-1]
        assert len(last.files) == 1
        name, data = last.files[0]
        assert name.endswith("-papers.md")
        assert data.decode("utf-8").count("https://arxiv.org/abs/") == 120

    def test_rate_limit_then_success(
        self, fake: FakeDiscord, poster: DiscordPoster, digest: Digest, corpus: Corpus
    ) -> None:
        """A 429 (with Discord's Via header and JSON retry_after) is waited out and the
        message sent once."""
        fake.rate_limit("POST", r"/channels/\d+/messages$", retry_after=0.05, times=2)
        post_digest(digest, CHANNEL, poster, PostLedger(corpus))
        statuses = [
            c.status for c in fake.calls if c.method == "POST" and c.path.endswith("/messages")
        ]
        assert statuses[:3] == [429, 429, 200]
        assert len(fake.created()) == len(poster.render(digest))

    def test_a_rerun_posts_nothing(
        self, fake: FakeDiscord, poster: DiscordPoster, digest: Digest, corpus: Corpus
    ) -> None:
        """Posting the same digest to the same channel again sends nothing."""
        ledger = PostLedger(corpus)
        post_digest(digest, CHANNEL, poster, ledger)
        before = len(fake.calls)
        again = post_digest(digest, CHANNEL, poster, ledger)
        assert again.already_posted and again.sent == 0
        assert len(fake.calls) == before


class TestExactlyOnce:
    def test_a_resend_with_the_same_nonce_is_deduplicated_by_discord(
        self, fake: FakeDiscord, poster: DiscordPoster, digest: Digest
    ) -> None:
        """Sending a part twice (a crash between send and ledger) yields one message: the
        nonce is the same and enforce_nonce is set."""
        part = poster.render(digest)[0]
        first = poster.send(str(CHANNEL_ID), part, None)
        second = poster.send(str(CHANNEL_ID), part, None)
        assert first == second
        assert len(fake.messages(CHANNEL_ID)) == 1

    def test_nonces_differ_by_part_channel_and_thread(
        self, digest: Digest, poster: DiscordPoster
    ) -> None:
        """A nonce names one part of one digest in one channel or thread."""
        parts = poster.render(digest)
        assert part_nonce(parts[0], "1", None) == part_nonce(parts[0], "1", None)
        assert part_nonce(parts[0], "1", None) != part_nonce(parts[1], "1", None)
        assert part_nonce(parts[1], "1", "5") != part_nonce(parts[1], "1", "6")
        assert part_nonce(parts[0], "1", None) != part_nonce(parts[0], "2", None)

    def test_find_sent_finds_our_message_in_the_thread(
        self, fake: FakeDiscord, poster: DiscordPoster, digest: Digest
    ) -> None:
        """After a crash, a part that did reach the thread is found in its history; one
        that did not is not."""
        parts = poster.render(digest)
        parent = poster.send(str(CHANNEL_ID), parts[0], None)
        thread = poster.open_thread(str(CHANNEL_ID), parent, digest.title)
        sent = poster.send(str(CHANNEL_ID), parts[1], thread)
        assert poster.find_sent(str(CHANNEL_ID), thread, parts[1]) == sent
        assert poster.find_sent(str(CHANNEL_ID), thread, parts[2]) is None

    def test_find_sent_skips_a_parent_that_already_has_its_thread(
        self, fake: FakeDiscord, poster: DiscordPoster, digest: Digest
    ) -> None:
        """A parent of an earlier complete post (it has a thread) is not taken for the
        parent of the post that was cut off."""
        parts = poster.render(digest)
        parent = poster.send(str(CHANNEL_ID), parts[0], None)
        assert poster.find_sent(str(CHANNEL_ID), None, parts[0]) == parent
        poster.open_thread(str(CHANNEL_ID), parent, digest.title)
        assert poster.find_sent(str(CHANNEL_ID), None, parts[0]) is None

    def test_a_thread_created_but_not_recorded_is_found_again(
        self, fake: FakeDiscord, poster: DiscordPoster, digest: Digest
    ) -> None:
        """Opening the thread again for the same parent (Discord: 160004) returns the
        existing thread instead of failing."""
        parent = poster.send(str(CHANNEL_ID), poster.render(digest)[0], None)
        first = poster.open_thread(str(CHANNEL_ID), parent, digest.title)
        again = poster.open_thread(str(CHANNEL_ID), parent, digest.title)
        assert first == again == parent
        assert len(fake.threads()) == 1


class TestErrors:
    def test_missing_token_is_a_config_error(self, fake: FakeDiscord) -> None:
        """No DISCORD_TOKEN: a ConfigError that names the variable, before any request."""
        config = parse_config({}, {"DIGESTBOT_DISCORD_API_URL": fake.base_url})
        with pytest.raises(ConfigError, match="DISCORD_TOKEN"):
            DiscordPoster.from_config(config)
        assert fake.calls == []

    def test_a_rejected_token_says_so(self) -> None:
        """Discord answering 401: one sentence naming the variable to fix."""
        with FakeDiscord(token="the-right-one") as fake:
            config = parse_config(
                {}, {"DISCORD_TOKEN": "wrong", "DIGESTBOT_DISCORD_API_URL": fake.base_url}
            )
            with pytest.raises(PlatformError, match=r"401 Unauthorized.*\$DISCORD_TOKEN"):
                DiscordPoster.from_config(config)

    def test_missing_access(self, fake: FakeDiscord, poster: DiscordPoster, digest: Digest) -> None:
        """A channel the bot cannot see: Missing Access, with what to do."""
        fake.deny(CHANNEL_ID)
        with pytest.raises(PlatformError, match=r"Missing Access.*invite the bot"):
            poster.send(str(CHANNEL_ID), poster.render(digest)[0], None)

    def test_unknown_channel(
        self, fake: FakeDiscord, poster: DiscordPoster, digest: Digest
    ) -> None:
        """A wrong channel id: Unknown Channel, check the id."""
        with pytest.raises(PlatformError, match=r"Unknown Channel.*check the id"):
            poster.send("123", poster.render(digest)[0], None)

    def test_missing_permissions(
        self, fake: FakeDiscord, poster: DiscordPoster, digest: Digest
    ) -> None:
        """Sending refused for permissions: the permissions the bot needs are named."""
        fake.fail("POST", r"/messages$", 403, 50013, "Missing Permissions")
        with pytest.raises(PlatformError, match=r"Missing Permissions.*Send Messages in Threads"):
            poster.send(str(CHANNEL_ID), poster.render(digest)[0], None)

    def test_not_a_channel_id(self, poster: DiscordPoster, digest: Digest) -> None:
        """A channel that is not a number is refused with the expected form."""
        with pytest.raises(PlatformError, match="not a Discord channel id"):
            poster.send("general", poster.render(digest)[0], None)

    def test_unreachable_api(self, digest: Digest) -> None:
        """Nothing listening at the API URL: cannot reach Discord, with the URL."""
        with FakeDiscord() as gone:
            url = gone.base_url
        config = parse_config({}, {"DISCORD_TOKEN": "x", "DIGESTBOT_DISCORD_API_URL": url})
        with pytest.raises(PlatformError, match=r"cannot reach Discord at http://127\.0\.0\.1"):
            DiscordPoster.from_config(config)

    def test_the_token_never_appears_in_errors_or_logs(
        self, fake: FakeDiscord, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Logging in and failing to post leave no trace of the token in logs or messages."""
        token = "sekrit-token-value"
        config = parse_config(
            {}, {"DISCORD_TOKEN": token, "DIGESTBOT_DISCORD_API_URL": fake.base_url}
        )
        caplog.set_level("DEBUG")
        poster = DiscordPoster.from_config(config)
        try:
            fake.deny(CHANNEL_ID)
            with pytest.raises(PlatformError) as raised:
                poster.send(str(CHANNEL_ID), poster.render(build_digest(()))[0], None)
        finally:
            poster.close()
        assert token not in str(raised.value)
        assert token not in caplog.text
        assert all(c.authorization == f"Bot {token}" for c in fake.calls)


class TestDelivery:
    def test_deliver_posts_once_and_closes(
        self, fake: FakeDiscord, config: Config, corpus: Corpus, digest: Digest
    ) -> None:
        """The CLI's --post (the Publisher with a poster of its own) posts parent + thread +
        sections; a second run sends nothing."""
        first = post_like_the_cli(config, corpus, digest, CHANNEL).outcome
        assert first.sent == first.total and not first.already_posted
        assert len(fake.messages(CHANNEL_ID)) == 1
        assert len(fake.messages(thread_of(fake))) == first.total - 1
        calls = len(fake.calls)
        second = post_like_the_cli(config, corpus, digest, CHANNEL).outcome
        assert second.already_posted and second.sent == 0
        posts = [c for c in fake.calls[calls:] if c.method == "POST"]
        assert posts == []
        assert all(m["author"]["id"] == str(BOT_ID) for m in fake.messages(CHANNEL_ID))


class TestNotices:
    def test_post_messages_sends_neutral_messages(
        self, fake: FakeDiscord, poster: DiscordPoster
    ) -> None:
        """Neutral messages (an admin notice, say) go to a channel rendered and inert."""
        notice = Message(
            "notice",
            "Weekly digest failed",
            (Block("paragraph", (Span("arXiv was down @everyone."),)),),
        )
        ids = poster.post_reply(str(CHANNEL_ID), [notice])
        sent = fake.messages(CHANNEL_ID)
        assert [m["id"] for m in sent] == ids
        assert sent[0]["content"].startswith("**Weekly digest failed**")
        assert "@everyone" not in sent[0]["content"]
        assert fake.created()[0].allowed_mentions == {"parse": []}

    def test_a_borrowed_poster_needs_a_running_client(self, digest: Digest) -> None:
        """Borrowing a client that has not started: a clear PlatformError, no hang."""
        from bot.discord.poster import new_client

        poster = DiscordPoster.borrow(new_client())
        with pytest.raises(PlatformError, match="not running"):
            poster.send(str(CHANNEL_ID), poster.render(digest)[0], None)
