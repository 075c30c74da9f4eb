"""The Slack side of `digestbot run`: a Bolt app that answers `/digest` and @-mentions.

`/digest ...` is acknowledged at once (Slack allows 3 s) and the work runs afterwards on
our own worker pool: the router decides, then the Publisher posts a digest as a thread in
the command's channel through the post ledger (a re-run posts nothing new; `--force` posts
it again), and text replies go to the channel or, when ephemeral, to the user alone. A
mention is answered in the thread it was asked in. Socket Mode is the default (no public
URL); HTTP mode is served by the ASGI app of `bot.http` (uvicorn), which checks size and
signature before Bolt parses anything.

    app = build_app(router, config, publisher=publisher)   # ConfigError / PlatformError
    run_socket_mode(app, config)         # blocks; or run_http(app, config)

The non-blocking forms (`connect_socket_mode`, `serve_http`) let `digestbot run` host
Slack next to the scheduler and Discord in one process. Work behind an ack runs on two
bounded pools, one for slow work and one for quick commands.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from slack_bolt import Ack, App, BoltRequest, BoltResponse
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError
from slack_sdk.webhook import WebhookClient

from bot.commands import Reply, Router, text_reply
from bot.config import Config
from bot.errors import ConfigError, PlatformError
from bot.publisher import PUBLISH_ERRORS, PostRequest, Publisher
from bot.slack.client import translate
from bot.slack.events import Origin, from_command, from_mention, mention_key
from bot.slack.poster import SlackPoster
from bot.slack.render import SlackMessage, render_messages

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from bot.http.app import HealthCheck
    from bot.http.server import HttpServer

log = logging.getLogger(__name__)

COMMAND = "/digest"
NOTICE_AFTER = 2.5  # seconds of work after which the user is told it is under way
SEEN_MENTIONS = 1000  # mentions remembered to ignore Slack's redeliveries of the same event
# Digest posts and questions at once; quick commands have their own pool. Builds run in
# child processes (bot.builds), so what is left here is rendering, posting (mostly waiting on
# Slack) and answering questions: more threads only contend with the acks for the GIL (a
# burst of 50 parallel acks: p99 121-132 ms with 4 threads, 82-91 ms with 2).
SLOW_WORKERS = 2
# How much lower the CPU priority of the work behind an ack is than the thread that acks.
# That work (answering questions, rendering and posting; digest builds themselves run in
# child processes, bot.builds) shares the cores with uvicorn's event loop; when the builds
# still ran in these threads, these values took the p99 of a burst of 50 parallel acks from
# 263 to 153 ms (bench_slack_ack's HTTP phase). Quick commands stay above the slow work so
# that `help` and `status` still overtake it.
SLOW_NICE = 19
QUICK_NICE = 5
WORKING = "Working on it: building a digest takes a moment when its week is not fetched yet."
OOPS = "Something went wrong inside digestbot; the details are in its log."


def _lower_priority(nice: int) -> None:
    """Lower the calling worker thread's CPU priority by `nice`. Linux schedules each thread
    on its own, so only this worker is affected; elsewhere the same call would renice the
    whole process (the acks with it), so it is left alone there."""
    if sys.platform != "linux":
        return
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    except OSError as err:  # a sandbox may forbid it: the work still runs, only less politely
        log.debug("could not lower a worker's priority: %s", err)


class Jobs(Executor):
    """A worker pool that knows when it is idle. The bot runs two: Bolt's listeners (which
    only ack and hand over) and the slow work behind them, so that digests being built can
    never hold up the next ack."""

    def __init__(self, workers: int = 4, name: str = "digestbot-slack", nice: int = 0) -> None:
        self._pool = ThreadPoolExecutor(
            max_workers=workers,
            thread_name_prefix=name,
            initializer=functools.partial(_lower_priority, nice) if nice else None,
        )
        self._pending = 0
        self._idle = threading.Condition()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        """Run `fn(*args, **kwargs)` in the background; failures are logged, never raised."""
        with self._idle:
            self._pending += 1
        return self._pool.submit(self._run, fn, args, kwargs)

    def _run(self, function: Callable[..., Any], args: tuple, kwargs: dict) -> None:
        try:
            function(*args, **kwargs)
        except Exception:
            log.exception("background Slack work failed")
        finally:
            with self._idle:
                self._pending -= 1
                if self._pending == 0:
                    self._idle.notify_all()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until no work is pending (tests, benchmarks, shutdown); False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures or not wait)


class SlackBot:
    """Turns Slack commands and mentions into router calls and the replies into messages."""

    def __init__(
        self,
        router: Router,
        poster: SlackPoster,
        publisher: Publisher,
        *,
        admins: tuple[str, ...] | frozenset[str] = (),
        jobs: Jobs | None = None,
        notice_after: float = NOTICE_AFTER,
        quick: Jobs | None = None,
    ) -> None:
        self.router = router
        self.poster = poster
        self.publisher = publisher
        publisher.add_poster(poster)  # digests for Slack channels go out through this poster
        self.admins = frozenset(admins)
        # Two bounded pools: slow work (digest builds, questions) and quick commands (help,
        # topics, status), so that four digests being built never delay a "help".
        self.jobs = jobs or Jobs(workers=SLOW_WORKERS, name="digestbot-slow", nice=SLOW_NICE)
        self.quick = quick or Jobs(workers=2, name="digestbot-quick", nice=QUICK_NICE)
        self.notice_after = notice_after
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._guard = threading.Lock()

    def register(self, app: App) -> None:
        """Attach the listeners to a Bolt app."""
        app.command(COMMAND)(self.on_command)
        app.event("app_mention")(self.on_mention)

    # -- listeners (Bolt passes arguments by name; both return at once) ------------------------

    def on_command(self, ack: Ack, body: dict) -> None:
        """Acknowledge `/digest` at once; the work runs on the bot's own pool."""
        ack()
        pool = self.quick if self.router.is_quick(str(body.get("text") or "")) else self.jobs
        pool.submit(self.handle_command, dict(body))

    def on_mention(self, event: dict) -> None:
        """Queue a question (Bolt has already acknowledged the event)."""
        if event.get("bot_id") or not self._first_time(mention_key(event)):
            return  # other bots' messages, and Slack's retries of an event we have
        self.jobs.submit(self.handle_mention, dict(event))

    def _first_time(self, key: tuple[str, str]) -> bool:
        with self._guard:
            if key in self._seen:
                return False
            self._seen[key] = None
            while len(self._seen) > SEEN_MENTIONS:
                self._seen.popitem(last=False)
            return True

    # -- the work ----------------------------------------------------------------------------

    def handle_command(self, body: Mapping[str, Any]) -> None:
        """Route a `/digest` payload and deliver the reply (runs after the ack)."""
        text, context, origin = from_command(body, self.admins)
        notice = threading.Timer(self.notice_after, self._tell, args=(origin, WORKING))
        notice.daemon = True
        notice.start()
        try:
            reply = self.router.route(text, context)
        except Exception:
            notice.cancel()
            log.exception("/digest failed in %s", origin.channel)
            self._tell(origin, OOPS)
            return
        try:
            self.deliver(reply, origin)  # building a digest happens here, so the notice waits
        finally:
            notice.cancel()

    def handle_mention(self, event: Mapping[str, Any]) -> None:
        """Answer a mention in the thread it was asked in."""
        text, context, origin = from_mention(event, self.admins)
        try:
            reply = self.router.mention(text, context)
        except Exception:
            log.exception("a question in %s failed", origin.channel)
            self._tell(origin, OOPS)
            return
        self.deliver(reply, origin)

    def deliver(self, reply: Reply, origin: Origin) -> None:
        """Post what the router answered: a digest thread, public messages, or ephemeral ones."""
        if reply.post is not None:
            self._deliver_digest(reply.post, origin)
        if reply.messages:
            rendered = render_messages(reply.messages, self.poster.permalink)
            if reply.ephemeral:
                self._ephemeral(origin, rendered)
            else:
                self._public(origin, rendered)

    def _deliver_digest(self, request: PostRequest, origin: Origin) -> None:
        try:
            publication = self.publisher.publish_request(request, origin.channel)
        except PUBLISH_ERRORS as err:
            log.warning("posting %s to %s failed: %s", request.topic, origin.channel, err)
            self._ephemeral(origin, render_messages([request.failed(err)]))
            return
        if publication.outcome.already_posted:
            # A new thread speaks for itself; only "nothing new was posted" needs saying.
            self._ephemeral(origin, render_messages([publication.message()], self.poster.permalink))

    def _public(self, origin: Origin, messages: list[SlackMessage]) -> None:
        try:
            self.poster.post_messages(origin.channel_id, messages, thread_ts=origin.thread_ts)
        except PlatformError as err:
            log.warning("answering in %s failed: %s", origin.channel, err)
            self._tell(origin, f"I could not answer in this channel: {err}")

    def _tell(self, origin: Origin, text: str) -> None:
        self._ephemeral(origin, render_messages(text_reply(text).messages))

    def _ephemeral(self, origin: Origin, messages: list[SlackMessage]) -> None:
        try:
            for message in messages:
                self.poster.post_ephemeral(
                    origin.channel_id, origin.user, message, thread_ts=origin.thread_ts
                )
            return
        except PlatformError as err:
            failure = err
        # chat.postEphemeral needs the bot in the channel; a command's response_url does not.
        if origin.response_url and _respond(origin.response_url, messages):
            return
        log.warning("could not show %s a message in %s: %s", origin.user, origin.channel, failure)


