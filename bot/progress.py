"""Progress on stderr for long runs: a live bar in a terminal, a line a page otherwise."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from digest.arxiv_source import Progress as ProgressCallback


@contextmanager
def fetch_progress(label: str, stream: TextIO | None = None) -> Iterator[ProgressCallback]:
    """A callback for `ArxivSource` that shows `label` and papers received of the total."""
    stream = stream or sys.stderr
    if not stream.isatty():

        def report(done: int, total: int) -> None:
            print(f"{label}: {done} of {total} papers", file=stream, flush=True)

        yield report
        return
    # rich loads only for a live bar: piped runs and a cached digest's start-up skip it.
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(file=stream), transient=True) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update
