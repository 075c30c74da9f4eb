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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.commands import Router
from bot.config import Config, Subscription
from bot.errors import ConfigError
from bot.heartbeat import Heartbeat
from bot.posting import Poster, PostOutcome, split_channel
from bot.runtime import Runtime
from bot.scheduler import WeeklyScheduler
from digest.model import Digest
from digest.render import Block, Message, Span
from digest.windows import Window
from storage import Corpus
from storage.ledger import PostLedger
from storage.subscriptions import SubscriptionStore

log = logging.getLogger(__name__)


@dataclass
class Running:
    """What `start` started, so `stop` can stop it in the right order."""

    corpus: Corpus
    scheduler: WeeklyScheduler
    heartbeat: Heartbeat
    stoppers: list[tuple[str, Callable[[], None]]] = field(default_factory=list)
    started: list[str] = field(default_factory=list)

    def stop(self) -> None:
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
    """Config subscriptions, then chat ones; a chat one for the same channel and topic wins."""
    merged = {(s.channel, s.topic): s for s in config.subscriptions}
    for s in store.all():
        merged[(s.channel, s.topic)] = Subscription(
            s.channel, s.topic, s.weekday, s.time, s.timezone
        )
    return list(merged.values())


def start(config: Config) -> Running:
    """Start everything the config and environment ask for; raise ConfigError when there is
    nothing to run (no platform token)."""
    from bot.wiring import answer_writer, corpus_for, digest_service, question_source
    from digest.qa import FullTextFetcher, QuestionAnswerer

    secrets = config.secrets
    if not secrets.slack_bot_token and not secrets.discord_token:
        raise ConfigError(
            f"nothing to run: set ${config.slack.bot_token_env} (and "
            f"${config.slack.app_token_env} for Socket Mode) or ${config.discord.token_env}"
        )
    corpus = corpus_for(config)
    service = digest_service(config, corpus)
    ledger, store = PostLedger(corpus), SubscriptionStore(corpus)
    fulltext = FullTextFetcher(corpus)
    # Someone waits for an answer: its arXiv lookups retry briefly, unlike the weekly fetch.
    answerer = QuestionAnswerer(
        corpus, source=question_source(config), fulltext=fulltext, writer=answer_writer(config)
    )
    posters: dict[str, Poster] = {}
    notices = AdminNotices(config.scheduler.admin_channel, posters)
    runtime = Runtime(service, ledger, posters, notices.send, config.digest.window_days)
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

    def post(digest: Digest, channel: str, digest_id: int | None, force: bool) -> PostOutcome:
        window = Window(digest.since, digest.until)
        return runtime.post(
            digest.topic, channel, window, force=force, digest=digest, digest_id=digest_id
        )

    running = Running(corpus, scheduler, Heartbeat(heartbeat_path(config)))
    running.stoppers.append(("full-text fetcher", fulltext.close))
    if secrets.slack_bot_token:
        _start_slack(config, router, post, posters, running)
    if secrets.discord_token:
        _start_discord(config, router, post, posters, running)
    subscriptions = all_subscriptions(config, store)
    scheduler.start(subscriptions)
    running.started.append(f"scheduler ({len(subscriptions)} subscriptions)")
    running.heartbeat.start()
    threading.Thread(target=runtime.resume_unfinished, name="resume", daemon=True).start()
    log.info(
        "digestbot running: %s; heartbeat %s", ", ".join(running.started), running.heartbeat.path
    )
    return running


def _start_slack(config, router, post, posters, running: Running) -> None:
    from bot.slack.app import build_app, connect_socket_mode, serve_http
    from bot.slack.poster import SlackPoster

    poster = SlackPoster.from_config(config)
    posters["slack"] = poster
    app = build_app(router, config, poster=poster, post=post)
    if config.slack.mode == "http":
        server = serve_http(app, config, health=lambda: health_check(config, running))
        running.stoppers.append(("slack", lambda: (server.stop(), app.close())))
        running.started.append(f"slack (HTTP mode at {server.url}/slack/events)")
    else:
        handler = connect_socket_mode(app, config)
        running.stoppers.append(("slack", lambda: (handler.close(), app.close())))
        running.started.append("slack (Socket Mode)")


def health_check(config: Config, running: Running) -> tuple[bool, dict[str, object]]:
    """What /healthz answers: the database answers a query and the heartbeat is fresh
    (the scheduler and the process are alive); and which adapters were started."""
    import sqlite3

    from bot.heartbeat import is_fresh

    try:  # a connection of its own: /healthz runs on a server thread
        path = config.database.resolved_path()
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2) as db:
            db.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        database = "ok"
    except sqlite3.Error as err:
        database = f"error: {err}"
    heartbeat = is_fresh(running.heartbeat.path)
    details: dict[str, object] = {
        "database": database,
        "heartbeat": "fresh" if heartbeat else "stale",
        "adapters": list(running.started),
    }
    return database == "ok" and heartbeat, details


def _start_discord(config, router, post, posters, running: Running) -> None:
    from bot.discord.app import build_client
    from bot.discord.app import run as run_discord

    client = build_client(router, config, post=post)
    posters["discord"] = client.poster
    thread = threading.Thread(
        target=run_discord, args=(client, config), name="discord", daemon=True
    )
    thread.start()

    def stop() -> None:
        loop = getattr(client, "loop", None)
        if loop is not None and loop.is_running():
            asyncio.run_coroutine_threadsafe(client.close(), loop).result(timeout=15)
        thread.join(timeout=15)

    running.stoppers.append(("discord", stop))
    running.started.append("discord")


class AdminNotices:
    """Sends short notices to the configured admin channel (or only logs them)."""

    def __init__(self, channel: str, posters: dict[str, Poster]) -> None:
        self.channel = channel
        self.posters = posters

    def send(self, text: str) -> None:
        log.warning("admin notice: %s", text)
        if not self.channel:
            return
        try:
            platform, channel_id = split_channel(self.channel)
            poster = self.posters.get(platform)
            if poster is None:
                return
            message = Message("notice", "digestbot", (Block("paragraph", (Span(text),)),))
            send = getattr(poster, "post_reply", None) or poster.post_messages
            send(channel_id, [message])
        except Exception:  # a notice about a failure must not fail in turn
            log.exception("could not send the admin notice to %s", self.channel)


def serve_forever(config: Config) -> int:
    """Run until SIGTERM or SIGINT; the `digestbot run` command."""
    running = start(config)
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        stop.wait()
    finally:
        running.stop()
    return 0
