"""The neutral command router: `/digest ...` text and mentions in, a `Reply` out.

Every platform adapter turns its event into `route(text, context)` and renders the reply;
all decisions (parsing, permissions, windows) are made here, once; which digest to post,
and posting it, is the `Publisher`'s.
"""

from __future__ import annotations

import logging
import re
import shlex
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.config import WEEKDAYS, ConfigError, Subscription, check_subscription, weekday
from bot.errors import UsageError
from bot.publisher import PostRequest
from bot.subscriptions import merge_subscriptions
from digest.errors import DigestError, InvalidWindow, UnknownTopic
from digest.ingest import utc_now
from digest.render import Block, Message, Span
from digest.safety import has_token, neutralize
from digest.service import DigestService
from digest.windows import Window, default_window, parse_day
from storage import StorageError
from storage.ledger import LedgerKey, PostLedger
from storage.subscriptions import StoredSubscription, SubscriptionStore

log = logging.getLogger(__name__)

RATE_PERIOD = timedelta(minutes=1)
# Commands whose work is quick (no digest build, no question answering): adapters run them
# apart from the slow ones so that they answer at once while digests are being built.
QUICK_COMMANDS = frozenset(
    {"", "help", "-h", "--help", "topics", "status", "history", "subscribe", "unsubscribe"}
)
TOKEN_WARNING = (
    "That message holds something shaped like a secret token (xoxb-, xapp-, sk-ant-, a "
    "Discord token), so I did nothing with it and repeat none of it. If it is a real token, "
    "revoke it now."
)
MAX_QUESTION = 2000  # characters of a question we look at; the rest is ignored

USAGE = """\
/digest TOPIC [WINDOW]      post TOPIC's digest here (WINDOW: latest, last week, 2 weeks ago,
                            last 3 weeks, --since YYYY-MM-DD --until YYYY-MM-DD; add --force
                            to post again what is already here)
/digest ask QUESTION        answer from the papers, with citations
/digest topics              the topics and their arXiv queries
/digest history TOPIC       earlier digests of TOPIC
/digest status [all]        what the bot holds, and this channel's subscriptions (all: admins)
/digest subscribe TOPIC [weekly] [mon] [09:00] [Europe/Berlin]   weekly posts here (admins)
/digest unsubscribe [TOPIC]                                      stop them (admins)
Mention the bot with a question, or an arXiv id, to ask about a paper."""

# (question, ids of papers to prefer: the digest of the thread it was asked in) -> messages
Answerer = Callable[[str, Sequence[str]], Sequence[Message]]


@dataclass(frozen=True, slots=True)
class Context:
    """Who asked, where: `channel` like "slack:C0123"; `thread` when asked in a thread."""

    platform: str
    user: str
    channel: str
    thread: str | None = None
    is_admin: bool = False


@dataclass(frozen=True, slots=True)
class Reply:
    """What to answer: messages to show, or a digest to post as a thread in the channel
    (the adapter hands `post` to the `Publisher`, which chooses the digest and posts it)."""

    messages: tuple[Message, ...] = ()
    ephemeral: bool = False
    post: PostRequest | None = None


def text_reply(text: str, *, ephemeral: bool = False, title: str = "") -> Reply:
    blocks = tuple(Block("paragraph", (Span(line),)) for line in text.split("\n\n"))
    return Reply((Message("reply", title, blocks),), ephemeral=ephemeral)


def usage_reply(problem: str) -> Reply:
    return text_reply(f"{problem}\n\n{USAGE}", ephemeral=True, title="How to use /digest")


_WEEKS_AGO = re.compile(r"^(\d+|a|one|two|three|four)\s+weeks?\s+ago$")
_LAST_WEEKS = re.compile(r"^(?:last|past)\s+(\d+|two|three|four)\s+weeks$")
_NUMBERS = {"a": 1, "one": 1, "two": 2, "three": 3, "four": 4}


