"""A digest's chart: papers per theme this week, and the topic's weekly volume over the last
12 weeks, as one PNG for the web page and the chat thread.

The numbers (`chart_data`) come from the digest and the corpus; drawing (`render_png`) uses
matplotlib's Agg backend, imported only when a chart is drawn (it is large and slow to
import). `ChartCache` keeps the PNG of each stored digest (by its id), in memory and, when
given a directory, on disk, so a page view or a re-post does not draw it again.
"""

from __future__ import annotations

import io
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from digest.model import Digest, Figure, cited_ids
from digest.render import spans
from storage import Corpus

WEEKS = 12
THEME_COLOR = "#2b6cb0"  # theme bars (tests find the bars by this exact colour)
WEEK_COLOR = "#a0aec0"  # earlier weeks
THIS_WEEK_COLOR = "#dd6b20"  # the digest's own week
LABEL_CHARS = 42
_MATH = re.compile(r"[$\\]")  # mathtext would parse "$...$" in untrusted headings


@dataclass(frozen=True, slots=True)
class ChartData:
    """What the chart shows: (theme label, papers) in the digest's order, and (first day of
    week, papers) for the topic's weeks, oldest first, the digest's own week last."""

    themes: tuple[tuple[str, int], ...]
    weeks: tuple[tuple[date, int], ...]


def theme_counts(digest: Digest) -> list[tuple[str, int]]:
    """Each theme of the digest with the number of papers it names."""
    section = digest.section("themes")
    out: list[tuple[str, int]] = []
    for item in section.items if section else ():
        papers = set(item.papers) | set(cited_ids(item.text))
        label = "".join(s.text for s in spans(item.heading, digest)).strip() or "Theme"
        out.append((label, len(papers)))
    return out


def chart_data(corpus: Corpus, digest: Digest, weeks: int = WEEKS) -> ChartData:
    """The chart's numbers: theme sizes from the digest, weekly volume from the corpus
    (7-day weeks ending on the digest's last day, so its own week is the last bar)."""
    first = digest.until - timedelta(days=7 * weeks - 1)
    daily = corpus.daily_counts(digest.topic, first, digest.until)
    volume = []
    for index in range(weeks):
        start = first + timedelta(days=7 * index)
        volume.append((start, sum(daily.get(start + timedelta(days=d), 0) for d in range(7))))
    return ChartData(tuple(theme_counts(digest)), tuple(volume))


def _label(text: str, limit: int = LABEL_CHARS) -> str:
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return _MATH.sub(lambda m: "\\" + m.group(0), text)


def render_png(data: ChartData, title: str = "") -> bytes:
    """The chart as PNG bytes: theme bars on the left, weekly volume on the right."""
    from matplotlib.figure import Figure as MplFigure  # Agg via the canvas below: no GUI

    figure = MplFigure(figsize=(11, 4.6), dpi=100, layout="constrained")
    themes_ax, weeks_ax = figure.subplots(1, 2, width_ratios=(1.25, 1))
    labels = [_label(name) for name, _ in data.themes] or ["(no themes)"]
    counts = [count for _, count in data.themes] or [0]
    rows = list(range(len(labels)))
    themes_ax.barh(rows, counts, color=THEME_COLOR, linewidth=0, antialiased=False)
    themes_ax.set_yticks(rows, labels, fontsize=8)
    themes_ax.invert_yaxis()  # the digest's first theme on top
    themes_ax.set_xlabel("papers")
    themes_ax.set_title("Papers per theme this week", fontsize=10)
    themes_ax.xaxis.get_major_locator().set_params(integer=True)
    for row, count in zip(rows, counts, strict=True):
        themes_ax.annotate(
            str(count),
            (count, row),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    positions = list(range(len(data.weeks)))
    colors = [WEEK_COLOR] * len(positions)
    if colors:
        colors[-1] = THIS_WEEK_COLOR
    weeks_ax.bar(
        positions, [n for _, n in data.weeks], color=colors, linewidth=0, antialiased=False
    )
    weeks_ax.set_xticks(
        positions, [start.strftime("%b %d") for start, _ in data.weeks], rotation=60, fontsize=7
    )
    weeks_ax.set_ylabel("papers")
    weeks_ax.set_title(f"Papers a week, last {len(positions)} weeks", fontsize=10)
    weeks_ax.yaxis.get_major_locator().set_params(integer=True)
    if title:
        figure.suptitle(_label(title, 110), fontsize=11)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    out = io.BytesIO()
    figure.savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()


def describe(data: ChartData, digest: Digest) -> str:
    """The chart in words (alt text, and the message that carries it)."""
    themes = "; ".join(f"{name} {count}" for name, count in data.themes) or "none"
    volume = ", ".join(str(n) for _, n in data.weeks)
    return (
        f"Papers per theme this week: {themes}. Papers a week for {digest.topic} over the "
        f"{len(data.weeks)} weeks to {digest.until}, oldest first: {volume}."
    )


def chart_filename(digest: Digest) -> str:
    return f"{digest.topic}-{digest.since}-{digest.until}-chart.png"


class ChartCache:
    """PNG charts of stored digests by digest id: drawn once, then served from memory (and
    from `directory`, when given, across restarts). Thread-safe."""

    def __init__(
        self,
        corpus: Corpus,
        directory: Path | None = None,
        size: int = 64,
        render: Callable[[ChartData, str], bytes] | None = None,
    ) -> None:
        self.corpus = corpus
        self.directory = directory
        self.size = size
        # Who draws a chart not cached yet: here by default; the bot hands it to its build
        # processes, so that matplotlib is neither imported nor run beside its acks.
        self.render = render or render_png
        self._memory: OrderedDict[int, tuple[bytes, str]] = OrderedDict()
        self._lock = threading.Lock()

    def png(self, digest_id: int, digest: Digest) -> bytes:
        return self.get(digest_id, digest)[0]

    def get(self, digest_id: int, digest: Digest) -> tuple[bytes, str]:
        """(PNG, description) of the stored digest `digest_id`, which is `digest`."""
        with self._lock:
            if digest_id in self._memory:
                self._memory.move_to_end(digest_id)
                return self._memory[digest_id]
        data = chart_data(self.corpus, digest)
        text = describe(data, digest)
        png = self._from_disk(digest_id)
        if png is None:
            png = self.render(data, f"{digest.title}, {digest.since} to {digest.until}")
            self._to_disk(digest_id, png)
        with self._lock:
            self._memory[digest_id] = (png, text)
            while len(self._memory) > self.size:
                self._memory.popitem(last=False)
        return png, text

    def figure(self, digest_id: int, digest: Digest) -> Figure:
        """The chart as the digest's `Figure`, for posting."""
        png, text = self.get(digest_id, digest)
        title = f"{digest.title}, {digest.since} to {digest.until}: chart"
        return Figure(chart_filename(digest), title, text, png)

    def _path(self, digest_id: int) -> Path | None:
        return self.directory / f"digest-{digest_id}.png" if self.directory else None

    def _from_disk(self, digest_id: int) -> bytes | None:
        path = self._path(digest_id)
        try:
            return path.read_bytes() if path is not None else None
        except OSError:
            return None

    def _to_disk(self, digest_id: int, png: bytes) -> None:
        path = self._path(digest_id)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
            partial.write_bytes(png)
            partial.replace(path)  # readers never see half a file
        except OSError:
            pass  # a cache that cannot be written only costs drawing the chart again
