"""The Discord bot: `/digest` and `/ask` slash commands and questions asked by mentioning
the bot, answered through the neutral `Router`; digests posted as a parent message with
their sections in a thread.

The adapter only translates: an interaction or a mention becomes `route(text, Context)` or
`mention(text, Context)`, and the `Reply` becomes Discord messages. Every interaction is
deferred at once (Discord allows 3 s) and answered by follow-ups; the router and the poster
are synchronous, so they run in worker threads while the client's loop keeps serving.

`digestbot run` starts it with `build_client(router, config, publisher=...)` and
`run(client, config)`
(or `await serve(client, config)` inside a running loop); `invite_link(config)` gives the
link that adds the bot to a server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

import discord
from discord import app_commands

from bot.commands import Context, Reply, Router
from bot.config import Config
from bot.discord.api import (
    invite_url,
    no_mentions,
    platform_error,
    quiet_voice_warnings,
    use_api_url,
)
from bot.discord.poster import MAX_RATELIMIT_WAIT, DiscordPoster, new_client
from bot.discord.render import escape, reply_contents
from bot.errors import BotError, ConfigError
from bot.publisher import PUBLISH_ERRORS, PostRequest, Publication, Publisher
from digest.safety import neutralize, redact_tokens

log = logging.getLogger(__name__)

SLOW_WORKERS = 2  # digest posts and questions at once; two for the reason in bot.slack.app
# Final, so it types as the literal: Discord takes only 60, 1440, 4320 or 10080 minutes.
QUESTION_THREAD_ARCHIVE_MINUTES: Final = 1440  # a day: question threads are short-lived
_MENTION = re.compile(r"<@[!&]?\d+>")
_FAILED = "Something went wrong on the bot's side; the details are in its log. Try again later."


class DiscordHandlers:
    """What the bot does with a slash command or a mention. The client only hands events
    here; tests call these methods with real discord.py interactions and messages."""

    def __init__(
        self,
        client: discord.Client,
        router: Router,
        publisher: Publisher,
        admins: Iterable[str],
    ) -> None:
        self._client = client
        self._router = router
        self._admins = frozenset(str(a) for a in admins)
        self.poster = DiscordPoster.borrow(client)
        self._publisher = publisher
        publisher.add_poster(self.poster)  # digests for Discord channels go out through it
        # Bounded pools of their own (not asyncio's shared default executor): digest builds
        # and questions on one, quick commands on the other, so that "help" never waits
        # behind four digests being built.
        self._slow = ThreadPoolExecutor(max_workers=SLOW_WORKERS, thread_name_prefix="dc-slow")
        self._quick = ThreadPoolExecutor(max_workers=2, thread_name_prefix="dc-quick")

    async def _in_pool(self, text: str, work: Callable[[], Reply]) -> Reply:
        pool = self._quick if self._router.is_quick(text) else self._slow
        return await asyncio.get_running_loop().run_in_executor(pool, work)

    # -- slash commands -------------------------------------------------------------------------

    async def digest(self, interaction: discord.Interaction, command: str | None) -> None:
        """`/digest COMMAND`: the text goes to the router as a `/digest` command line."""
        await self._command(interaction, command or "help")

    async def ask(self, interaction: discord.Interaction, question: str) -> None:
        """`/ask QUESTION`: the same as `/digest ask QUESTION`."""
        await self._command(interaction, f"ask {question}")

    async def _command(self, interaction: discord.Interaction, text: str) -> None:
        # Acknowledge first: everything after this may take longer than Discord's 3 s.
        await interaction.response.defer(thinking=True)
        context = self.interaction_context(interaction)
        try:
            reply = await self._in_pool(text, lambda: self._router.route(text, context))
            await self._answer_interaction(interaction, reply, context)
        except BotError as err:
            await self._followups(interaction, [escape(str(err))], ephemeral=True)
        except Exception:
            log.exception("the Discord command %r failed", text[:100])
            await self._followups(interaction, [_FAILED], ephemeral=True)

    def interaction_context(self, interaction: discord.Interaction) -> Context:
        """Who asked where: in a thread, the channel is the thread's parent (where a digest
        goes) and `thread` the thread (whose digest a question is about)."""
        channel = interaction.channel
        channel_id = interaction.channel_id
        thread = None
        if isinstance(channel, discord.Thread):
            thread, channel_id = str(channel.id), channel.parent_id
        user = str(interaction.user.id)
        return Context("discord", user, f"discord:{channel_id}", thread, user in self._admins)

    async def _answer_interaction(
        self, interaction: discord.Interaction, reply: Reply, context: Context
    ) -> None:
        if reply.post is not None:
            try:
                publication = await self._post(reply.post, context)
            except PUBLISH_ERRORS as err:
                log.warning("posting %s to %s failed: %s", reply.post.topic, context.channel, err)
                contents = reply_contents([reply.post.failed(err)], interaction.guild_id)
                await self._followups(interaction, contents, ephemeral=True)
                return
            messages = [publication.message(), *reply.messages]
            contents = reply_contents(messages, interaction.guild_id)
            await self._followups(interaction, contents, ephemeral=False)
            return
        contents = reply_contents(reply.messages, interaction.guild_id)
        await self._followups(interaction, contents, ephemeral=reply.ephemeral)

    async def _followups(
        self, interaction: discord.Interaction, contents: Sequence[str], *, ephemeral: bool
    ) -> None:
        """Send the answer. The first follow-up replaces the public "thinking" message and
        keeps its visibility whatever it asks for, so an ephemeral answer first removes it."""
        try:
            if ephemeral:
                await interaction.delete_original_response()
            for content in contents or ["Done."]:
                await interaction.followup.send(
                    content,
                    ephemeral=ephemeral,
                    allowed_mentions=no_mentions(),
                    suppress_embeds=True,
                )
        except discord.HTTPException as err:
            # The interaction expired (15 min) or the message was refused: nothing to tell.
            log.warning("%s", platform_error(err, "answer a Discord command"))

    async def _post(self, request: PostRequest, context: Context) -> Publication:
        # Building and posting are synchronous and the poster waits on this loop: run them
        # in the slow pool, apart from quick commands.
        return await asyncio.get_running_loop().run_in_executor(
            self._slow, self._publisher.publish_request, request, context.channel
        )

    # -- mentions -------------------------------------------------------------------------------

    def is_mention(self, message: discord.Message) -> bool:
        """Whether a message asks the bot something: it names the bot itself (not only
        @everyone or a role) and is not from a bot."""
        me = self._client.user
        if me is None or message.author.bot:
            return False
        return any(user.id == me.id for user in message.mentions)

    async def mention(self, message: discord.Message) -> None:
        """Answer a question asked by mention, in a thread: the one it was asked in, or a new
        thread started from the question."""
        channel: Any = message.channel
        user = str(message.author.id)
        admin = user in self._admins
        if isinstance(channel, discord.Thread):
            where: Any = channel
            context = Context(
                "discord", user, f"discord:{channel.parent_id}", str(channel.id), admin
            )
        else:
            where = await self._question_thread(message)
            context = Context("discord", user, f"discord:{channel.id}", None, admin)
        # "digestbot is typing..." while the answer is worked out; only a courtesy.
        with contextlib.suppress(discord.HTTPException):
            await where.typing()
        try:
            reply = await self._in_pool(
                "ask", lambda: self._router.mention(message.content, context)
            )
            if reply.post is not None:
                guild = message.guild.id if message.guild is not None else None
                try:
                    publication = await self._post(reply.post, context)
                    contents = reply_contents([publication.message()], guild)
                except PUBLISH_ERRORS as err:
                    contents = reply_contents([reply.post.failed(err)], guild)
            else:
                guild = message.guild.id if message.guild is not None else None
                contents = reply_contents(reply.messages, guild)
        except BotError as err:
            contents = [escape(str(err))]
        except Exception:
            log.exception("answering a Discord mention failed")
            contents = [_FAILED]
        for content in contents:
            try:
                await where.send(content, allowed_mentions=no_mentions(), suppress_embeds=True)
            except discord.HTTPException as err:
                log.warning("%s", platform_error(err, f"answer in Discord channel {where.id}"))
                return

    async def _question_thread(self, message: discord.Message) -> Any:
        """A thread started from the question; the channel itself where there can be none
        (a DM) or the bot may not create one."""
        if message.guild is None or not isinstance(message.channel, discord.TextChannel):
            return message.channel
        try:
            return await message.create_thread(
                name=question_thread_name(message.content),
                auto_archive_duration=QUESTION_THREAD_ARCHIVE_MINUTES,
            )
        except discord.HTTPException as err:
            log.warning("%s; answering in the channel", platform_error(err, "start a thread"))
            return message.channel


def question_thread_name(text: str) -> str:
    """A thread's name from the question: mentions and markup removed, at most 100 chars."""
    # A pasted token would be public in the thread's name: it is never written there.
    name = neutralize(redact_tokens(_MENTION.sub(" ", text or "")))
    return (name[:97] + "...") if len(name) > 100 else (name or "Question")


