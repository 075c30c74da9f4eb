"""The digest chart: drawn for the real shared weeks, with bars the size of the digest's
theme counts and of the topic's weekly volume (measured in the PNG's pixels)."""

from __future__ import annotations

import io
import re
from collections.abc import Sequence

import numpy as np
import pytest

from digest.chart import (
    THEME_COLOR,
    THIS_WEEK_COLOR,
    WEEK_COLOR,
    ChartCache,
    ChartData,
    chart_data,
    render_png,
    theme_counts,
)
from storage import Corpus
from tests.support.web import SHARED_WEEKS, store_shared_week

pytestmark = pytest.mark.usefixtures("shared_arxiv")


def pixels(png: bytes) -> np.ndarray:
    from matplotlib.image import imread

    return (imread(io.BytesIO(png), format="png")[:, :, :3] * 255).round().astype(int)


def mask(image: np.ndarray, colors: Sequence[str]) -> np.ndarray:
    hits = np.zeros(image.shape[:2], dtype=bool)
    for color in colors:
        rgb = [int(color[i : i + 2], 16) for i in (1, 3, 5)]
        hits |= (np.abs(image - rgb) <= 1).all(axis=2)
    return hits


def bands(line: np.ndarray) -> list[tuple[int, int]]:
    """Runs of True in a 1-D mask, as (start, end) indices."""
    out, start = [], None
    for index, value in enumerate([*line.tolist(), False]):
        if value and start is None:
            start = index
        elif not value and start is not None:
            out.append((start, index))
            start = None
    return out


def horizontal_bar_lengths(image: np.ndarray, colors: Sequence[str]) -> list[int]:
    """Lengths in pixels of horizontal bars of these colours, top to bottom."""
    hits = mask(image, colors)
    rows = bands(hits.any(axis=1))
    return [int(hits[start:end].sum(axis=1).max()) for start, end in rows]


def vertical_bar_lengths(image: np.ndarray, colors: Sequence[str]) -> list[int]:
    """Heights in pixels of vertical bars of these colours, left to right."""
    hits = mask(image, colors)
    columns = bands(hits.any(axis=0))
    return [int(hits[:, start:end].sum(axis=0).max()) for start, end in columns]


def assert_proportional(lengths: Sequence[int], counts: Sequence[int]) -> None:
    """Bars are as long as their counts: the same ratios to the longest, within 3 px
    (the ends are anti-aliased)."""
    assert len(lengths) == len(counts)
    scale = max(lengths) / max(counts)
    for length, count in zip(lengths, counts, strict=True):
        assert abs(length - count * scale) <= 3, (lengths, counts)


@pytest.mark.parametrize("week", sorted(SHARED_WEEKS))
def test_a_shared_week_gets_a_png_whose_theme_bars_match_the_digest(
    corpus: Corpus, week: str
) -> None:
    digest, _ = store_shared_week(corpus, week)
    data = chart_data(corpus, digest)
    png = render_png(data, digest.title)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    counts = [count for _, count in theme_counts(digest)]
    themes = digest.section("themes")
    assert themes is not None and len(counts) == len(themes.items) >= 2
    # The counts are the digest's: each theme's papers, as its heading says ("(28 papers)").
    for item, count in zip(themes.items, counts, strict=True):
        assert count == len(set(item.papers)) > 0
        said = re.search(r"\((\d+) papers?\)", item.heading)
        assert said is None or int(said.group(1)) == count, item.heading
    image = pixels(png)
    assert_proportional(horizontal_bar_lengths(image, [THEME_COLOR]), counts)


@pytest.mark.parametrize("week", sorted(SHARED_WEEKS))
def test_the_weekly_volume_is_the_topics_papers_per_week(corpus: Corpus, week: str) -> None:
    digest, _ = store_shared_week(corpus, week)
    data = chart_data(corpus, digest)
    assert len(data.weeks) == 12 and data.weeks[-1][0] == digest.since
    # The digest's own week holds exactly the papers it was written from.
    assert data.weeks[-1][1] == digest.paper_count
    papers = corpus.papers_in_window(data.weeks[0][0], digest.until, "post-train")
    assert sum(n for _, n in data.weeks) == len(papers)
    image = pixels(render_png(data))
    drawn = [n for _, n in data.weeks if n]
    assert_proportional(vertical_bar_lengths(image, [WEEK_COLOR, THIS_WEEK_COLOR]), drawn)


def test_the_cache_draws_each_digest_once(corpus: Corpus, tmp_path) -> None:
    digest, digest_id = store_shared_week(corpus, "2026-05-13")
    cache = ChartCache(corpus, tmp_path)
    first = cache.png(digest_id, digest)
    assert (tmp_path / f"digest-{digest_id}.png").read_bytes() == first
    (tmp_path / f"digest-{digest_id}.png").write_bytes(b"from disk")
    assert cache.png(digest_id, digest) == first  # memory first
    assert ChartCache(corpus, tmp_path).png(digest_id, digest) == b"from disk"  # then disk
    figure = cache.figure(digest_id, digest)
    assert figure.data == first and figure.filename.endswith("-chart.png")
    assert "Papers per theme this week" in figure.alt


def test_the_cache_hands_a_miss_to_its_renderer_and_only_a_miss(corpus: Corpus, tmp_path) -> None:
    """The bot passes its build processes' renderer, so matplotlib never runs beside its
    acks; a chart already on disk is not drawn again."""
    digest, digest_id = store_shared_week(corpus, "2026-05-13")
    drawn: list[tuple[ChartData, str]] = []

    def render(data: ChartData, title: str) -> bytes:
        drawn.append((data, title))
        return b"drawn elsewhere"

    cache = ChartCache(corpus, tmp_path, render=render)
    assert cache.png(digest_id, digest) == b"drawn elsewhere"
    assert drawn == [
        (chart_data(corpus, digest), f"{digest.title}, {digest.since} to {digest.until}")
    ]
    assert ChartCache(corpus, tmp_path, render=render).png(digest_id, digest) == b"drawn elsewhere"
    assert len(drawn) == 1  # the second cache read it from disk


def test_untrusted_labels_are_not_mathtext() -> None:
    """A theme heading with "$" signs (LaTeX in abstracts) is drawn as text, not parsed."""
    data = ChartData((("Cost $\\frac{1}{2$ of {\\bad", 3), ("Plain", 1)), ())
    assert render_png(data).startswith(b"\x89PNG")
