"""The `digestbot` command line: ingest, digest, ask, topics, run.

User mistakes and outside failures end as one line on stderr and a non-zero exit status;
only a bug in digestbot itself shows a traceback.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bot.errors import BotError, ConfigError, PlatformError, UsageError

if TYPE_CHECKING:
    from bot.config import Config
    from digest.windows import Window
    from storage import Corpus

# Each command imports what it needs inside its function: `--help` then loads only
# argparse, and `ask` or a cached `digest` never pay for arXiv, HTTP, PDF or chart code
# (tests/bot/test_startup.py pins which packages stay out).

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
    from bot.progress import fetch_progress
    from bot.wiring import arxiv_source, corpus_for
    from digest.ingest import ensure_window, ingest_feed_file, utc_now
    from digest.windows import parse_day, resolve_window

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
    import json

    from bot.progress import fetch_progress
    from bot.wiring import corpus_for, digest_service
    from digest.clock import utc_now
    from digest.render import to_markdown, to_text
    from digest.windows import parse_day, resolve_window

    topic = config.topics.get(args.topic)
    since = parse_day(args.since, "--since") if args.since else None
    until = parse_day(args.until, "--until") if args.until else None
    window = resolve_window(since, until, utc_now(), config.digest.window_days)
    if args.post:
        return _post_digest(args, config, topic.name, window)
    # Only a digest shown from the corpus as it is can do without writing to it.
    opener = corpus_for_reading if args.no_fetch else corpus_for
    with opener(config) as corpus:
        service = digest_service(config, corpus)
        with fetch_progress(f"arXiv {topic.name} {window}") as bar:
            digest = service.build(
                topic.name,
                window,
                fetch=not args.no_fetch,
                progress=bar,
                force_fetch=args.force,
                regenerate=args.regenerate,
            )
    if args.format == "json":
        json.dump(digest.to_json(), out, ensure_ascii=False, indent=2)
        out.write("\n")
    elif args.format == "markdown":
        out.write(to_markdown(digest))
    else:
        out.write(to_text(digest, width=_terminal_width(out)))
    return 0


def _post_digest(args: argparse.Namespace, config: Config, topic: str, window: Window) -> int:
    """`digest --post CHANNEL`: through the same Publisher as the bot, so a re-run posts
    nothing new, a cut-off post is finished, and `--force` posts a new digest again."""
    from bot.posting import PostCutOff, split_channel
    from bot.progress import fetch_progress
    from bot.publisher import Publisher
    from bot.wiring import corpus_for, digest_service, poster_for
    from storage.ledger import PostLedger

    platform, _ = split_channel(args.post)  # a malformed channel fails before any work
    poster = poster_for(platform, config)
    try:
        with corpus_for(config) as corpus:
            from bot.presentation import Presenter

            publisher = Publisher(
                digest_service(config, corpus),
                PostLedger(corpus),
                [poster],
                present=Presenter.from_config(config, corpus),
            )
            with fetch_progress(f"arXiv {topic} {window}") as bar:
                publication = publisher.publish(
                    topic,
                    window,
                    args.post,
                    force=args.force,
                    fetch=not args.no_fetch,
                    refetch=args.force,
                    progress=bar,
                )
    except PostCutOff as err:
        then = (
            "It is marked failed (digestbot posts lists it)."
            if err.permanent
            else "Run the same command again to finish it."
        )
        raise PlatformError(f"{err} {err.what_is_where()} {then}") from err
    finally:
        poster.close()
    print(publication.text(), file=sys.stderr)
    return 0


def _terminal_width(out: TextIO) -> int:
    if out.isatty():
        return max(60, min(110, shutil.get_terminal_size().columns))
    return 100


def cmd_ask(args: argparse.Namespace, config: Config, out: TextIO) -> int:
    """Answer a question from the corpus: by arXiv id (fetched from arXiv if the corpus
    lacks it), by a paper's name or title, or by topic words."""
    # Imported here: question answering (PDF text, retrieval) costs a cached `digest` a
    # noticeable part of its start-up, and only `ask` needs it.
    import json

    from bot.wiring import answer_writer, fulltext_settings, llm_engine, question_source
    from digest.qa import FullTextFetcher, QuestionAnswerer, answer_json, answer_messages
    from digest.render import message_text

    question = " ".join(args.question).strip()
    if not question:
        raise UsageError('ask what? e.g. digestbot ask "which papers are about reward hacking?"')
    topic = config.topics.get(args.topic).name if args.topic else None
    llm_engine(config)  # a config mistake (engine without a key) fails before any work
    with corpus_for_reading(config) as corpus:
        fulltext = (
            None
            if args.no_fulltext or corpus.read_only
            else FullTextFetcher(corpus, fulltext_settings(config))
        )
        try:
            writer = answer_writer(config, fulltext)
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


