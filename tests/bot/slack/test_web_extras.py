"""A posted Slack digest links its web page when `[web] public_url` is set, and carries
its chart (a PNG uploaded with files_upload_v2) into the thread after the overview."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.posting import post_digest
from bot.presentation import Presenter
from digest.chart import ChartCache
from storage.ledger import PostLedger
from tests.support.slack import CHANNEL, WINDOW, build_digest, papers

CH = f"slack:{CHANNEL}"
PUBLIC = "https://digests.example.org"


@pytest.fixture
def stored(corpus):
    """The week's papers under post-train and their digest, stored (so it has an id)."""
    week = papers(8)
    corpus.store_papers(week, "post-train", [p.id for p in week])
    digest = build_digest(week)
    digest_id = corpus.save_digest(
        topic="post-train",
        since=WINDOW.since,
        until=WINDOW.until,
        engine="offline",
        generated_at=digest.generated_at,
        body=digest.to_json(),
    )
    return digest, digest_id


def present(corpus, tmp_path: Path, public_url: str = PUBLIC) -> Presenter:
    return Presenter(public_url, ChartCache(corpus, tmp_path / "charts"))


def test_the_parent_links_the_digest_page(fake, poster, corpus, stored, tmp_path) -> None:
    digest, digest_id = stored
    shown = present(corpus, tmp_path)(digest, digest_id)
    outcome = post_digest(shown, CH, poster, PostLedger(corpus), digest_id=digest_id)
    (parent,) = fake.top_level(CHANNEL)
    link = f"<{PUBLIC}/d/{digest_id}|Read this digest on the web>"
    assert link in parent["text"]
    assert any(link in b.get("text", {}).get("text", "") for b in parent["blocks"])
    # Only the parent carries it.
    assert all(link not in m.get("text", "") for m in fake.thread(CHANNEL, outcome.thread_ref)[1:])


def test_no_public_url_no_link(fake, poster, corpus, stored, tmp_path) -> None:
    digest, digest_id = stored
    shown = present(corpus, tmp_path, public_url="")(digest, digest_id)
    post_digest(shown, CH, poster, PostLedger(corpus), digest_id=digest_id)
    (parent,) = fake.top_level(CHANNEL)
    assert "/d/" not in parent["text"] and "on the web" not in parent["text"]


def test_the_chart_is_uploaded_after_the_overview(fake, poster, corpus, stored, tmp_path) -> None:
    digest, digest_id = stored
    shown = present(corpus, tmp_path)(digest, digest_id)
    keys = [p.key for p in poster.render(shown)]
    assert keys.index("chart") == keys.index("overview") + 1
    outcome = post_digest(shown, CH, poster, PostLedger(corpus), digest_id=digest_id)
    (upload,) = fake.calls("files.completeUploadExternal")
    assert upload.args["thread_ts"] == outcome.thread_ref
    thread = fake.thread(CHANNEL, outcome.thread_ref)
    (carrier,) = [m for m in thread if m.get("files")]
    (shared,) = carrier["files"]
    assert shared["name"] == f"post-train-{WINDOW.since}-{WINDOW.until}-chart.png"
    png = fake.uploaded(shared["id"])
    assert png.startswith(b"\x89PNG") and png == shown.figure.data
    # Between the overview's message and the run metadata's.
    parts = [
        (m.get("metadata") or {}).get("event_payload", {}).get("part") or "chart"
        for m in thread[1:]
    ]
    assert parts[parts.index("overview") + 1] == "chart"


def test_a_rerun_does_not_upload_the_chart_again(fake, poster, corpus, stored, tmp_path) -> None:
    digest, digest_id = stored
    presenter = present(corpus, tmp_path)
    ledger = PostLedger(corpus)
    post_digest(presenter(digest, digest_id), CH, poster, ledger, digest_id=digest_id)
    again = post_digest(presenter(digest, digest_id), CH, poster, ledger, digest_id=digest_id)
    assert again.already_posted and len(fake.calls("files.completeUploadExternal")) == 1
