"""The loopback Slack itself: it checks what Slack checks and answers what it is scripted to."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.fakes.slack_server import FakeSlack

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake():
    with FakeSlack() as server:
        yield server


@pytest.fixture
def client(fake) -> WebClient:
    # No retry handlers: the fake's raw answers are what is tested here.
    return WebClient(token="xoxb-test", base_url=fake.base_url, retry_handlers=[])


def test_it_refuses_what_slack_refuses(fake, client) -> None:
    too_long = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}
    with pytest.raises(SlackApiError, match="invalid_blocks"):
        client.chat_postMessage(channel="C0TEST", text="x", blocks=[too_long])
    with pytest.raises(SlackApiError, match="invalid_blocks"):
        client.chat_postMessage(channel="C0TEST", text="x", blocks=[{"type": "divider"}] * 51)
    with pytest.raises(SlackApiError, match="channel_not_found"):
        client.chat_postMessage(channel="C0NOPE", text="x")
    with pytest.raises(SlackApiError, match="thread_not_found"):
        client.chat_postMessage(channel="C0TEST", text="x", thread_ts="1.2")
    with pytest.raises(SlackApiError, match="invalid_auth"):
        WebClient(token="xoxb-other", base_url=fake.base_url).auth_test()
    assert fake.messages("C0TEST") == []


def test_scripted_429_and_errors(fake, client) -> None:
    fake.rate_limit("chat.postMessage", retry_after=3)
    fake.fail("chat.postMessage", "not_in_channel")
    with pytest.raises(SlackApiError) as limited:
        client.chat_postMessage(channel="C0TEST", text="x")
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "3"
    with pytest.raises(SlackApiError, match="not_in_channel"):
        client.chat_postMessage(channel="C0TEST", text="x")
    assert client.chat_postMessage(channel="C0TEST", text="x")["ok"]


def test_metadata_is_read_back_only_when_asked_for(fake, client) -> None:
    meta = {"event_type": "e", "event_payload": {"k": "v"}}
    parent = client.chat_postMessage(channel="C0TEST", text="p", metadata=meta)["ts"]
    client.chat_postMessage(channel="C0TEST", text="r", thread_ts=parent, metadata=meta)
    plain = client.conversations_replies(channel="C0TEST", ts=parent)["messages"]
    full = client.conversations_replies(channel="C0TEST", ts=parent, include_all_metadata=True)
    assert [m.get("metadata") for m in plain] == [None, None]
    assert [m["metadata"] for m in full["messages"]] == [meta, meta]
    history = client.conversations_history(channel="C0TEST")["messages"]
    assert [m["ts"] for m in history] == [parent]


def test_files_upload_v2_lands_in_the_thread(fake, client) -> None:
    parent = client.chat_postMessage(channel="C0TEST", text="p")["ts"]
    done = client.files_upload_v2(
        channel="C0TEST", thread_ts=parent, content="hello", filename="a.txt", title="A"
    )
    (reply,) = fake.thread("C0TEST", parent)
    assert reply["files"][0]["id"] == done["file"]["id"]
    assert fake.uploaded(done["file"]["id"]) == b"hello"


def test_it_runs_as_a_module_and_prints_its_base_url(tmp_path) -> None:
    dump = tmp_path / "record.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.slack_server", "--dump", str(dump)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        base_url = process.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/api/")
        assert WebClient(token="xoxb-test", base_url=base_url).auth_test()["ok"]
        with urllib.request.urlopen(base_url.replace("/api/", "/_fake/record")) as response:
            assert json.load(response)["calls"][0]["method"] == "auth.test"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(10)
    assert process.returncode == 0
    assert json.loads(dump.read_text())["channels"] == {"C0TEST": []}