# -- the client -----------------------------------------------------------------------------------


class DigestClient(discord.Client):
    """The bot's Discord client: default intents (a mention's text arrives without the
    privileged message-content intent), no pings, the slash commands, the handlers."""

    def __init__(self, router: Router, config: Config, publisher: Publisher) -> None:
        quiet_voice_warnings()
        super().__init__(
            intents=discord.Intents.default(),
            allowed_mentions=no_mentions(),
            max_ratelimit_timeout=MAX_RATELIMIT_WAIT,
        )
        self.config = config
        self.guild_ids = _guild_ids(config)
        self.handlers = DiscordHandlers(self, router, publisher, config.discord.admins)
        # The bot's poster (borrowing this client): what the runtime posts scheduled digests
        # and admin notices with while the bot runs.
        self.poster = self.handlers.poster
        self.tree = app_commands.CommandTree(self)
        register_commands(self.tree, self.handlers)

    async def setup_hook(self) -> None:
        # Runs at login, when the application id is known: what `tree.sync` needs.
        await sync_commands(self.tree, self.guild_ids)
        if self.application_id is not None:
            log.info("invite link: %s", invite_url(self.application_id))

    async def on_ready(self) -> None:
        log.info("Discord: connected as %s to %d servers", self.user, len(self.guilds))

    async def on_message(self, message: discord.Message) -> None:
        if self.handlers.is_mention(message):
            await self.handlers.mention(message)