def parse_window(words: Sequence[str], today_window: Window) -> tuple[Window, bool]:
    """A window from the words after the topic, and whether --force was given."""
    force = "--force" in words
    words = [w for w in words if w != "--force"]
    since = until = None
    rest: list[str] = []
    iterator = iter(words)
    for word in iterator:
        if word in ("--since", "--until"):
            value = next(iterator, None)
            if value is None:
                raise UsageError(f"{word} needs a date, e.g. {word} 2026-05-28")
            if word == "--since":
                since = parse_day(value, word)
            else:
                until = parse_day(value, word)
        else:
            rest.append(word)
    phrase = " ".join(rest).lower().strip()
    if since or until:
        if phrase:
            raise UsageError(f"give either dates or {phrase!r}, not both")
        until = until or today_window.until
        since = since or until - timedelta(days=6)
        return Window(since, until), force
    if phrase in ("", "latest", "this week", "last week", "week"):
        return today_window, force
    match = _WEEKS_AGO.match(phrase)
    if match:  # "2 weeks ago": the window of the same length, two weeks earlier
        shift = timedelta(days=7 * (_NUMBERS.get(match.group(1)) or int(match.group(1))))
        return Window(today_window.since - shift, today_window.until - shift), force
    match = _LAST_WEEKS.match(phrase)
    if match:
        weeks = _NUMBERS.get(match.group(1)) or int(match.group(1))
        return Window(today_window.until - timedelta(days=7 * weeks - 1), today_window.until), force
    raise UsageError(
        f"{phrase!r} is not a window: write latest, last week, 2 weeks ago, last 3 weeks, "
        "or --since YYYY-MM-DD --until YYYY-MM-DD"
    )


