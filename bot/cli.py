"""The `digestbot` command line: ingest, digest, ask, topics, run.

User mistakes and outside failures end as one line on stderr and a non-zero exit status;
only a bug in digestbot itself shows a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
from collections.abc import Sequence
from typing import TextIO

from bot.config import Config, is_channel, load_config
from bot.delivery import deliver
from bot.errors import BotError, ConfigError, PlatformError, UsageError
from bot.logs import setup_logging
from bot.posting import split_channel
from bot.progress import fetch_progress
from bot.wiring import (
    answer_writer,
    arxiv_source,
    corpus_for,
    digest_service,
    question_source,
)
from digest.errors import ArxivUnavailable, DigestError
from digest.ingest import ensure_window, ingest_feed_file, utc_now
from digest.model import Digest
from digest.qa import FullTextFetcher, QuestionAnswerer, answer_json, answer_messages
from digest.render import message_text, to_markdown, to_text
from digest.windows import parse_day, resolve_window
from storage import Corpus, StorageError
from storage.corpus import StoredDigest
from storage.ledger import LedgerKey, PostLedger

EXIT_USAGE = 2  # the command or its input is wrong: fix it and run again
EXIT_FAILURE = 1  # something outside failed (arXiv, the database): try again later


# -- commands ---------------------------------------------------------------------------------


def cmd_topics(args: argparse.Namespace, config: Config, out: TextIO) -> int:
    for topic in config.topics.topics:
        print(f"{topic.name}: {topic.title}", file=out)
        if topic.categories:
            print(f"  categories: {', '.join(topic.categories)}", file=out)
        print(f"  style: {topic.style}", file=out)
        print(f"  query: {topic.query()}", file=out)
    return 0


def cmd_ingest(args: argparse.Namespace, config: Config, out: TextIO) -> int:
    if args.feed:
        if args.since or args.until:
            raise UsageError("--since/--until do not apply to --feed: a saved feed is stored whole")
        if args.topic:
            # Ignoring it would store the feed without filing anything under the topic.
            raise UsageError(
                f"a saved feed is filed under a topic with --topic: "
                f"digestbot ingest --feed {args.feed} --topic {args.topic}"
            )
        topic = config.topics.get(args.topic_option) if args.topic_option else None
        with corpus_for(config) as corpus:
            report = ingest_feed_file(corpus, args.feed, topic)
        line = report.summary()
        if topic is not None:
            line += f"; {report.filed} filed under {topic.name}"
        if report.skipped:
            line += f"; {report.skipped} blank entries skipped"
        print(line, file=out)
        return 0
    if not args.topic:
        raise UsageError("name a topic (digestbot ingest post-train) or a saved feed (--feed FILE)")
    if args.topic_option:
        raise UsageError(
            f"--topic only applies with --feed; name the topic alone: digestbot ingest {args.topic}"
        )
    topic = config.topics.get(args.topic)
    since = parse_day(args.since, "--since") if args.since else None
    until = parse_day(args.until, "--until") if args.until else None
    window = resolve_window(since, until, utc_now(), config.digest.window_days)
    with corpus_for(config) as corpus, fetch_progress(f"arXiv {topic.name} {window}") as bar:
        report = ensure_window(
            corpus, arxiv_source(config), topic, window, progress=bar, force=args.force
        )
    print(f"{topic.name} {window}: {report.summary()}", file=out)
    return 0


def cmd_digest(args: argparse.Namespace, config: Config, out: TextIO) -> int:
    topic = config.topics.get(args.topic)
    since = parse_day(args.since, "--since") if args.since else None
    until = parse_day(args.until, "--until") if args.until else None
    window = resolve_window(since, until, utc_now(), config.digest.window_days)
    if args.post:
        if not is_channel(args.post):  # a user's mistake: said before any work is done
            raise UsageError(
                f"--post {args.post!r} is not a channel: write slack:CHANNEL_ID (like "
                "slack:C0123ABCD) or discord:CHANNEL_ID (digits, like discord:123456789012345678)"
            )
        split_channel(args.post)
    with corpus_for(config) as corpus:
        service = digest_service(config, corpus)
        stored = corpus.latest_digest(topic.name, window.since, window.until) if args.post else None
        if stored is not None and not args.force and _already_posted(corpus, args.post, stored):
            # Re-running a post must not rebuild (and so change) a digest already posted.
            digest, digest_id = Digest.from_json(stored.body), stored.id
        else:
            with fetch_progress(f"arXiv {topic.name} {window}") as bar:
                digest = service.build(
                    topic.name,
                    window,
                    fetch=not args.no_fetch,
                    progress=bar,
                    force_fetch=args.force,
                )
            latest = corpus.latest_digest(topic.name, window.since, window.until)
            digest_id = latest.id if latest else None
        if args.post:
            outcome = deliver(
                config, corpus, digest, args.post, digest_id=digest_id, force=args.force
            )
            if outcome.already_posted:
                print(
                    f"already posted to {args.post}; nothing sent (use --force to post again)",
                    file=sys.stderr,
                )
            else:
                print(
                    f"posted to {args.post}: {outcome.sent} of {outcome.total} messages sent",
                    file=sys.stderr,
                )
            return 0
    if args.format == "json":
        json.dump(digest.to_json(), out, ensure_ascii=False, indent=2)
        out.write("\n")
    elif args.format == "markdown":
        out.write(to_markdown(digest))
    else:
        out.write(to_text(digest, width=_terminal_width(out)))
    return 0


def _already_posted(corpus: Corpus, channel: str, stored: StoredDigest) -> bool:
    """Whether the ledger has begun posting this window to this channel (so the stored
    digest, not a fresh one, must be the one to finish or skip)."""
    key = LedgerKey(channel, stored.topic, stored.since, stored.until)
    return bool(PostLedger(corpus).entries(key))


def _terminal_width(out: TextIO) -> int:
    if out.isatty():
        return max(60, min(110, shutil.get_terminal_size().columns))
    return 100


def cmd_ask(args: argparse.Namespace, config: Config, out: TextIO) -> int:
    """Answer a question from the corpus: by arXiv id (fetched from arXiv if the corpus
    lacks it), by a paper's name or title, or by topic words."""
    question = " ".join(args.question).strip()
    if not question:
        raise UsageError('ask what? e.g. digestbot ask "which papers are about reward hacking?"')
    topic = config.topics.get(args.topic).name if args.topic else None
    writer = answer_writer(config)
    with corpus_for(config) as corpus:
        fulltext = None if args.no_fulltext else FullTextFetcher(corpus)
        try:
            qa = QuestionAnswerer(
                corpus, source=question_source(config), fulltext=fulltext, writer=writer
            )
            answer = qa.answer(question, topic=topic)
        finally:
            if fulltext is not None:
                fulltext.close()
    if args.format == "json":
        json.dump(answer_json(answer), out, ensure_ascii=False, indent=2)
        out.write("\n")
    else:
        for message in answer_messages(answer):
            out.write(message_text(message, width=_terminal_width(out)) + "\n")
    return 0


