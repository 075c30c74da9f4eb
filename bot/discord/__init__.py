"""The Discord adapter: Discord markdown rendering, a REST poster for digests, and the bot.

discord.py is only imported by this package. `render` is pure; `poster` sends a digest as a
parent message plus a thread over the REST API (no gateway); `app` is the bot itself
(slash commands, mentions). `api` holds the few facts shared by both: the API base URL
seam, the permissions and invite link, and the translation of discord.py's errors.
"""
