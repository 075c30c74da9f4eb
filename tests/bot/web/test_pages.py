"""The archive pages through httpx's ASGI transport: every route, hostile paper text made
inert, read-only, the shared token, and one-sentence errors."""

from __future__ import annotations

import base64
import html
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from digest.model import SECTION_TITLES
from storage import Corpus
from tests.support.papers import make_paper
from tests.support.web import (
    EARLIER,
    HOSTILE_TITLE,
    WINDOW,
    get,
    make_app,
    store_week,
    week,
)

ATOM = "{http://www.w3.org/2005/Atom}"


class _Links(HTMLParser):
    """The real link targets of a page (attributes the browser acts on), and the tags."""

    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str] = []
        self.tags: list[str] = []
        self.handlers: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("href", "src", "action"):
                self.targets.append(value or "")
            if name.startswith("on"):
                self.handlers.append(name)


@pytest.fixture
def stored(corpus: Corpus) -> dict:
    """Two stored weeks of post-train: the later one holds a hostile paper."""
    earlier, earlier_id = store_week(corpus, week(EARLIER, hostile=False), EARLIER)
    digest, digest_id = store_week(corpus, week(WINDOW), WINDOW)
    return {"digest": digest, "id": digest_id, "earlier": earlier, "earlier_id": earlier_id}


@pytest.fixture
def app(corpus: Corpus, stored: dict, tmp_path: Path):
    return make_app(corpus, chart_dir=tmp_path / "charts")


def parsed(html: str) -> _Links:
    parser = _Links()
    parser.feed(html)
    return parser


def links(html: str) -> list[str]:
    return parsed(html).targets


def assert_only_safe_links(html: str) -> None:
    """Every link is one of our pages, or arXiv (or doi.org): nothing a paper wrote."""
    for target in links(html):
        assert target.startswith(
            ("/", "#", "https://arxiv.org/abs/", "https://doi.org/", "data:,")
        ), target


class TestHome:
    def test_lists_each_topic_with_its_latest_digest(self, app, stored) -> None:
        response = get(app, "/")
        assert response.status_code == 200
        assert "LLM Post-Train" in response.text or "post-train" in response.text
        assert f'href="/d/{stored["id"]}"' in response.text
        assert f"{WINDOW.since} to {WINDOW.until}" in response.text
        assert 'href="/t/post-train"' in response.text


class TestTopic:
    def test_the_archive_lists_every_week_newest_first(self, app, stored) -> None:
        text = get(app, "/t/post-train").text
        newer = text.index(f'href="/d/{stored["id"]}"')
        older = text.index(f'href="/d/{stored["earlier_id"]}"')
        assert newer < older
        assert 'href="/feed.xml?topic=post-train"' in text

    def test_an_unknown_topic_is_404_in_one_sentence(self, app) -> None:
        response = get(app, "/t/no-such-topic")
        assert response.status_code == 404
        assert "There is no topic called &#39;no-such-topic&#39;." in response.text


class TestDigest:
    def test_every_section_and_every_paper_linked(self, app, stored) -> None:
        digest = stored["digest"]
        text = get(app, f"/d/{stored['id']}").text
        for key in ("themes", "methods", "notable", "overview", "metadata"):
            assert f'id="{key}"' in text and SECTION_TITLES[key] in text
        for entry in digest.papers:
            assert f'href="/p/{entry.id}"' in text
            assert f'href="https://arxiv.org/abs/{entry.id}"' in text
        assert f'src="/d/{stored["id"]}/chart.png"' in text
        assert_only_safe_links(text)

    def test_the_permalink_shows_when_public_url_is_set(self, corpus, stored) -> None:
        app = make_app(corpus, public_url="https://digests.example.org/")
        text = get(app, f"/d/{stored['id']}").text
        assert f'href="https://digests.example.org/d/{stored["id"]}"' in text

    def test_a_missing_digest_is_404(self, app) -> None:
        assert get(app, "/d/9999").status_code == 404
        assert get(app, "/d/not-a-number").status_code == 404

    def test_its_chart_is_a_png_drawn_once(self, app, stored, tmp_path) -> None:
        response = get(app, f"/d/{stored['id']}/chart.png")
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/png"
        assert response.content.startswith(b"\x89PNG\r\n\x1a\n")
        cached = tmp_path / "charts" / f"digest-{stored['id']}.png"
        assert cached.read_bytes() == response.content


