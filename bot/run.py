"""`digestbot run`: the bot process.

Starts the adapters whose tokens are set (Slack in Socket Mode or HTTP mode, Discord), the
weekly scheduler and the command handlers; resumes posts a crash cut off; touches a
heartbeat file; and on SIGTERM or SIGINT stops the scheduler first (finishing a post in
progress) and then the adapters.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from bot.commands import Router
from bot.config import Config, Subscription
from bot.errors import ConfigError
from bot.heartbeat import INTERVAL_SECONDS as HEARTBEAT_INTERVAL
from bot.heartbeat import Heartbeat
from bot.posting import split_channel
from bot.publisher import Publisher
from bot.runtime import Runtime
from bot.scheduler import WeeklyScheduler
from bot.subscriptions import merge_subscriptions
from digest.render import Block, Message, Span
from storage import Corpus
from storage.corpus import damaged_message
from storage.errors import DatabaseDamaged
from storage.ledger import PostLedger
from storage.subscriptions import SubscriptionStore

if TYPE_CHECKING:
    from bot.slack.app import SlackApp

log = logging.getLogger(__name__)


@dataclass
class Running:
    """What `start` started, so `stop` can stop it in the right order."""

    corpus: Corpus
    scheduler: WeeklyScheduler
    heartbeat: Heartbeat
    stoppers: list[tuple[str, Callable[[], None]]] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    interrupt: Callable[[], None] | None = None  # ends retry back-offs before shutdown waits
    # Set when a chat connection stayed down past its limit: `serve_forever` then stops
    # and exits 1, so the supervisor restarts the bot.
    unhealthy: threading.Event = field(default_factory=threading.Event)

    def stop(self) -> None:
        if self.interrupt is not None:
            self.interrupt()
        # The scheduler first: shutdown waits for a weekly post in progress to finish.
        self.scheduler.shutdown()
        for name, stopper in reversed(self.stoppers):
            try:
                stopper()
            except Exception:  # a stuck adapter must not keep the others running
                log.exception("stopping %s failed", name)
        self.heartbeat.stop()
        self.corpus.close()
        log.info("stopped")


def heartbeat_path(config: Config) -> Path:
    if config.scheduler.heartbeat_path:
        return Path(config.scheduler.heartbeat_path).expanduser()
    return config.database.resolved_path().parent / "heartbeat"


def all_subscriptions(config: Config, store: SubscriptionStore) -> list[Subscription]:
    """What the scheduler runs: the same merge `/digest status` lists."""
    return merge_subscriptions(config.subscriptions, store.all())


def start(config: Config) -> Running:
    """Start everything the config and environment ask for; raise ConfigError when there is
    nothing to run (no platform token)."""
    from bot.wiring import (
        answer_writer,
        corpus_for,
        digest_service,
        fulltext_settings,
        question_recorder,
        question_source,
    )
    from digest.qa import FullTextFetcher, QuestionAnswerer

    secrets = config.secrets
    if not secrets.slack_bot_token and not secrets.discord_token:
        raise ConfigError(
            f"nothing to run: set ${config.slack.bot_token_env} (and "
            f"${config.slack.app_token_env} for Socket Mode) or ${config.discord.token_env}"
        )
    corpus = corpus_for(config)
    # A file damaged inside still opens (its header is intact): find out now, not when a
    # digest or a question first reads a bad page.
    problems = corpus.quick_check()
    if problems:
        corpus.close()
        log.error("quick_check: %s", "; ".join(problems[:5]))
        raise DatabaseDamaged(damaged_message(corpus.path))
    service = digest_service(config, corpus)
    ledger, store = PostLedger(corpus), SubscriptionStore(corpus)
    fulltext = FullTextFetcher(corpus, fulltext_settings(config))
    # Someone waits for an answer: its arXiv lookups retry briefly, unlike the weekly fetch.
    answerer = QuestionAnswerer(
        corpus,
        source=question_source(config),
        fulltext=fulltext,
        writer=answer_writer(config, fulltext),
        on_answer=question_recorder(corpus),  # listed on the papers' web pages
    )
    from bot.builds import ProcessBuilds
    from bot.presentation import Presenter

    # Digests are built in child processes, so that builds never slow the acks and replies
    # of this one (bot.builds); choosing and posting them stay here.
    builds = ProcessBuilds(config, corpus)
    # Each adapter adds its poster as it starts.
    # Charts of digests reused rather than built (a second channel, a forced re-post) are
    # drawn there too: matplotlib's import alone holds the GIL for half a second.
    present = Presenter.from_config(config, corpus, render=builds.render_chart)
    publisher = Publisher(service, ledger, present=present, builder=builds)
    notices = AdminNotices(config.scheduler.admin_channel)
    runtime = Runtime(publisher, notices.send, config.digest.window_days)
    scheduler = WeeklyScheduler(
        f"sqlite:///{config.database.resolved_path()}",
        config.scheduler.grace_hours,
        runtime.run_due,
        runtime.missed,
        runtime.failed,
    )
    router = Router(
        service=service,
        subscriptions=store,
        ledger=ledger,
        answer=answerer.reply,
        config_subscriptions=config.subscriptions,
        window_days=config.digest.window_days,
        engine_name=service.synthesizer.name if service.synthesizer else "offline",
        on_subscriptions_changed=lambda: scheduler.sync(all_subscriptions(config, store)),
        max_window_days=config.chat.max_window_days,
        commands_per_minute=config.chat.commands_per_minute,
    )

    unhealthy = threading.Event()
    down_limit = config.scheduler.adapter_down_seconds
    heartbeat = Heartbeat(
        heartbeat_path(config),
        # Beat often enough that a connection down past its limit is noticed soon after.
        min(HEARTBEAT_INTERVAL, max(1.0, down_limit / 3)),
        down_limit=down_limit,
        on_dead=lambda _names: unhealthy.set(),
    )
    running = Running(corpus, scheduler, heartbeat, unhealthy=unhealthy)
    running.interrupt = runtime.stop
    # Stoppers run last-first: the build processes stop after every adapter has finished
    # the work it queued (which may be waiting for a build).
    running.stoppers.append(("digest builds", builds.close))
    running.stoppers.append(("full-text fetcher", fulltext.close))
    slack_http = None
    if secrets.slack_bot_token:
        slack_http = _start_slack(config, router, publisher, notices, running)
    if secrets.discord_token:
        _start_discord(config, router, publisher, notices, running)
    if slack_http is not None or config.web.enabled:
        _start_http(config, running, slack_http)
    subscriptions = all_subscriptions(config, store)
    scheduler.start(subscriptions)
    running.started.append(f"scheduler ({len(subscriptions)} subscriptions)")
    running.heartbeat.start()
    threading.Thread(target=_resume, args=(runtime,), name="resume", daemon=True).start()
    log.info(
        "digestbot running: %s; heartbeat %s", ", ".join(running.started), running.heartbeat.path
    )
    return running


def _resume(runtime: Runtime) -> None:
    """Finish the posts a crash cut off, then say so (operators and tests wait for it)."""
    finished = runtime.resume_unfinished()
    log.info("start-up resume done: %d cut-off posts finished", finished)


def _start_slack(
    config: Config,
    router: Router,
    publisher: Publisher,
    notices: AdminNotices,
    running: Running,
) -> SlackApp | None:
    """Start Slack: Socket Mode here; in HTTP mode, the app for the HTTP edge to serve."""
    from bot.slack.app import build_app, connect_socket_mode
    from bot.slack.poster import SlackPoster

    poster = SlackPoster.from_config(config)
    app = build_app(router, config, poster=poster, publisher=publisher)
    notices.add_sender("slack", poster)
    running.stoppers.append(("slack", app.close))
    if config.slack.mode == "http":
        return app
    handler = connect_socket_mode(app, config)
    running.stoppers.append(("slack socket", handler.close))  # stopped before the app
    running.heartbeat.watch("slack", lambda: bool(handler.client.is_connected()))
    running.started.append("slack (Socket Mode)")
    return None


def _start_http(config: Config, running: Running, slack: SlackApp | None) -> None:
    """The one HTTP edge (bot.http on uvicorn, `[http] host`:`port`): Slack's HTTP mode
    when asked for, the web pages when `[web] enabled`, and `/healthz` always."""
    from starlette.routing import BaseRoute

    from bot.http.app import build_app
    from bot.http.server import serve
    from bot.slack.app import require_signing_secret

    routes: list[BaseRoute] = []
    if slack is not None:
        require_signing_secret(config)
    if config.web.enabled:
        from bot.web.server import pages

        routes, site = pages(config)
        running.stoppers.append(("web pages", site.close))
    app = build_app(
        slack=slack,
        routes=routes,
        health=lambda: health_check(config, running),
        settings=config.http,
    )
    server = serve(app, config.http)
    # Stoppers run last-first: the edge stops before the adapters behind it close.
    running.stoppers.append(("http", server.stop))
    if slack is not None:
        running.started.append(f"slack (HTTP mode at {server.url}/slack/events)")
    if routes:
        running.started.append(f"web pages ({server.url}/)")
    running.started.append(f"http (/healthz at {server.url})")


def health_check(config: Config, running: Running) -> tuple[bool, dict[str, object]]:
    """What /healthz answers: the database answers a query and the heartbeat is fresh
    (the scheduler and the process are alive); and which adapters were started."""
    import sqlite3

    from bot.heartbeat import health

    try:  # a connection of its own: /healthz runs on a server thread
        path = config.database.resolved_path()
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2) as db:
            db.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        database = "ok"
    except sqlite3.Error as err:
        database = f"error: {err}"
    # The heartbeat file says whether it is fresh and whether every chat connection is up.
    alive, why = health(running.heartbeat.path)
    details: dict[str, object] = {
        "database": database,
        "heartbeat": why,
        "adapters": list(running.started),
    }
    return database == "ok" and alive, details


def _start_discord(
    config: Config,
    router: Router,
    publisher: Publisher,
    notices: AdminNotices,
    running: Running,
) -> None:
    from bot.discord.app import build_client
    from bot.discord.app import run as run_discord

    client = build_client(router, config, publisher=publisher)
    notices.add_sender("discord", client.poster)

    def run_logged() -> None:
        # The gateway ending (unreachable, token revoked) is a logged line and a dead
        # adapter for the heartbeat, not a thread traceback on stderr.
        try:
            run_discord(client, config)
        except Exception as err:
            log.error("the Discord connection ended: %s", err)

    thread = threading.Thread(target=run_logged, name="discord", daemon=True)
    thread.start()

    def stop() -> None:
        # Before (or after) its event loop runs, discord.py's `loop` is the MISSING sentinel,
        # not None: test for a real loop, or shutdown fails on `.is_running`.
        loop = getattr(client, "loop", None)
        if isinstance(loop, asyncio.AbstractEventLoop) and loop.is_running():
            asyncio.run_coroutine_threadsafe(client.close(), loop).result(timeout=15)
        thread.join(timeout=15)

    running.stoppers.append(("discord", stop))

    # The gateway thread can die (or reconnect forever) while the process lives on;
    # is_ready() stays True while discord.py retries, so the socket is asked too.
    def discord_up() -> bool:
        ws = getattr(client, "ws", None)
        alive = thread.is_alive() and client.is_ready() and not client.is_closed()
        return alive and ws is not None and bool(ws.open)

    running.heartbeat.watch("discord", discord_up)
    running.started.append("discord")


class MessageSender(Protocol):
    """What a platform offers for plain notices: neutral messages, rendered and sent to a
    channel in order (both posters have it)."""

    def post_reply(self, channel_id: str, messages: Sequence[Message], /) -> list[str]: ...


class AdminNotices:
    """Sends short notices to the configured admin channel (or only logs them)."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self._senders: dict[str, MessageSender] = {}

    def add_sender(self, platform: str, sender: MessageSender) -> None:
        """Notices to `platform` channels go out through `sender` (a started adapter's)."""
        self._senders[platform] = sender

    def send(self, text: str) -> None:
        log.warning("admin notice: %s", text)
        if not self.channel:
            return
        try:
            platform, channel_id = split_channel(self.channel)
            sender = self._senders.get(platform)
            if sender is None:
                log.warning("no %s connection for the admin channel %s", platform, self.channel)
                return
            message = Message("notice", "digestbot", (Block("paragraph", (Span(text),)),))
            sender.post_reply(channel_id, [message])
        except Exception:  # a notice about a failure must not fail in turn
            log.exception("could not send the admin notice to %s", self.channel)


def serve_forever(config: Config) -> int:
    """Run until SIGTERM or SIGINT; the `digestbot run` command."""
    running = start(config)
    stop = running.unhealthy  # also set by a signal: one event wakes the main thread

    def on_signal(signum: int, _frame: object) -> None:
        if stop.is_set():
            return  # already stopping: a second signal is not news
        log.info("received %s, stopping", signal.Signals(signum).name)
        signals.append(signum)
        stop.set()

    signals: list[int] = []
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        stop.wait()
    finally:
        running.stop()
    if not signals:
        log.error("exiting with status 1: a chat connection did not come back")
        return 1
    return 0
