"""The Discord bot as users meet it: transcripts of slash commands and mentions, run by
the real discord.py client (logged in over REST, no gateway) against the fake Discord API.

Interactions and messages are built from the payloads the gateway would deliver, so
`defer`, follow-ups, threads and sends all go through discord.py to the fake.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import discord
import pytest

from bot.commands import Router
from bot.config import Config, parse_config
from bot.discord.app import DigestClient, build_client, invite_link, question_thread_name
from bot.discord.render import ZWJ
from tests.fakes.discord_server import BOT_ID, CHANNEL_ID, GUILD_ID, USER_ID, FakeDiscord, Followup
from tests.support.discord import NOW, Answers, LoopThread, make_router, week_papers
from tests.support.publishing import publisher_for

ADMIN_ID = 900000000000000777


@pytest.fixture
def bot(loop_thread: LoopThread, router: Router, config: Config) -> Iterator[DigestClient]:
    """The bot's client, logged in (which registers the slash commands) on a loop thread."""

    async def start() -> DigestClient:
        client = build_client(router, config, publisher=publisher_for(router))
        await client.login("test-token")
        return client

    client = loop_thread.run(start())
    yield client
    loop_thread.run(client.close())


class Transcript:
    """Drives the bot like a Discord user: slash commands and messages mentioning it."""

    def __init__(self, fake: FakeDiscord, bot: DigestClient, loop: LoopThread) -> None:
        self.fake, self.bot, self.loop = fake, bot, loop

    def interaction(self, name: str, options: dict[str, str], **where: Any) -> discord.Interaction:
        payload = self.fake.interaction(name, options, **where)
        return self.loop.call(
            lambda: discord.Interaction(data=payload, state=self.bot._connection)  # type: ignore[arg-type]
        )

    def digest(self, command: str, **where: Any) -> list[Followup]:
        """`/digest command:<command>`; the follow-ups the user sees."""
        interaction = self.interaction("digest", {"command": command}, **where)
        self.loop.run(self.bot.handlers.digest(interaction, command))
        return self.fake.followups(interaction.token)

    def ask(self, question: str, **where: Any) -> list[Followup]:
        """`/ask question:<question>`."""
        interaction = self.interaction("ask", {"question": question}, **where)
        self.loop.run(self.bot.handlers.ask(interaction, question))
        return self.fake.followups(interaction.token)

    def say(
        self, channel_id: int, content: str, *, user_id: int = USER_ID, mentions_bot: bool = True
    ) -> dict:
        """A person posts a message; the bot gets it as the gateway would deliver it."""
        payload = self.fake.post_user_message(
            channel_id, content, user_id=user_id, mentions_bot=mentions_bot
        )

        async def deliver() -> None:
            channel = await self.bot.fetch_channel(channel_id)
            message = discord.Message(state=self.bot._connection, channel=channel, data=payload)  # type: ignore[arg-type]
            await self.bot.on_message(message)

        self.loop.run(deliver())
        return payload

    def thread(self) -> int:
        threads = self.fake.threads(CHANNEL_ID)
        assert len(threads) == 1
        return int(threads[0]["id"])


@pytest.fixture
def chat(fake: FakeDiscord, bot: DigestClient, loop_thread: LoopThread) -> Transcript:
    return Transcript(fake, bot, loop_thread)


def callback_types(fake: FakeDiscord) -> list[int]:
    return [c.body["type"] for c in fake.calls if c.path.endswith("/callback")]