class TestPaper:
    def test_card_tldr_and_the_digests_that_name_it(self, app, stored) -> None:
        entry = stored["digest"].papers[-1]
        text = get(app, f"/p/{entry.id}").text
        assert f'href="https://arxiv.org/abs/{entry.id}"' in text
        assert "TL;DR" in text
        if entry.tldr:  # the engine's sentence, else the abstract's first sentence
            assert html.escape(entry.tldr, quote=False) in text
        else:
            assert "the abstract's first sentence" in text
        assert f'href="/d/{stored["id"]}"' in text and entry.short_name in text

    def test_a_versioned_or_prefixed_id_finds_the_paper(self, app, stored) -> None:
        entry = stored["digest"].papers[1]
        assert get(app, f"/p/arXiv:{entry.id}v2").status_code == 200

    def test_a_tldr_from_the_catalog_is_shown(self, corpus, stored) -> None:
        body = stored["digest"].to_json()
        body["papers"][0]["tldr"] = "One sentence that says it all."
        corpus.save_digest(
            topic="post-train",
            since=WINDOW.since,
            until=WINDOW.until,
            engine="offline",
            generated_at=stored["digest"].generated_at,
            body=body,
        )
        text = get(make_app(corpus), f"/p/{body['papers'][0]['id']}").text
        assert "One sentence that says it all." in text

    def test_tex_typography_in_the_abstract_reads_as_text(self, corpus, app) -> None:
        corpus.upsert_papers(
            [
                make_paper(
                    "2606.01999",
                    title="Escapes",
                    abstract="It scores 69.71\\% on ``hard'' sets, 3--5 points up, with $\\alpha$.",
                )
            ]
        )
        text = html.unescape(get(app, "/p/2606.01999").text)
        assert 'It scores 69.71% on "hard" sets, 3–5 points up, with $\\alpha$.' in text
        assert "\\%" not in text and "``" not in text

    def test_unknown_and_malformed_ids_are_404(self, app) -> None:
        assert get(app, "/p/2601.99999").status_code == 404
        response = get(app, "/p/<script>")
        assert response.status_code == 404 and "<script>" not in response.text


class TestSearch:
    def test_finds_papers_by_their_words(self, app, stored) -> None:
        text = get(app, "/search", params={"q": "policy optimization math reasoning"}).text
        assert 'href="/p/2606.01001"' in text  # "Name1: ... group relative policy ..."

    def test_the_window_filter_leaves_out_other_weeks(self, app, stored) -> None:
        query = {"q": "instruction tuning data selection"}
        both = get(app, "/search", params=query).text
        assert 'href="/p/2606.01002"' in both and 'href="/p/2606.25002"' in both
        only = get(
            app, "/search", params={**query, "since": "2026-06-01", "until": "2026-06-07"}
        ).text
        assert 'href="/p/2606.01002"' in only and 'href="/p/2606.25002"' not in only

    def test_the_topic_filter(self, app, stored) -> None:
        response = get(app, "/search", params={"q": "distillation", "topic": "post-train"})
        assert response.status_code == 200 and 'href="/p/2606.01003"' in response.text
        bad = get(app, "/search", params={"q": "x", "topic": "nope"})
        assert bad.status_code == 400 and "There is no topic called" in bad.text

    def test_bad_input_gets_a_clear_answer(self, app) -> None:
        assert get(app, "/search", params={"q": "c++ AND ("}).status_code == 200
        assert get(app, "/search", params={"q": "x" * 10_000}).status_code == 200
        assert get(app, "/search", params={"q": "\x00\x1b[31m"}).status_code == 200
        bad = get(app, "/search", params={"q": "x", "since": "last week"})
        assert bad.status_code == 400 and "since must be a date like 2026-05-28" in bad.text
        flipped = get(app, "/search", params={"since": "2026-06-07", "until": "2026-06-01"})
        assert flipped.status_code == 400

    def test_an_empty_query_shows_the_form(self, app) -> None:
        text = get(app, "/search").text
        assert 'name="q"' in text and 'name="since"' in text and 'name="topic"' in text


