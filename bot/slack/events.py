"""Slack payloads as the router's inputs: a slash command or an app mention becomes the text
to route, a `Context` (who, where, which thread) and where the answer goes.

Slack sends text with `&`, `<` and `>` escaped as entities (and its own markup, like
`<@U123>`, unescaped); the router gets the characters the user typed, and the renderer
escapes them again on the way out, so "A&B" is never shown as "A&amp;B".
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from bot.commands import Context


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a command or question came from, so the answer goes back there: the channel,
    the user (for ephemeral replies), the thread (for mentions), the response_url (commands)."""

    channel_id: str
    user: str
    thread_ts: str | None = None
    response_url: str | None = None

    @property
    def channel(self) -> str:
        return f"slack:{self.channel_id}"


def typed_text(text: str) -> str:
    """Slack's escaped message text as typed: `&lt;` `&gt;` back to `<` `>`, `&amp;` last."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def from_command(body: Mapping[str, Any], admins: Collection[str]) -> tuple[str, Context, Origin]:
    """A `/digest ...` payload: its text, the router's context, and where to answer."""
    user = str(body.get("user_id") or "")
    origin = Origin(
        channel_id=str(body.get("channel_id") or ""),
        user=user,
        response_url=str(body.get("response_url") or "") or None,
    )
    context = Context("slack", user, origin.channel, None, user in admins)
    return typed_text(str(body.get("text") or "")), context, origin


def from_mention(event: Mapping[str, Any], admins: Collection[str]) -> tuple[str, Context, Origin]:
    """An `app_mention` event: its text, the context (the thread it belongs to, so a question
    in a digest's thread is asked about that digest) and the thread to answer in."""
    user = str(event.get("user") or "")
    thread_ts = str(event.get("thread_ts") or event.get("ts") or "") or None
    origin = Origin(channel_id=str(event.get("channel") or ""), user=user, thread_ts=thread_ts)
    context = Context("slack", user, origin.channel, thread_ts, user in admins)
    return typed_text(str(event.get("text") or "")), context, origin


def mention_key(event: Mapping[str, Any]) -> tuple[str, str]:
    """What identifies one mention across Slack's redeliveries of the same event."""
    return str(event.get("channel") or ""), str(event.get("ts") or event.get("event_ts") or "")
