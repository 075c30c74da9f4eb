"""What a posted digest carries besides its text: the link to its web page (when
`[web] public_url` is set) and its chart. Applied just before posting, so every platform's
poster renders the same neutral messages (digest.render) and only translates them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from bot.config import Config
from digest.chart import ChartCache, ChartData
from digest.model import Digest
from storage import Corpus

log = logging.getLogger(__name__)

# (digest, its stored id or None) -> the digest as it is to be posted.
Present = Callable[[Digest, int | None], Digest]


def digest_url(public_url: str, digest_id: int) -> str:
    """The permalink of a stored digest under the pages' public base URL."""
    return f"{public_url.rstrip('/')}/d/{digest_id}"


def chart_directory(config: Config) -> Path | None:
    """Where charts are cached on disk: next to the database file."""
    path = config.database.resolved_path()
    return None if str(path) == ":memory:" else path.parent / "charts"


class Presenter:
    """Adds the permalink and the chart to a stored digest before it is posted."""

    def __init__(self, public_url: str, charts: ChartCache | None) -> None:
        self.public_url = public_url
        self.charts = charts

    @classmethod
    def from_config(
        cls,
        config: Config,
        corpus: Corpus,
        render: Callable[[ChartData, str], bytes] | None = None,
    ) -> Presenter:
        """`render` draws a chart not cached yet (default: in this process)."""
        charts = ChartCache(corpus, chart_directory(config), render=render)
        return cls(config.web.public_url, charts)

    def __call__(self, digest: Digest, digest_id: int | None) -> Digest:
        if digest_id is None:
            return digest  # never stored: no page to link, no id to cache a chart by
        if self.public_url:
            digest = replace(digest, permalink=digest_url(self.public_url, digest_id))
        if self.charts is not None and digest.paper_count:
            try:
                digest = replace(digest, figure=self.charts.figure(digest_id, digest))
            except (ImportError, RuntimeError, ValueError, OSError) as err:
                # A chart is a nicety: a drawing failure must not stop the digest.
                log.warning("no chart for digest %s: %s", digest_id, err)
        return digest
