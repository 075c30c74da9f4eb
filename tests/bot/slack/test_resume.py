"""A post killed partway (SIGKILL, in a real subprocess) is finished by the next run, with
every message in the thread exactly once."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bot.posting import post_digest
from bot.slack.render import SlackFile
from storage import open_corpus
from storage.ledger import PostLedger
from tests.fakes.slack_server import FakeSlack
from tests.support.slack import CHANNEL, build_digest, papers

# Each case starts and kills a posting process.
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]


def thread_keys(fake: FakeSlack) -> list[str]:
    """The ledger keys of the channel's digest messages, parent first, as Slack holds them."""
    (parent,) = fake.top_level(CHANNEL)
    keys = [parent["metadata"]["event_payload"]["part"]]
    for message in fake.thread(CHANNEL, parent["ts"]):
        if "metadata" in message:
            keys.append(message["metadata"]["event_payload"]["part"])
        elif message.get("files"):
            keys.append("catalog")
    return keys


def kill_while_posting(
    fake: FakeSlack, tmp_path: Path, digest, method: str, after: int, stored: bool
) -> None:
    """Run the poster in a subprocess, hold its `after`-th (or next) call of `method`, and
    kill it there with SIGKILL."""
    digest_file = tmp_path / "digest.json"
    digest_file.write_text(json.dumps(digest.to_json()), encoding="utf-8")
    release = fake.stall(method, after=after, stored=stored)
    argv = [sys.executable, "-m", "tests.bot.slack.post_helper", fake.base_url]
    argv += [str(tmp_path / "corpus.db"), str(digest_file), f"slack:{CHANNEL}"]
    process = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        if not fake.wait_stalled(60):
            _, err = process.communicate(timeout=10)
            pytest.fail(f"the poster never reached the stall: {err.decode()}")
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        release.set()
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL


@pytest.mark.parametrize("killed_after", [1, 3, 6])
@pytest.mark.parametrize("answered", [False, True], ids=["before-slack", "before-ledger"])
def test_a_killed_post_is_finished_without_duplicates(
    fake, poster, tmp_path, killed_after: int, answered: bool
) -> None:
    """Killed with message k in Slack but its answer lost ("before-ledger": the ledger says
    sending), or with message k+1 never reaching Slack ("before-slack"); either way the
    next run posts the rest once and finds message k instead of repeating it."""
    digest = build_digest(papers(8))
    expected = [p.key for p in poster.render(digest)]
    assert len(expected) > killed_after + 1
    kill_while_posting(fake, tmp_path, digest, "chat.postMessage", killed_after, answered)
    assert len(fake.posts(CHANNEL)) == killed_after
    with open_corpus(tmp_path / "corpus.db") as corpus:
        outcome = post_digest(digest, f"slack:{CHANNEL}", poster, PostLedger(corpus))
        again = post_digest(digest, f"slack:{CHANNEL}", poster, PostLedger(corpus))
    assert thread_keys(fake) == expected
    assert outcome.sent == len(expected) - killed_after
    assert again.already_posted and len(fake.posts(CHANNEL)) == len(expected)


def test_a_catalog_upload_cut_off_is_not_uploaded_twice(fake, poster, tmp_path) -> None:
    digest = build_digest(papers(90))
    parts = poster.render(digest)
    assert isinstance(parts[-1].payload, SlackFile)
    kill_while_posting(fake, tmp_path, digest, "files.completeUploadExternal", 1, True)
    with open_corpus(tmp_path / "corpus.db") as corpus:
        outcome = post_digest(digest, f"slack:{CHANNEL}", poster, PostLedger(corpus))
    assert outcome.sent == 0
    assert thread_keys(fake) == [p.key for p in parts]
    assert len(fake.calls("files.completeUploadExternal")) == 1
