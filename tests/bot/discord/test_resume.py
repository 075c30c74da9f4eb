"""A post killed part-way (SIGKILL, no clean-up of any kind) and run again completes the
thread with no message twice: the ledger, find_sent and the nonce working together.

The fake holds the k-th request of a kind, either before it takes effect (the message never
reached Discord) or after (it did, but the poster never heard back), and the test kills the
posting process at that moment. A second process then finishes the post.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import parse_config
from bot.discord.render import digest_parts
from digest.model import Digest
from storage import open_corpus
from tests.fakes.discord_server import CHANNEL_ID, FakeDiscord
from tests.support.paths import REPO
from tests.support.publishing import post_like_the_cli

# Each case starts and kills a posting process.
pytestmark = pytest.mark.slow

MESSAGE = r"/channels/\d+/messages$"
THREAD = r"/messages/\d+/threads$"
CHANNEL = f"discord:{CHANNEL_ID}"


def worker(fake: FakeDiscord, tmp_path: Path, digest_file: Path) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "DISCORD_TOKEN": "test-token",
        "DIGESTBOT_DISCORD_API_URL": fake.base_url,
        "DIGESTBOT_DB": str(tmp_path / "corpus.db"),
    }
    env.pop("DIGESTBOT_CONFIG", None)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.bot.discord.post_worker",
            str(digest_file),
            f"discord:{CHANNEL_ID}",
        ],
        cwd=tmp_path,  # no config.toml here: only the environment configures it
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize(
    ("kind", "nth", "after"),
    [
        (MESSAGE, 1, False),  # the parent never reached Discord
        (MESSAGE, 1, True),  # the parent reached Discord, its id was never recorded
        (THREAD, 1, True),  # the thread was started, never recorded
        (MESSAGE, 3, True),
        (MESSAGE, 6, False),
        (MESSAGE, 6, True),
    ],
    ids=[
        "parent-lost",
        "parent-unrecorded",
        "thread-unrecorded",
        "k3-unrecorded",
        "k6-lost",
        "k6-unrecorded",
    ],
)
def test_a_killed_post_resumes_without_duplicates(
    tmp_path: Path, digest: Digest, kind: str, nth: int, after: bool
) -> None:
    """Kill the poster while the k-th request is in flight; the next run sends exactly the
    missing messages: one parent, one thread, every section once, in order; a third run
    sends nothing."""
    digest_file = tmp_path / "digest.json"
    digest_file.write_text(json.dumps(digest.to_json()), encoding="utf-8")
    parts = [p.payload.content for p in digest_parts(digest)]
    assert len(parts) > 6

    with FakeDiscord() as fake:
        held = fake.stall("POST", kind, nth, after=after)
        first = worker(fake, tmp_path, digest_file)
        try:
            assert held.wait(60), first.communicate(timeout=5)
            first.send_signal(signal.SIGKILL)
            assert first.wait(10) == -signal.SIGKILL
        finally:
            if first.poll() is None:
                first.kill()
            first.communicate()
        fake.release()

        # The second run is the CLI's --post path, in this process: quicker, and the same
        # code (the Publisher, as the CLI wires it) reading the same ledger.
        config = parse_config(
            {},
            {
                "DISCORD_TOKEN": "test-token",
                "DIGESTBOT_DISCORD_API_URL": fake.base_url,
                "DIGESTBOT_DB": str(tmp_path / "corpus.db"),
            },
        )
        with open_corpus(config.database.resolved_path()) as corpus:
            outcome = post_like_the_cli(config, corpus, digest, CHANNEL).outcome
            assert not outcome.already_posted and outcome.total == len(parts)
            assert post_like_the_cli(config, corpus, digest, CHANNEL).outcome.already_posted

        channel = fake.messages(CHANNEL_ID)
        assert [m["content"] for m in channel] == parts[:1]
        threads = fake.threads(CHANNEL_ID)
        assert len(threads) == 1 and threads[0]["id"] == channel[0]["id"]
        thread = [m["content"] for m in fake.messages(int(threads[0]["id"]))]
        assert thread == parts[1:]
        assert len(fake.created()) == len(parts)  # no message was ever created twice

        # And by the intended route: an unrecorded message was found in the history (not
        # merely deduplicated by its nonce); an unrecorded thread was recognised (160004).
        calls = fake.calls
        if after and kind == MESSAGE:
            assert any(c.method == "GET" and c.path.endswith("/messages") for c in calls)
            resends = [c for c in calls if c.method == "POST" and c.path.endswith("/messages")]
            assert len(resends) == len(parts)  # the found message was not sent again
        if kind == THREAD:
            assert [c.status for c in calls if c.path.endswith("/threads")] == [201, 400]
