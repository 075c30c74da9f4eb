"""What the poster and the bot share about Discord's API: where it is, what the bot may do
there, and discord.py's errors translated into ours.
"""

from __future__ import annotations

import asyncio

import aiohttp
import discord
from discord.http import Route

from bot.errors import PlatformError, PlatformRefused

DEFAULT_API_URL = "https://discord.com/api/v10"

# Exactly what posting a threaded digest and answering in threads needs, nothing more:
# Attach Files is for the paper catalog of a long week; no Embed Links (we send no embeds
# and suppress link previews), no Mention Everyone, no Manage Messages.
PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    create_public_threads=True,
    read_message_history=True,
    attach_files=True,
)
SCOPES = ("bot", "applications.commands")

_REQUIRED = (
    "View Channel, Send Messages, Send Messages in Threads, Create Public Threads, "
    "Read Message History and Attach Files"
)
_THREAD_EXISTS = 160004  # "A thread has already been created for this message"


def use_api_url(url: str) -> None:
    """Point discord.py at `url`: Discord itself, a proxy, or a loopback fake in tests.

    discord.py has no per-client base URL; `Route.BASE` is a class attribute read whenever a
    request's `Route` is built, so this setting is process-wide. It is the only place that
    writes it (CONVENTIONS.md, practice 3).
    """
    Route.BASE = url.rstrip("/")


def api_url() -> str:
    """The base URL discord.py currently sends requests to."""
    return Route.BASE


def quiet_voice_warnings() -> None:
    """Stop discord.py warning at every client start that voice libraries are missing: the
    bot has no voice features, and the warning would read like a fault to CLI users."""
    discord.VoiceClient.warn_nacl = False
    discord.VoiceClient.warn_dave = False


def no_mentions() -> discord.AllowedMentions:
    """The mentions policy of every message we send: nobody and no role is ever pinged."""
    return discord.AllowedMentions.none()


def invite_url(application_id: int | str) -> str:
    """The link that adds the bot to a server with exactly the permissions it needs."""
    return discord.utils.oauth_url(application_id, permissions=PERMISSIONS, scopes=SCOPES)


def is_thread_exists(err: BaseException) -> bool:
    """Whether Discord refused to create a thread because the message already has one."""
    return isinstance(err, discord.HTTPException) and err.code == _THREAD_EXISTS


def platform_error(
    err: BaseException, action: str, token_env: str = "DISCORD_TOKEN"
) -> PlatformError:
    """discord.py's (or aiohttp's) error as one sentence: `action` is what we tried, phrased
    to follow "cannot", e.g. "send to Discord channel 123"."""
    if isinstance(err, discord.LoginFailure) or (
        isinstance(err, discord.HTTPException) and err.status == 401
    ):
        return PlatformRefused(
            f"cannot {action}: Discord rejected the bot token (401 Unauthorized); "
            f"set ${token_env} to the token of the bot on the Developer Portal"
        )
    if isinstance(err, discord.RateLimited):
        return PlatformError(
            f"cannot {action}: Discord asked to wait {err.retry_after:.0f} s (rate limit), "
            "longer than the bot waits; try again later"
        )
    if isinstance(err, discord.Forbidden):
        if err.code == 50001:
            hint = "invite the bot to the server and let it view that channel"
        elif err.code == 50013:
            hint = f"give the bot {_REQUIRED} in that channel"
        else:
            hint = f"the bot needs {_REQUIRED}"
        return PlatformRefused(f"cannot {action}: Discord says {_text(err)} ({hint})")
    if isinstance(err, discord.NotFound):
        if err.code == 10003:
            hint = "no channel with that id is visible to the bot; check the id"
        elif err.code == 10008:
            hint = "the message was deleted"
        else:
            hint = "it does not exist"
        return PlatformRefused(f"cannot {action}: Discord says {_text(err)} ({hint})")
    if isinstance(err, discord.DiscordServerError):
        return PlatformError(
            f"cannot {action}: Discord failed with HTTP {err.status}; try again later"
        )
    if isinstance(err, discord.HTTPException):
        return PlatformError(f"cannot {action}: Discord says {_text(err)} (HTTP {err.status})")
    if isinstance(err, TimeoutError | asyncio.TimeoutError):
        return PlatformError(f"cannot {action}: Discord did not answer in time; try again later")
    if isinstance(err, aiohttp.ClientError | OSError):
        return PlatformError(f"cannot {action}: cannot reach Discord at {api_url()} ({err})")
    return PlatformError(f"cannot {action}: {type(err).__name__}: {err}")


def _text(err: discord.HTTPException) -> str:
    return err.text or f"HTTP {err.status}"