def register_commands(tree: app_commands.CommandTree, handlers: DiscordHandlers) -> None:
    """`/digest command:` and `/ask question:` on the tree, calling the handlers."""

    @tree.command(
        name="digest", description="Post a topic's arXiv digest here, or ask, list topics"
    )
    @app_commands.describe(
        command='e.g. "post-train", "post-train last week", "ask which papers use GRPO?", "help"'
    )
    @app_commands.guild_only()
    async def digest(interaction: discord.Interaction, command: str = "help") -> None:
        await handlers.digest(interaction, command)

    @tree.command(name="ask", description="Ask about the week's papers; answered with citations")
    @app_commands.describe(question='e.g. "which papers this week are about reward hacking?"')
    async def ask(interaction: discord.Interaction, question: str) -> None:
        await handlers.ask(interaction, question)


async def sync_commands(tree: app_commands.CommandTree, guild_ids: Sequence[int]) -> None:
    """Register the commands: per configured server (visible at once), else globally
    (Discord may take up to an hour to show them). A refusal is logged, not fatal:
    mentions still work."""
    try:
        if guild_ids:
            for guild_id in guild_ids:
                guild = discord.Object(id=guild_id)
                tree.copy_global_to(guild=guild)
                synced = await tree.sync(guild=guild)
                log.info(
                    "Discord: %d slash commands registered in server %d", len(synced), guild_id
                )
        else:
            synced = await tree.sync()
            log.info("Discord: %d slash commands registered globally", len(synced))
    except discord.HTTPException as err:
        log.error(
            "%s; re-invite the bot with the applications.commands scope",
            platform_error(err, "register the slash commands"),
        )


def _guild_ids(config: Config) -> tuple[int, ...]:
    try:
        return tuple(int(g) for g in config.discord.guild_ids)
    except ValueError:
        raise ConfigError(
            "config: discord.guild_ids must be server ids (numbers), e.g. "
            'guild_ids = ["123456789012345678"]'
        ) from None


def build_client(router: Router, config: Config, *, publisher: Publisher) -> DigestClient:
    """The bot, ready to `run`; points discord.py at `discord.api_url`. Digests go out
    through `publisher` (the one the scheduler uses too, so their posts share its locks),
    which posts to Discord channels with `client.poster`."""
    use_api_url(config.discord.api_url)
    return DigestClient(router, config, publisher)


def _token(config: Config) -> str:
    token = config.secrets.discord_token
    if not token:
        raise ConfigError(
            f"${config.discord.token_env} is not set: put the bot token from the Discord "
            "Developer Portal (Bot > Token) in that environment variable"
        )
    return token.reveal()


async def serve(client: discord.Client, config: Config) -> None:
    """Log in and stay connected (gateway) until the client is closed; for a running loop."""
    token = _token(config)
    try:
        async with client:
            await client.start(token)
    except (discord.LoginFailure, discord.HTTPException) as err:
        raise platform_error(err, "connect to Discord", config.discord.token_env) from None


def run(client: discord.Client, config: Config) -> None:
    """Run the bot until interrupted (the blocking form of `serve`)."""
    asyncio.run(serve(client, config))


def invite_link(config: Config) -> str:
    """The bot's invite link (scopes bot and applications.commands, exactly the permissions
    it needs), for the CLI to print; asks Discord for the application id over REST."""
    token = _token(config)
    use_api_url(config.discord.api_url)

    async def application_id() -> int:
        async with new_client() as client:
            await client.login(token)
            assert client.application_id is not None
            return client.application_id

    try:
        return invite_url(asyncio.run(application_id()))
    except (discord.LoginFailure, discord.HTTPException, OSError) as err:
        raise platform_error(
            err, "look up the bot's application", config.discord.token_env
        ) from None
