"""A recording `Poster` for tests of the platform-neutral posting path.

It renders each neutral message as one part (splitting nothing) and keeps what a channel
would show, so tests can assert on threads, duplicates and crash points without a platform.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from bot.posting import Part
from digest.model import Digest
from digest.render import message_text, messages


class Crash(Exception):
    """Raised by the fake to simulate the process dying at a chosen message."""


@dataclass
class Sent:
    channel_id: str
    thread: str | None
    key: str
    text: str
    ref: str


@dataclass
class FakePoster:
    """Records every message; can fail after n sends, or 'lose' the ledger write."""

    platform: str = "slack"
    sent: list[Sent] = field(default_factory=list)
    threads_opened: list[str] = field(default_factory=list)
    crash_after: int | None = None  # raise Crash *after* delivering this many messages
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def render(self, digest: Digest) -> list[Part]:
        return [Part(m.key, message_text(m)) for m in messages(digest)]

    def send(self, channel_id: str, part: Part, thread_ref: str | None) -> str:
        ref = f"m{next(self._ids)}"
        self.sent.append(Sent(channel_id, thread_ref, part.key, part.payload, ref))
        if self.crash_after is not None and len(self.sent) >= self.crash_after:
            self.crash_after = None
            raise Crash(f"died after sending {part.key}")
        return ref

    def open_thread(self, channel_id: str, parent_ref: str, title: str) -> str:
        self.threads_opened.append(parent_ref)
        return f"thread-{parent_ref}"

    def find_sent(self, channel_id: str, thread_ref: str | None, part: Part) -> str | None:
        for message in self.sent:
            if message.channel_id == channel_id and message.key == part.key:
                return message.ref
        return None

    def keys(self) -> list[str]:
        return [m.key for m in self.sent]