def cmd_run(args: argparse.Namespace, config: Config, out: TextIO) -> int:
    from bot.run import serve_forever  # the adapters are loaded only for `run`

    return serve_forever(config)


def cmd_health(args: argparse.Namespace, config: Config, out: TextIO) -> int:
    from bot.heartbeat import is_fresh
    from bot.run import heartbeat_path

    path = heartbeat_path(config)
    if is_fresh(path):
        print(f"healthy: heartbeat {path} is fresh", file=out)
        return 0
    print(f"unhealthy: heartbeat {path} is missing or stale", file=out)
    return 1


# -- parser -----------------------------------------------------------------------------------


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("digestbot")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="digestbot",
        description="Weekly arXiv digests and answers about papers, in the terminal, "
        "Slack or Discord.",
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="config file (else $DIGESTBOT_CONFIG, else ./config.toml, else built-in defaults)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    parser.add_argument("--version", action="version", version=f"digestbot {_version()}")
    # The same options after the command ("digestbot topics --config x.toml"). SUPPRESS:
    # a subcommand that was not given them leaves the top-level values alone.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", metavar="PATH", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
    common.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    topics = sub.add_parser(
        "topics", parents=[common], help="list the topics and their arXiv queries"
    )
    topics.set_defaults(handler=cmd_topics)

    ingest = sub.add_parser(
        "ingest",
        parents=[common],
        help="fetch a topic's window from arXiv, or store a saved API response, into the corpus",
    )
    ingest.add_argument("topic", nargs="?", help="topic name, e.g. post-train")
    ingest.add_argument("--since", metavar="YYYY-MM-DD", help="first day (UTC), inclusive")
    ingest.add_argument("--until", metavar="YYYY-MM-DD", help="last day (UTC), inclusive")
    ingest.add_argument("--feed", metavar="FILE.xml", help="a saved arXiv API response")
    ingest.add_argument(
        "--topic",
        dest="topic_option",
        metavar="TOPIC",
        help="with --feed: file the matching papers under this topic",
    )
    ingest.add_argument(
        "--force",
        action="store_true",
        help="ask arXiv even when the window is already complete in the corpus",
    )
    ingest.set_defaults(handler=cmd_ingest)

    digest = sub.add_parser(
        "digest", parents=[common], help="build a topic's digest for a window and print it"
    )
    digest.add_argument("topic", help="topic name, e.g. post-train")
    digest.add_argument("--since", metavar="YYYY-MM-DD", help="first day (UTC), inclusive")
    digest.add_argument("--until", metavar="YYYY-MM-DD", help="last day (UTC), inclusive")
    digest.add_argument(
        "--format",
        choices=("text", "markdown", "json"),
        default="text",
        help="text (default): parent and thread as the channel shows them",
    )
    digest.add_argument(
        "--no-fetch", action="store_true", help="use only what the corpus holds; do not ask arXiv"
    )
    digest.add_argument(
        "--post",
        metavar="slack:CHANNEL|discord:CHANNEL_ID",
        help="post the digest to a channel as a parent message and its thread",
    )
    digest.add_argument(
        "--force",
        action="store_true",
        help="fetch the window again even if it is complete; with --post, post it again",
    )
    digest.set_defaults(handler=cmd_digest)

    ask = sub.add_parser(
        "ask", parents=[common], help="answer a question about papers from the corpus"
    )
    ask.add_argument("question", nargs="+", help='e.g. "what does GRAIL do?" or 2606.04889')
    ask.add_argument("--topic", metavar="TOPIC", help="look only among this topic's papers")
    ask.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help='text (default), or json: {"answer": ..., "papers": [cited arXiv ids]}',
    )
    ask.add_argument(
        "--no-fulltext",
        action="store_true",
        help="answer from abstracts only; do not fetch a paper's full text from arXiv",
    )
    ask.set_defaults(handler=cmd_ask)

    run = sub.add_parser(
        "run", parents=[common], help="run the bot: Slack and/or Discord, scheduler, commands"
    )
    run.set_defaults(handler=cmd_run)
    health = sub.add_parser(
        "health", parents=[common], help="exit 0 if a running bot's heartbeat is fresh"
    )
    health.set_defaults(handler=cmd_health)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.INFO if args.verbose or args.command == "run" else logging.WARNING
    setup_logging(level)
    try:
        config = load_config(args.config)
        setup_logging(level, config.secrets.revealed())
        return args.handler(args, config, out)
    except (ConfigError, UsageError) as err:
        return _fail(err, EXIT_USAGE)
    except PlatformError as err:
        return _fail(err, EXIT_FAILURE)
    except ArxivUnavailable as err:
        return _fail(err, EXIT_FAILURE)
    except DigestError as err:
        return _fail(err, EXIT_USAGE)
    except (StorageError, BotError) as err:
        return _fail(err, EXIT_FAILURE)
    except KeyboardInterrupt:
        print("digestbot: interrupted", file=sys.stderr)
        return 130


def _fail(err: Exception, status: int) -> int:
    print(f"digestbot: error: {err}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
