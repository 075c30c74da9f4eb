"""The Slack adapter: Block Kit rendering, the web-API poster, and the Bolt app.

render    neutral messages -> Block Kit + text fallback, escaped and split to Slack's limits
client    the `WebClient` we use (rate-limit retries, pacing clock) and SDK error translation
poster    `SlackPoster`: the `bot.posting.Poster` for Slack (threads, metadata, resume)
events    Slack payloads (slash commands, app mentions) -> the router's `Context`
app       the Bolt app: `/digest` and mentions, in Socket Mode or HTTP mode

The adapter translates and never decides: every decision is the router's.
"""