class TestDigestCommand:
    def test_digest_posts_parent_and_thread_and_says_where(
        self, chat: Transcript, fake: FakeDiscord
    ) -> None:
        """/digest post-train: deferred at once ("thinking"), the digest posted as a parent in
        the channel with its sections in a thread, and a public follow-up naming the thread."""
        followups = chat.digest("post-train")
        assert callback_types(fake) == [5]  # DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE
        parent = fake.messages(CHANNEL_ID)
        assert len(parent) == 1 and parent[0]["content"].startswith("## LLM Post-Train")
        thread = chat.thread()
        sections = fake.messages(thread)
        assert sections[0]["content"].startswith("### Key Research Themes")
        assert sections[-1]["content"].startswith("### Paper Catalog")
        assert len(followups) == 1
        assert not followups[0].ephemeral and followups[0].replaced_thinking
        # A jump link to the parent, which is where the thread starts (they share an id).
        assert f"/{GUILD_ID}/{CHANNEL_ID}/{thread}>)" in followups[0].content
        assert followups[0].allowed_mentions == {"parse": []}

    def test_running_it_again_posts_nothing_new(self, chat: Transcript, fake: FakeDiscord) -> None:
        """The same /digest again: no new message, and the follow-up points at the thread."""
        chat.digest("post-train")
        created = len(fake.created())
        followups = chat.digest("post-train last week")
        assert len(fake.created()) == created
        assert "already in this channel" in followups[0].content
        assert f"/{GUILD_ID}/{CHANNEL_ID}/{chat.thread()}>)" in followups[0].content

    def test_help_is_ephemeral(self, chat: Transcript, fake: FakeDiscord) -> None:
        """/digest help: only the user sees it; the public "thinking" message is removed
        first, since the first follow-up would otherwise inherit its visibility."""
        followups = chat.digest("help")
        assert [f.ephemeral for f in followups] == [True]
        assert not followups[0].replaced_thinking
        assert any(c.method == "DELETE" and c.path.endswith("@original") for c in fake.calls)
        assert "/digest TOPIC" in followups[0].content
        assert fake.created() == []

    @pytest.mark.parametrize(
        ("command", "says"),
        [
            ("post-train next century", "is not a window"),
            ("no-such-topic", "unknown topic"),
            ("post-train --since 2026-13-01", "is not a date"),
            ("c++ AND (", "unknown topic"),
        ],
    )
    def test_bad_input_gets_ephemeral_usage(
        self, chat: Transcript, fake: FakeDiscord, command: str, says: str
    ) -> None:
        """A command that cannot be understood: an ephemeral answer saying why and how."""
        followups = chat.digest(command)
        assert all(f.ephemeral for f in followups)
        text = "\n".join(f.content for f in followups)
        assert says in text.replace("\\", "")
        assert "How to use /digest" in text
        assert fake.created() == []

    def test_history_links_jump_to_the_posted_digest(self, chat: Transcript) -> None:
        """/digest history: earlier digests, the posted one linked to its parent message."""
        chat.digest("post-train")
        parent = chat.fake.messages(CHANNEL_ID)[0]["id"]
        followups = chat.digest("history post-train")
        link = f"https://discord.com/channels/{GUILD_ID}/{CHANNEL_ID}/{parent}"
        assert f"(<{link}>)" in followups[0].content

    def test_only_admins_subscribe(self, chat: Transcript) -> None:
        """Subscribing is refused (ephemerally) for others and done for a configured admin."""
        refused = chat.digest("subscribe post-train mon 09:00 Europe/Berlin")
        assert refused[0].ephemeral and "Only the bot's admins" in refused[0].content
        done = chat.digest("subscribe post-train mon 09:00 Europe/Berlin", user_id=ADMIN_ID)
        assert not done[0].ephemeral and "Subscribed" in done[0].content

    def test_discord_errors_are_told_ephemerally(self, chat: Transcript, fake: FakeDiscord) -> None:
        """The bot may not post in the channel: the user is told why, privately."""
        fake.fail("POST", rf"/channels/{CHANNEL_ID}/messages$", 403, 50013, "Missing Permissions")
        followups = chat.digest("post-train")
        assert followups[0].ephemeral
        assert "Missing Permissions" in followups[0].content

    def test_a_digest_that_cannot_be_built_is_told_ephemerally(
        self, chat: Transcript, fake: FakeDiscord
    ) -> None:
        """A window the corpus lacks and arXiv cannot give: nothing posted, and the user is
        told which digest failed and why, privately."""
        followups = chat.digest("post-train 2 weeks ago")
        assert [f.ephemeral for f in followups] == [True]
        content = followups[0].content
        assert "I could not post the post-train digest for 2026-05-11" in content
        assert "no arXiv source is configured" in content
        assert fake.created() == []