class TestFeed:
    def test_an_atom_feed_of_the_topics_digests(self, corpus, stored) -> None:
        app = make_app(corpus, public_url="https://digests.example.org")
        response = get(app, "/feed.xml", params={"topic": "post-train"})
        assert response.headers["content-type"].startswith("application/atom+xml")
        root = ET.fromstring(response.content)
        entries = root.findall(f"{ATOM}entry")
        hrefs = [e.find(f"{ATOM}link").get("href") for e in entries]
        assert hrefs == [
            f"https://digests.example.org/d/{stored['id']}",
            f"https://digests.example.org/d/{stored['earlier_id']}",
        ]
        assert all(e.find(f"{ATOM}updated").text.endswith("Z") for e in entries)

    def test_without_public_url_links_use_the_request_host(self, app, stored) -> None:
        root = ET.fromstring(get(app, "/feed.xml").content)
        first = root.find(f"{ATOM}entry/{ATOM}link").get("href")
        assert first == f"http://testserver/d/{stored['id']}"

    def test_an_unknown_topic_is_404(self, app) -> None:
        assert get(app, "/feed.xml", params={"topic": "nope"}).status_code == 404


class TestHostileText:
    """A paper's title and abstract hold script tags and javascript: links."""

    @pytest.mark.parametrize("page", ["digest", "paper", "search", "feed"])
    def test_rendered_inert(self, app, stored, page) -> None:
        hostile = stored["digest"].papers
        hostile_id = next(p.id for p in hostile if p.title.startswith("Evil"))
        path = {
            "digest": f"/d/{stored['id']}",
            "paper": f"/p/{hostile_id}",
            "search": "/search?q=" + "preference optimization alignment",
            "feed": "/feed.xml",
        }[page]
        response = get(app, path)
        text = response.text
        assert response.status_code == 200
        page_tags = parsed(text)
        assert "script" not in page_tags.tags and "<script" not in text.lower()
        assert not page_tags.handlers  # no onerror=, onclick=...
        assert "javascript:" not in "".join(page_tags.targets).lower()
        assert "<img src=x" not in text
        if page != "feed":
            assert "&lt;script&gt;" in text  # shown as text, not dropped
            assert_only_safe_links(text)
        assert "script-src" not in response.headers["content-security-policy"]
        assert "default-src 'none'" in response.headers["content-security-policy"]

    def test_the_hostile_title_is_in_the_catalog(self, stored) -> None:
        assert any(HOSTILE_TITLE in p.title for p in stored["digest"].papers)


class TestReadOnly:
    @pytest.mark.parametrize(
        "path", ["/", "/t/post-train", "/d/1", "/p/2606.01001", "/search", "/feed.xml"]
    )
    def test_no_page_takes_a_write(self, app, path) -> None:
        async_post = __import__("asyncio").run

        async def go() -> int:
            import httpx

            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                return (await client.post(path, data={"q": "x"})).status_code

        assert async_post(go()) == 405

    def test_pages_leave_the_database_as_it_was(self, app, corpus, stored) -> None:
        before = (corpus.count_papers(), len(corpus.digests("post-train", limit=100)))
        for path in ("/", "/t/post-train", f"/d/{stored['id']}", "/search?q=2601.00001"):
            get(app, path)
        assert (corpus.count_papers(), len(corpus.digests("post-train", limit=100))) == before


class TestSharedToken:
    @pytest.fixture
    def guarded(self, corpus, stored):
        return make_app(corpus, auth_token="s3cret-token")

    def test_without_the_token_every_page_is_401(self, guarded, stored) -> None:
        for path in ("/", f"/d/{stored['id']}", "/feed.xml", "/static/style.css"):
            response = get(guarded, path)
            assert response.status_code == 401, path
            assert response.headers["www-authenticate"].startswith("Basic")
            assert "s3cret" not in response.text

    def test_a_bearer_token_or_basic_auth_password_lets_in(self, guarded) -> None:
        bearer = {"Authorization": "Bearer s3cret-token"}
        assert get(guarded, "/", headers=bearer).status_code == 200
        basic = base64.b64encode(b"anyone:s3cret-token").decode()
        assert get(guarded, "/", headers={"Authorization": f"Basic {basic}"}).status_code == 200

    def test_a_wrong_token_is_refused(self, guarded) -> None:
        assert get(guarded, "/", headers={"Authorization": "Bearer nope"}).status_code == 401
        assert get(guarded, "/", headers={"Authorization": "Basic !!!"}).status_code == 401


class TestStylesheet:
    def test_served_from_the_package(self, app) -> None:
        response = get(app, "/static/style.css")
        assert response.status_code == 200 and response.headers["content-type"].startswith(
            "text/css"
        )
        assert "body" in response.text