def cmd_serve(args: argparse.Namespace, config: Config, out: TextIO) -> int:
    """Serve the read-only archive pages (topics, digests, papers, search, feed)."""
    from bot.web.server import serve_pages  # uvicorn and the templates load only here

    if args.port is not None and not 1 <= args.port <= 65535:
        raise UsageError(f"--port {args.port} is not a port number; write e.g. --port 8080")
    return serve_pages(config, args.host, args.port)


def cmd_health(args: argparse.Namespace, config: Config, out: TextIO) -> int:
    from bot.heartbeat import health
    from bot.run import heartbeat_path

    healthy, why = health(heartbeat_path(config))
    print(f"{'healthy' if healthy else 'unhealthy'}: {why}", file=out)
    return 0 if healthy else 1


def corpus_for_reading(config: Config) -> Corpus:
    """The corpus for a command that only reads: opened read-only when it cannot be
    written (a read-only file, directory or mount), so reading still works."""
    from bot.wiring import corpus_for
    from storage import open_corpus
    from storage.errors import DatabaseReadOnly

    try:
        return corpus_for(config)
    except DatabaseReadOnly as err:
        logging.getLogger(__name__).info("%s; opening it read-only", err)
        return open_corpus(config.database.resolved_path(), read_only=True)


def cmd_posts(args: argparse.Namespace, config: Config, out: TextIO) -> int:
    """List posts that are pending (begun, not finished) or failed; --clear ID drops one."""
    from bot.wiring import corpus_for
    from storage.ledger import PostLedger

    with corpus_for(config) as corpus:
        ledger = PostLedger(corpus)
        if args.clear is not None:
            key = ledger.clear(args.clear)
            if key is None:
                raise UsageError(
                    f"there is no pending or failed post {args.clear}: digestbot posts lists them"
                )
            print(
                f"cleared post {args.clear}: {key.topic} {key.since} to {key.until} "
                f"to {key.channel}; it will not be resumed",
                file=out,
            )
            return 0
        records = ledger.posts()
    if not records:
        print("no pending or failed posts", file=out)
        return 0
    for r in records:
        line = (
            f"{r.id}  {r.state:<7}  {r.key.channel}  {r.key.topic}  {r.key.since} to "
            f"{r.key.until}  {r.sent} message(s) in the channel  {r.updated_at}"
        )
        if r.error:
            line += f"\n    {r.error}"
        print(line, file=out)
    return 0


def cmd_check(args: argparse.Namespace, config: Config, out: TextIO) -> int:
    """Check the database's integrity (SQLite quick_check)."""
    from storage.corpus import damaged_message
    from storage.errors import DatabaseDamaged

    path = config.database.resolved_path()
    with corpus_for_reading(config) as corpus:
        problems = corpus.quick_check()
    if problems:
        raise DatabaseDamaged(damaged_message(str(path)) + f" ({problems[0]})")
    print(f"the database {path} is sound (quick_check ok)", file=out)
    return 0