@dataclass
class Router:
    """Parses and answers `/digest` commands and mentions, for every platform."""

    service: DigestService
    subscriptions: SubscriptionStore
    ledger: PostLedger
    answer: Answerer
    config_subscriptions: tuple[Subscription, ...] = ()
    window_days: int = 7
    engine_name: str = "offline"
    clock: Callable[[], datetime] = utc_now
    on_subscriptions_changed: Callable[[], None] = lambda: None
    max_window_days: int = 31
    commands_per_minute: int = 10
    _recent: dict[tuple[str, str], deque[datetime]] = field(
        default_factory=dict, init=False, repr=False
    )
    _recent_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def is_quick(self, text: str) -> bool:
        """Whether a command answers without building a digest or answering a question, so
        an adapter may run it beside slow work instead of queueing it behind."""
        words = (text or "").split()
        return (words[0].lower() if words else "") in QUICK_COMMANDS

    def route(self, text: str, context: Context) -> Reply:
        """Answer a `/digest` command; never raises for bad input."""
        refused = self._refuse(text, context)
        if refused is not None:
            return refused
        try:
            return self._route(text, context)
        except (UsageError, ConfigError, UnknownTopic, InvalidWindow) as err:
            return usage_reply(str(err))
        except (DigestError, StorageError) as err:
            log.warning("command %r failed: %s", text, err)
            return text_reply(f"Sorry, that did not work: {err}", ephemeral=True)

    def _refuse(self, text: str, context: Context) -> Reply | None:
        """The reply to a command that must not run: one carrying a token (never repeated,
        not even as a question), or one over the user's rate limit."""
        if has_token(text or ""):
            return text_reply(TOKEN_WARNING, ephemeral=True)
        wait = self._rate_wait(context)
        if wait is not None:
            return text_reply(
                f"You have sent {self.commands_per_minute} commands in the last minute; "
                f"please wait {wait} s and try again.",
                ephemeral=True,
            )
        return None

    def _rate_wait(self, context: Context) -> int | None:
        """Count this command against its user's limit: None when it may run, else the
        seconds until it may (refused commands do not count)."""
        now = self.clock()
        key = (context.platform, context.user)
        with self._recent_lock:
            recent = self._recent.setdefault(key, deque())
            while recent and now - recent[0] >= RATE_PERIOD:
                recent.popleft()
            if len(recent) >= self.commands_per_minute:
                return max(1, int((recent[0] + RATE_PERIOD - now).total_seconds() + 0.999))
            recent.append(now)
            if len(self._recent) > 10_000:  # forget users who have gone quiet
                for stale in [k for k, v in self._recent.items() if not v]:
                    del self._recent[stale]
            return None

    def mention(self, text: str, context: Context) -> Reply:
        """Answer a question asked by mentioning the bot (in a thread or a channel)."""
        refused = self._refuse(text, context)
        if refused is not None:
            return refused
        question = re.sub(r"<@[A-Z0-9]+>|<@!?\d+>", "", text or "").strip()
        if not question:
            return text_reply("Ask me about a paper: an arXiv id, a paper's name, or a question.")
        return self._ask(question, context)

    def _route(self, text: str, context: Context) -> Reply:
        try:
            words = shlex.split(text or "")
        except ValueError:
            words = (text or "").split()
        if not words or words[0] in ("help", "-h", "--help"):
            return text_reply(USAGE, ephemeral=True, title="How to use /digest")
        command, args = words[0].lower(), words[1:]
        if command == "ask":
            question = (text or "").strip()[3:].strip()
            if not question:
                raise UsageError("ask what? e.g. /digest ask which papers use GRPO?")
            return self._ask(question, context)
        if command == "topics":
            return self._topics()
        if command == "status":
            return self._status(args, context)
        if command == "history":
            return self._history(args, context)
        if command in ("subscribe", "unsubscribe"):
            if not context.is_admin:
                return text_reply(
                    "Only the bot's admins can change subscriptions; ask one of them.",
                    ephemeral=True,
                )
            return (
                self._subscribe(args, context)
                if command == "subscribe"
                else self._unsubscribe(args, context)
            )
        return self._digest(command, args, context)

    # -- the digest -----------------------------------------------------------------------

    def _digest(self, topic_name: str, args: Sequence[str], context: Context) -> Reply:
        topic = self.service.topics.get(topic_name)
        window, force = parse_window(args, default_window(self.clock(), self.window_days))
        if force and not context.is_admin:
            # --force rebuilds and re-posts: a cost only the bot's admins may ask for.
            return text_reply(
                "Only the bot's admins can use --force; without it, the digest already "
                "posted here is linked instead of posted again.",
                ephemeral=True,
            )
        days = (window.until - window.since).days + 1
        if days > self.max_window_days:
            raise UsageError(
                f"that window is {days} days; a digest from chat covers at most "
                f"{self.max_window_days} days (the command line has no such limit)"
            )
        # Which digest (stored or built) is the Publisher's rule, applied when it posts.
        return Reply(post=PostRequest(topic.name, window, force))

    # -- questions --------------------------------------------------------------------------

    def _ask(self, question: str, context: Context) -> Reply:
        question = neutralize(question[:MAX_QUESTION])
        if not question:
            return text_reply("That question has no words I can search for.", ephemeral=True)
        context_ids: list[str] = []
        if context.thread:
            found = self.ledger.find_thread(context.channel, context.thread)
            if found is not None and found[1] is not None:
                stored = self.service.corpus.get_digest(found[1])
                if stored is not None:
                    context_ids = [p["id"] for p in stored.body.get("papers", [])]
        messages = tuple(self.answer(question, context_ids))
        return Reply(messages)

    # -- information ------------------------------------------------------------------------

    def _topics(self) -> Reply:
        lines = []
        for topic in self.service.topics.topics:
            lines.append(f"{topic.name}: {topic.title}\narXiv query: {topic.query()}")
        return text_reply("\n\n".join(lines), title="Topics")

    def _status(self, args: Sequence[str], context: Context) -> Reply:
        corpus = self.service.corpus
        everywhere = bool(args) and args[0].lower() == "all"
        if everywhere and not context.is_admin:
            return text_reply(
                "Only the bot's admins can see every channel's subscriptions; "
                "/digest status shows this channel's.",
                ephemeral=True,
            )
        subs = self._all_subscriptions()
        if not everywhere:  # other channels' subscriptions are not this channel's business
            subs = [s for s in subs if s.channel == context.channel]
        where = "all channels" if everywhere else "this channel"
        lines = [
            f"Corpus: {corpus.count_papers()} papers.",
            f"Synthesis: {self.engine_name}.",
            f"Subscriptions in {where}: {len(subs)}"
            + (
                ": "
                + "; ".join(
                    f"{s.topic} to {s.channel} {s.weekday} {s.time} {s.timezone}" for s in subs
                )
                if subs
                else "."
            ),
        ]
        for topic in self.service.topics.topics:
            latest = corpus.digests(topic.name, limit=1)
            if latest:
                d = latest[0]
                lines.append(f"Latest {topic.name} digest: {d.since} to {d.until}, by {d.engine}.")
        return text_reply("\n\n".join(lines), title="Status")

    def _history(self, args: Sequence[str], context: Context) -> Reply:
        if not args:
            raise UsageError("history of which topic? e.g. /digest history post-train")
        topic = self.service.topics.get(args[0])
        stored = self.service.corpus.digests(topic.name, limit=10)
        if not stored:
            return text_reply(f"No digest of {topic.name} yet. Try /digest {topic.name}.")
        blocks = []
        for d in stored:
            body = d.body
            spans = [
                Span(
                    f"{d.since} to {d.until}: {body.get('paper_count', 0)} papers, {d.engine}",
                    bold=True,
                )
            ]
            parent = self.ledger.entries(LedgerKey(context.channel, topic.name, d.since, d.until))
            if "parent" in parent and parent["parent"].message_ref:
                # "post:" links name a message of ours; adapters make them permalinks.
                ref = parent["parent"].message_ref
                spans.append(Span(" · posted here", url=f"post:{context.channel}:{ref}"))
            blocks.append(Block("bullet", tuple(spans)))
        return Reply((Message("history", f"Earlier digests of {topic.title}", tuple(blocks)),))

    # -- subscriptions ------------------------------------------------------------------------

    def _all_subscriptions(self) -> list[Subscription]:
        return merge_subscriptions(self.config_subscriptions, self.subscriptions.all())

    def _subscribe(self, args: Sequence[str], context: Context) -> Reply:
        if not args:
            raise UsageError(
                "subscribe to which topic? e.g. "
                "/digest subscribe post-train mon 09:00 Europe/Berlin"
            )
        topic, rest = args[0], [a for a in args[1:] if a.lower() != "weekly"]
        day, time, timezone = "mon", "09:00", "UTC"
        for word in rest:
            lower = word.lower()
            if weekday(lower) in WEEKDAYS:
                day = weekday(lower)
            elif re.match(r"^\d{1,2}:\d{2}$", word):
                time = word.zfill(5)
            else:
                timezone = word
        sub = Subscription(context.channel, topic, day, time, timezone)
        check_subscription(sub, self.service.topics, "subscribe")
        self.subscriptions.add(
            StoredSubscription(
                sub.channel, sub.topic, sub.weekday, sub.time, sub.timezone, context.user
            )
        )
        self.on_subscriptions_changed()
        return text_reply(
            f"Subscribed: {topic} every {day} at {time} ({timezone}) in this channel."
        )

    def _unsubscribe(self, args: Sequence[str], context: Context) -> Reply:
        topic = args[0] if args else None
        removed = self.subscriptions.remove(context.channel, topic)
        if removed:
            self.on_subscriptions_changed()
            return text_reply(f"Unsubscribed: {removed} subscription(s) of this channel removed.")
        configured = [s for s in self.config_subscriptions if s.channel == context.channel]
        if configured:
            return text_reply(
                "This channel's subscription comes from the config file; remove it there.",
                ephemeral=True,
            )
        return text_reply("This channel has no subscription to remove.", ephemeral=True)
