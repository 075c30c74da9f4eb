"""A separate process for the crash tests: posts a digest (a JSON file) to a Discord
channel through the Publisher, as `digestbot digest --post discord:ID` does.

Usage: python -m tests.bot.discord.post_worker DIGEST.json discord:CHANNEL_ID
The config comes from the environment (DISCORD_TOKEN, DIGESTBOT_DISCORD_API_URL,
DIGESTBOT_DB); it prints the outcome as JSON.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bot.config import load_config
from digest.model import Digest
from storage import open_corpus
from tests.support.publishing import post_like_the_cli


def main(argv: list[str]) -> int:
    digest_path, channel = argv
    config = load_config()
    digest = Digest.from_json(json.loads(Path(digest_path).read_text(encoding="utf-8")))
    with open_corpus(config.database.resolved_path()) as corpus:
        outcome = post_like_the_cli(config, corpus, digest, channel).outcome
    print(
        json.dumps(
            {"sent": outcome.sent, "total": outcome.total, "already": outcome.already_posted}
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