class TestQuestions:
    def test_ask_answers_publicly_with_links(self, chat: Transcript, answers: Answers) -> None:
        """/ask: the question reaches the router's answerer; the answer is public, with its
        arXiv link."""
        followups = chat.ask("which papers use GRPO?")
        assert answers.asked == [("which papers use GRPO?", ())]
        assert not followups[0].ephemeral
        assert "You asked: which papers use GRPO?" in followups[0].content
        assert "[Name0](<https://arxiv.org/abs/2605.20000>)" in followups[0].content

    def test_a_mention_in_the_channel_is_answered_in_a_new_thread(
        self, chat: Transcript, fake: FakeDiscord, answers: Answers
    ) -> None:
        """ "@digestbot what is Name3?" in the channel: a thread started from the question,
        the answer inside it."""
        question = chat.say(CHANNEL_ID, f"<@{BOT_ID}> what is Name3?")
        threads = fake.threads(CHANNEL_ID)
        assert [t["id"] for t in threads] == [question["id"]]
        assert threads[0]["name"] == "what is Name3?"
        answer = fake.messages(int(question["id"]))
        assert len(answer) == 1 and "You asked: what is Name3?" in answer[0]["content"]
        assert answers.asked == [("what is Name3?", ())]
        assert fake.created()[-1].allowed_mentions == {"parse": []}

    def test_a_question_in_a_digest_thread_is_about_that_digest(
        self, chat: Transcript, fake: FakeDiscord, answers: Answers
    ) -> None:
        """A mention inside a digest's thread is answered there, with that digest's papers
        given to the answerer as context."""
        chat.digest("post-train")
        thread = chat.thread()
        before = len(fake.messages(thread))
        chat.say(thread, f"<@{BOT_ID}> which of these use GRPO?")
        question, context_ids = answers.asked[-1]
        assert question == "which of these use GRPO?"
        assert len(context_ids) == 14 and "2605.20000" in context_ids
        replies = fake.messages(thread)[before + 1 :]  # after the question itself
        assert len(replies) == 1 and "You asked" in replies[0]["content"]
        assert len(fake.threads()) == 1  # no new thread

    def test_ask_in_a_digest_thread_is_about_that_digest(
        self, chat: Transcript, answers: Answers
    ) -> None:
        """/ask run inside a digest's thread gives the answerer that digest's papers."""
        chat.digest("post-train")
        followups = chat.ask("which of these use GRPO?", channel_id=chat.thread())
        assert answers.asked[-1][0] == "which of these use GRPO?"
        assert len(answers.asked[-1][1]) == 14
        assert not followups[0].ephemeral

    def test_messages_that_do_not_ask_the_bot_are_ignored(
        self, chat: Transcript, fake: FakeDiscord, answers: Answers
    ) -> None:
        """Messages without a mention of the bot, and messages from bots, get no answer."""
        chat.say(CHANNEL_ID, "@everyone lunch?", mentions_bot=False)
        chat.say(CHANNEL_ID, f"<@{BOT_ID}> loop?", user_id=BOT_ID)
        assert answers.asked == []
        assert fake.created() == [] and fake.threads() == []

    def test_thread_names_come_from_the_question(self) -> None:
        """Thread names drop mentions and markup and fit Discord's 100 characters."""
        assert question_thread_name(f"<@{BOT_ID}> tell me about 2605.20000") == (
            "tell me about 2605.20000"
        )
        assert question_thread_name(f"<@{BOT_ID}>") == "Question"
        assert len(question_thread_name("word " * 100)) == 100


class TestInjection:
    HOSTILE = "@everyone @here <@123> <@&456> **now** [x](https://evil.example)"

    def test_hostile_questions_and_answers_ping_nobody(
        self, chat: Transcript, fake: FakeDiscord, answers: Answers
    ) -> None:
        """Mentions and markup in a question, and in an answer, reach Discord neither as
        pings (allowed_mentions is empty) nor as mention syntax or links."""
        answers.extra = self.HOSTILE  # an answerer gone wrong: the adapter still holds
        followups = chat.ask(f"what about this? {self.HOSTILE}")
        chat.say(CHANNEL_ID, f"<@{BOT_ID}> and this? {self.HOSTILE}")
        bodies = [f.content for f in followups] + [m.content for m in fake.created()]
        assert bodies
        for body in bodies:
            assert "@everyone" not in body and "@here" not in body
            assert not re.search(r"<@[!&]?\d", body)
            assert "](https://evil" not in body and "https://evil" not in body
        assert f"@{ZWJ}everyone" in followups[0].content  # still visible to readers
        assert all(f.allowed_mentions == {"parse": []} for f in followups)
        assert all(m.allowed_mentions == {"parse": []} for m in fake.created())
        assert fake.threads()[0]["name"].find("@everyone") == -1

    def test_hostile_paper_text_in_a_posted_digest_is_inert(
        self, fake: FakeDiscord, loop_thread: LoopThread, config: Config, corpus: Any
    ) -> None:
        """Paper titles and abstracts carrying mentions and links are posted without any."""
        papers = week_papers(
            8,
            title_extra=" @everyone <@123>",
            abstract_extra=" Ping @here <@&456> and see [this](https://evil.example) **now**.",
        )
        router = make_router(corpus, papers, Answers())

        async def start() -> DigestClient:
            client = build_client(router, config, publisher=publisher_for(router))
            await client.login("test-token")
            return client

        client = loop_thread.run(start())
        try:
            Transcript(fake, client, loop_thread).digest("post-train")
        finally:
            loop_thread.run(client.close())
        created = fake.created()
        assert len(created) > 3
        for message in created:
            assert "@everyone" not in message.content and "@here" not in message.content
            assert not re.search(r"<@[!&]?\d", message.content)
            assert "evil.example" not in message.content
            assert message.allowed_mentions == {"parse": []}


