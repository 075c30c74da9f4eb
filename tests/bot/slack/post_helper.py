"""Posts a saved digest to Slack through the post ledger, as `--post slack:CHANNEL` would.

The resume tests run it in a subprocess and kill it with SIGKILL partway through the thread:

    python -m tests.bot.slack.post_helper BASE_URL DATABASE DIGEST.json slack:C0TEST
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.posting import post_digest
from bot.slack.client import make_client
from bot.slack.poster import SlackPoster
from digest.model import Digest
from storage import open_corpus
from storage.ledger import PostLedger


def main(argv: Sequence[str]) -> int:
    base_url, database, digest_file, channel = argv
    digest = Digest.from_json(json.loads(Path(digest_file).read_text(encoding="utf-8")))
    poster = SlackPoster(make_client("xoxb-test", base_url), interval=0)
    with open_corpus(database) as corpus:
        outcome = post_digest(digest, channel, poster, PostLedger(corpus))
    print(json.dumps({"sent": outcome.sent, "total": outcome.total}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