def cmd_backup(args: argparse.Namespace, config: Config, out: TextIO) -> int:
    """Copy the database to PATH with SQLite's online backup (safe while the bot runs)."""
    from storage.corpus import damaged_message
    from storage.errors import DatabaseDamaged

    target = Path(args.path).expanduser()
    if target.exists() and not args.force:
        raise UsageError(f"{target} exists; choose another path or add --force to replace it")
    if target.resolve() == config.database.resolved_path().resolve():
        raise UsageError("the backup path is the database itself; choose another path")
    with corpus_for_reading(config) as corpus:
        problems = corpus.quick_check()
        if problems:
            raise DatabaseDamaged(damaged_message(corpus.path) + " (not backed up)")
        if target.exists():
            target.unlink()
        corpus.backup(target)
    print(f"backed up {config.database.resolved_path()} to {target}", file=out)
    return 0


# -- parser -----------------------------------------------------------------------------------


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("digestbot")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


class _VersionAction(argparse.Action):
    """`--version`, looking the version up only when asked: importlib.metadata costs every
    other command (and `--help`) a noticeable part of its start-up."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object) -> None:
        super().__init__(
            option_strings,
            dest,
            nargs=0,
            default=argparse.SUPPRESS,
            help="show program's version number and exit",
        )

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        print(f"digestbot {_version()}", file=sys.stdout)  # where argparse's own prints it
        parser.exit()


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
    parser.add_argument("--version", action=_VersionAction)
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
    digest.add_argument(
        "--regenerate",
        action="store_true",
        help="synthesize again even if a digest of this complete window is stored",
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
    serve = sub.add_parser(
        "serve", parents=[common], help="serve the digest pages (archive, search, feed)"
    )
    serve.add_argument(
        "--host", help="address to bind (default: [http] host, 127.0.0.1: this machine only)"
    )
    serve.add_argument("--port", type=int, help="port (default: [http] port, 3000)")
    serve.set_defaults(handler=cmd_serve)
    health = sub.add_parser(
        "health", parents=[common], help="exit 0 if a running bot's heartbeat is fresh"
    )
    health.set_defaults(handler=cmd_health)

    posts = sub.add_parser(
        "posts", parents=[common], help="list pending and failed posts; --clear ID drops one"
    )
    posts.add_argument(
        "--clear", type=int, metavar="ID", help="drop this post: it is no longer resumed or listed"
    )
    posts.set_defaults(handler=cmd_posts)
    check = sub.add_parser(
        "check", parents=[common], help="check the database's integrity (exit 1 if damaged)"
    )
    check.set_defaults(handler=cmd_check)
    backup = sub.add_parser(
        "backup", parents=[common], help="copy the database to PATH (safe while the bot runs)"
    )
    backup.add_argument("path", metavar="PATH", help="the file to write the copy to")
    backup.add_argument("--force", action="store_true", help="replace PATH if it exists")
    backup.set_defaults(handler=cmd_backup)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    parser = build_parser()
    args = parser.parse_args(argv)  # --help and --version end here, before the imports below
    from bot.config import load_config
    from bot.logs import setup_logging
    from digest.errors import ArxivUnavailable, DigestError
    from storage.errors import StorageError

    level = logging.INFO if args.verbose or args.command in ("run", "serve") else logging.WARNING
    setup_logging(level)
    try:
        config = load_config(args.config)
        setup_logging(level, config.secrets.revealed())
        status = args.handler(args, config, out)
        out.flush()  # a closed pipe raises here, inside the handling below, not at exit
        return status
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
    except BrokenPipeError:
        # The reader went away (`digestbot digest ... | head`): nothing of ours failed.
        # Point stdout at /dev/null so the interpreter's last flush cannot raise again.
        if out is sys.stdout:
            import os

            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILURE


def _fail(err: Exception, status: int) -> int:
    print(f"digestbot: error: {err}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