class TestSetup:
    def test_commands_are_registered_globally_by_default(
        self, bot: DigestClient, fake: FakeDiscord
    ) -> None:
        """Login registers /digest (one string option, servers only) and /ask (a required
        question) globally."""
        commands = {c["name"]: c for c in fake.commands()}
        assert set(commands) == {"digest", "ask"}
        digest_options = commands["digest"]["options"]
        assert [(o["name"], o["type"], o.get("required", False)) for o in digest_options] == [
            ("command", 3, False)
        ]
        assert commands["digest"]["contexts"] == [0]  # guild only
        ask_options = commands["ask"]["options"]
        assert [(o["name"], o["type"], o["required"]) for o in ask_options] == [
            ("question", 3, True)
        ]

    def test_configured_servers_get_the_commands_at_once(
        self, fake: FakeDiscord, loop_thread: LoopThread, router: Router
    ) -> None:
        """With discord.guild_ids the commands are copied to each server and synced there."""
        config = parse_config(
            {"discord": {"guild_ids": [str(GUILD_ID)]}},
            {"DISCORD_TOKEN": "x", "DIGESTBOT_DISCORD_API_URL": fake.base_url},
        )

        async def start() -> None:
            client = build_client(router, config, publisher=publisher_for(router))
            await client.login("x")
            await client.close()

        loop_thread.run(start())
        assert {c["name"] for c in fake.commands(GUILD_ID)} == {"digest", "ask"}
        assert fake.commands() == []

    def test_a_gateway_interaction_reaches_the_handler(
        self, bot: DigestClient, fake: FakeDiscord, loop_thread: LoopThread
    ) -> None:
        """An INTERACTION_CREATE as the gateway delivers it goes through the command tree
        (option parsing included) to the handler and its follow-up."""
        payload = fake.interaction("digest", {"command": "topics"})
        loop_thread.call(lambda: bot._connection.parse_interaction_create(payload))  # type: ignore[arg-type]
        assert fake.wait_for(lambda: len(fake.followups(payload["token"])) >= 1)
        assert "post-train" in fake.followups(payload["token"])[0].content

    def test_the_invite_link_asks_for_exactly_what_is_needed(self, config: Config) -> None:
        """Scopes bot + applications.commands; permissions View Channel, Send Messages,
        Send Messages in Threads, Create Public Threads, Read Message History, Attach Files."""
        link = invite_link(config)
        assert link.startswith("https://discord.com/oauth2/authorize?")
        assert f"client_id={BOT_ID}" in link
        assert "scope=bot+applications.commands" in link
        permissions = discord.Permissions(int(re.search(r"permissions=(\d+)", link).group(1)))  # type: ignore[union-attr]
        assert permissions == discord.Permissions(
            view_channel=True,
            send_messages=True,
            send_messages_in_threads=True,
            create_public_threads=True,
            read_message_history=True,
            attach_files=True,
        )
        assert permissions.value == 309237746688

    def test_run_without_a_token_is_a_config_error(self, router: Router, fake: FakeDiscord) -> None:
        """`run` refuses to start without DISCORD_TOKEN, naming it."""
        from bot.discord.app import run
        from bot.errors import ConfigError

        config = parse_config({}, {"DIGESTBOT_DISCORD_API_URL": fake.base_url})
        with pytest.raises(ConfigError, match="DISCORD_TOKEN"):
            run(build_client(router, config, publisher=publisher_for(router)), config)


class TestRuntimeHooks:
    def test_a_weekly_run_and_a_command_share_the_publisher(
        self, fake: FakeDiscord, loop_thread: LoopThread, router: Router, config: Config
    ) -> None:
        """The publisher given to `build_client` is the scheduler's too: a weekly run posts
        with the bot's own poster, and /digest for the same window then posts nothing."""
        from bot.config import Subscription
        from bot.runtime import Runtime
        from bot.scheduler import Due

        publisher = publisher_for(router)
        notices: list[str] = []

        async def start() -> DigestClient:
            client = build_client(router, config, publisher=publisher)
            await client.login("test-token")
            return client

        client = loop_thread.run(start())
        try:
            channel = f"discord:{CHANNEL_ID}"
            weekly = Subscription(channel, "post-train", "mon", "12:00", "UTC")
            # Posting waits on the client's loop, so the run happens off it, as in the bot.
            Runtime(publisher, notices.append).run_due(Due(weekly, NOW))
            assert notices == [] and len(fake.threads(CHANNEL_ID)) == 1
            created = len(fake.created())
            followups = Transcript(fake, client, loop_thread).digest("post-train")
        finally:
            loop_thread.run(client.close())
        assert "already in this channel" in followups[0].content
        assert len(fake.created()) == created and len(fake.threads(CHANNEL_ID)) == 1

    def test_the_poster_refuses_to_block_the_loop(
        self, bot: DigestClient, loop_thread: LoopThread, digest: Any
    ) -> None:
        """Calling the synchronous poster on the client's own loop would deadlock: it
        raises instead."""

        async def on_loop() -> None:
            bot.poster.send(str(CHANNEL_ID), bot.poster.render(digest)[0], None)

        with pytest.raises(RuntimeError, match="worker thread"):
            loop_thread.run(on_loop())