def _respond(response_url: str, messages: list[SlackMessage]) -> bool:
    """Send ephemeral messages through a slash command's response_url; False on failure."""
    client = WebhookClient(response_url, timeout=10)
    try:
        for message in messages:
            response = client.send(
                text=message.text,
                blocks=list(message.blocks) or None,
                response_type="ephemeral",
                replace_original=False,
            )
            if response.status_code != 200:
                log.warning("response_url refused a reply: HTTP %s", response.status_code)
                return False
    except (SlackClientError, OSError) as err:
        log.warning("response_url failed: %s", err)
        return False
    return True


# -- building and running ------------------------------------------------------------------------


@dataclass
class SlackApp:
    """The Bolt app with digestbot's listeners, and the bot that does the work behind them."""

    bolt: App
    bot: SlackBot
    listeners: Jobs
    signing_secret: str = ""  # what HTTP mode verifies requests with before Bolt sees them

    def dispatch(self, request: BoltRequest) -> BoltResponse:
        """Handle one request from Slack (HTTP mode, Socket Mode and tests all come here)."""
        return self.bolt.dispatch(request)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every listener and the work it queued are done (tests, shutdown)."""
        return (
            self.listeners.wait(timeout)
            and self.bot.jobs.wait(timeout)
            and self.bot.quick.wait(timeout)
        )

    def close(self) -> None:
        """Let queued work finish, then stop both pools."""
        self.listeners.shutdown(wait=True)
        self.bot.jobs.shutdown(wait=True)
        self.bot.quick.shutdown(wait=True)


def build_app(
    router: Router,
    config: Config,
    client: WebClient | None = None,
    *,
    poster: SlackPoster | None = None,
    publisher: Publisher,
    jobs: Jobs | None = None,
    env: Mapping[str, str] | None = None,
) -> SlackApp:
    """The Slack app for `digestbot run`: checks the config and the bot token (auth.test),
    then wires `/digest` and mentions to the router and digests to the `publisher` (the
    one the scheduler uses too, so their posts share its locks).

    `poster` (or `client`) defaults to one built from the config.
    """
    env = os.environ if env is None else env
    if env.get("SLACK_CLIENT_ID") and env.get("SLACK_CLIENT_SECRET"):
        # Bolt would switch to multi-workspace OAuth and ignore the bot token.
        raise ConfigError(
            "SLACK_CLIENT_ID and SLACK_CLIENT_SECRET are set, which turns the Slack app into a "
            "multi-workspace OAuth app; digestbot uses one workspace's bot token: unset them"
        )
    secret = config.secrets.slack_signing_secret
    if config.slack.mode == "http" and not secret:
        raise ConfigError(_missing_signing_secret(config))
    if poster is None:
        poster = SlackPoster(client) if client is not None else SlackPoster.from_config(config)
    try:
        poster.client.auth_test()  # fail now, in words, rather than on the first command
    except (SlackClientError, OSError) as err:
        raise translate(err, "start the bot", None, poster.client.base_url) from err
    listeners = Jobs(workers=8, name="digestbot-bolt")
    bolt = App(
        client=poster.client,
        signing_secret=secret.reveal(),
        # Our listeners only ack and hand the work to the bot's pools, so they run inside
        # dispatch: with process_before_response=False Bolt would hop to `listeners` and
        # poll for the ack every 10 ms, which under 50 parallel requests cost p99 130 ms.
        process_before_response=True,
        listener_executor=listeners,
        name="digestbot",
    )
    bot = SlackBot(router, poster, publisher, admins=config.slack.admins, jobs=jobs)
    bot.register(bolt)
    return SlackApp(bolt, bot, listeners, signing_secret=secret.reveal())


def _missing_signing_secret(config: Config) -> str:
    return (
        f"${config.slack.signing_secret_env} is not set: HTTP mode checks every request with "
        "the Slack app's Signing Secret (Basic Information page); set it, or use "
        'slack.mode = "socket"'
    )


def connect_socket_mode(app: SlackApp, config: Config) -> SocketModeHandler:
    """Open the Socket Mode connection (needs the xapp- app-level token) and return the
    handler, already receiving events; `close()` it to disconnect."""
    token = config.secrets.slack_app_token
    if not token or not token.reveal().startswith("xapp-"):
        state = "is not set" if not token else "is not an app-level token (xapp-...)"
        raise ConfigError(
            f"${config.slack.app_token_env} {state}: Socket Mode needs an app-level token with "
            "the connections:write scope (Basic Information > App-Level Tokens); or set "
            'slack.mode = "http"'
        )
    handler = SocketModeHandler(app.bolt, token.reveal())
    try:
        handler.connect()
    except (SlackClientError, OSError) as err:
        raise translate(
            err, "open a Socket Mode connection", None, app.bolt.client.base_url
        ) from err
    log.info("connected to Slack in Socket Mode")
    return handler


def run_socket_mode(app: SlackApp, config: Config, stop: threading.Event | None = None) -> None:
    """Serve Slack over Socket Mode until `stop` is set (or Ctrl-C)."""
    handler = connect_socket_mode(app, config)
    try:
        (stop or threading.Event()).wait()
    finally:
        handler.close()
        app.close()


def require_signing_secret(config: Config) -> None:
    """HTTP mode verifies every request: without the signing secret it must not start."""
    if not config.secrets.slack_signing_secret:
        raise ConfigError(_missing_signing_secret(config))


def serve_http(
    app: SlackApp,
    config: Config,
    *,
    port: int | None = None,
    health: HealthCheck | None = None,
    routes: Sequence[BaseRoute] = (),
) -> HttpServer:
    """Start HTTP mode: the ASGI app of bot.http with Slack at /slack/events (and /healthz
    answered by `health`, and `routes`), served by uvicorn on `http.host`:`http.port`
    (`port` overrides; 0 picks a free one)."""
    from bot.http.app import build_app as build_http_app
    from bot.http.server import serve

    require_signing_secret(config)
    settings = config.http if port is None else replace(config.http, port=port)
    return serve(
        build_http_app(slack=app, routes=routes, health=health, settings=settings), settings
    )


def run_http(
    app: SlackApp, config: Config, *, port: int | None = None, stop: threading.Event | None = None
) -> None:
    """Serve Slack over HTTP until `stop` is set (or Ctrl-C)."""
    server = serve_http(app, config, port=port)
    try:
        (stop or threading.Event()).wait()
    finally:
        server.stop()
        app.close()
