"""Errors of the bot layer (CLI, config, commands, adapters).

BotError                 anything the edges cannot do
├── ConfigError          the config file or environment is wrong; names the key to fix
├── UsageError           a command line or chat command that cannot be understood
└── PlatformError        Slack or Discord refused or failed (translated SDK errors)
    ├── PlatformRefused  refused for good (not in channel, no such channel, 403, bad token):
    │                    retrying cannot help, so such a post is marked failed
    └── ChannelMalformed a target that is not a channel at all ("discord:general"); also a
                         UsageError, so the CLI exits 2
"""


class BotError(Exception):
    """Base class of every error of the bot layer; the message is one sentence for the user."""


class ConfigError(BotError):
    """The configuration is invalid; the message names the key and what to write instead."""


class UsageError(BotError):
    """A command that cannot be understood; the message says how to write it."""


class PlatformError(BotError):
    """A chat platform refused or failed a request."""


class PlatformRefused(PlatformError):
    """The platform refused in a way no retry can fix; the message says what to change."""


class ChannelMalformed(PlatformError, UsageError):
    """A post target that is not written as a channel of a platform."""
