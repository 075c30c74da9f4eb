"""The pages in a real browser: Debian's headless Chromium, driven over the DevTools
protocol, loads a digest page and a search, follows links, reports no console error or
failed load, and leaves screenshots in bench/out/screenshots/ for people to look at.

Skips (saying why) when Chromium is not installed; CI installs it in .ci/run."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest
import uvicorn

from storage import Corpus, open_corpus
from tests.support.browser import Browser, find_chromium
from tests.support.paths import REPO
from tests.support.slack import free_port
from tests.support.web import (
    EARLIER,
    SHARED_ARXIV,
    WINDOW,
    make_app,
    store_shared_week,
    store_week,
    week,
)

SCREENSHOTS = REPO / "bench" / "out" / "screenshots"
CHROMIUM = find_chromium()

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed (apt-get install -y chromium; .ci/run does it in CI)",
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The pages on a real HTTP server over a corpus of two post-train weeks: the real
    shared weeks when ../shared/data is present, else two invented ones."""
    folder = tmp_path_factory.mktemp("site")
    corpus: Corpus = open_corpus(folder / "corpus.db")
    if (SHARED_ARXIV / "feeds").is_dir():
        store_shared_week(corpus, "2026-05-13")
        digest, digest_id = store_shared_week(corpus, "2026-05-28")
        query = "reward hacking"
    else:
        store_week(corpus, week(EARLIER, hostile=False), EARLIER)
        digest, digest_id = store_week(corpus, week(WINDOW), WINDOW)
        query = "preference optimization"
    port = free_port()
    app = make_app(corpus, chart_dir=folder / "charts")
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the pages' server did not start"
        time.sleep(0.05)
    yield {
        "base": f"http://127.0.0.1:{port}",
        "digest": digest,
        "id": digest_id,
        "query": query,
    }
    server.should_exit = True
    thread.join(timeout=10)
    corpus.close()


def run_in_browser(tmp_path: Path, scenario) -> object:
    async def go() -> object:
        assert CHROMIUM is not None
        browser = Browser(CHROMIUM, tmp_path / "profile")
        await browser.start()
        try:
            return await scenario(browser)
        finally:
            await browser.close()

    return asyncio.run(go())


def assert_links_work(base: str, hrefs: list[str]) -> None:
    """Every link of ours answers 200; every other link is an arXiv (or DOI) page."""
    ours = sorted({h.split("#")[0] for h in hrefs if h.startswith(base)})
    assert ours
    with httpx.Client() as client:
        for href in ours:
            assert client.get(href).status_code == 200, href
    for href in hrefs:
        if not href.startswith(base):
            host = urlparse(href).netloc
            assert href.startswith("https://") and host in ("arxiv.org", "doi.org"), href


def test_a_digest_page_in_chromium(site: dict, tmp_path: Path) -> None:
    base, digest_id = site["base"], site["id"]

    async def scenario(browser: Browser) -> dict:
        await browser.goto(f"{base}/d/{digest_id}")
        facts = await browser.evaluate(
            """({
              title: document.title,
              links: Array.from(document.links).map(a => a.href),
              images: Array.from(document.images).map(i => [i.complete, i.naturalWidth]),
              sections: Array.from(document.querySelectorAll('main section h2'))
                .map(h => h.textContent),
              scripts: document.scripts.length
            })"""
        )
        await browser.screenshot(SCREENSHOTS / "digest.png")
        await browser.click_and_wait("table.catalog a")
        facts["after_click"] = await browser.evaluate("location.pathname")
        await browser.screenshot(SCREENSHOTS / "paper.png")
        facts["problems"] = browser.problems()
        return facts

    facts = run_in_browser(tmp_path, scenario)
    assert facts["problems"] == []
    assert facts["scripts"] == 0
    assert site["digest"].title in facts["title"]
    assert "Key Research Themes" in facts["sections"] and facts["sections"][-1].startswith(
        "Paper Catalog"
    )
    # The chart loaded (a PNG with a width), and every link leads somewhere real.
    assert facts["images"] and all(done and width > 0 for done, width in facts["images"])
    assert_links_work(base, facts["links"])
    assert facts["after_click"].startswith("/p/")
    assert (SCREENSHOTS / "digest.png").stat().st_size > 10_000


def test_a_search_in_chromium(site: dict, tmp_path: Path) -> None:
    base = site["base"]

    async def scenario(browser: Browser) -> dict:
        await browser.goto(f"{base}/")
        await browser.screenshot(SCREENSHOTS / "home.png")
        # Search as a person would: type into the header's form and submit it.
        await browser.evaluate(
            f"document.querySelector('header form input[name=q]').value = {site['query']!r}"
        )
        await browser.click_and_wait("header form button")
        facts = await browser.evaluate(
            """({
              url: location.pathname + location.search,
              results: document.querySelectorAll('article.card').length,
              links: Array.from(document.links).map(a => a.href)
            })"""
        )
        await browser.screenshot(SCREENSHOTS / "search.png")
        await browser.goto(f"{base}/search?q=2605.99999+c%2B%2B+AND+(&since=2026-05-01")
        facts["odd_query_results"] = await browser.evaluate("document.body.innerText.length")
        await browser.goto(f"{base}/t/post-train")
        await browser.screenshot(SCREENSHOTS / "topic.png")
        facts["problems"] = browser.problems()
        return facts

    facts = run_in_browser(tmp_path, scenario)
    assert facts["problems"] == []
    assert facts["url"].startswith("/search?q=")
    assert facts["results"] > 0
    assert_links_work(base, facts["links"])
    assert facts["odd_query_results"] > 0
    assert (SCREENSHOTS / "search.png").stat().st_size > 10_000
