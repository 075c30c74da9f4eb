"""A file touched regularly while the bot runs, so a health check can tell it is alive."""

from __future__ import annotations

import threading
import time
from pathlib import Path

INTERVAL_SECONDS = 30.0
STALE_AFTER_SECONDS = 120.0


class Heartbeat:
    """Touches `path` every `interval` seconds in a daemon thread until stopped."""

    def __init__(self, path: Path, interval: float = INTERVAL_SECONDS) -> None:
        self.path = path
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.beat()
        self._thread.start()

    def beat(self) -> None:
        self.path.write_text(f"{time.time():.0f}\n")

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.beat()

    def stop(self) -> None:
        self._stop.set()


def is_fresh(path: Path, max_age: float = STALE_AFTER_SECONDS) -> bool:
    """Whether the heartbeat file was touched within `max_age` seconds."""
    try:
        return time.time() - path.stat().st_mtime < max_age
    except OSError:
        return False
