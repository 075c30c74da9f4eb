"""A file written regularly while the bot runs, so a health check can tell it is alive, and
whether each chat connection (adapter) is up.

Each beat asks every adapter's probe whether it is connected. One that has been down for
`down_limit` seconds without reconnecting makes the bot unhealthy: the file says so (so
`digestbot health` fails) and `on_dead` is called (so `run` exits non-zero and Docker or
systemd restarts it) instead of a process that looks alive but no longer listens.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 30.0
STALE_AFTER_SECONDS = 120.0
DOWN_LIMIT_SECONDS = 300.0

Probe = Callable[[], bool]


class Heartbeat:
    """Writes `path` every `interval` seconds in a daemon thread until stopped."""

    def __init__(
        self,
        path: Path,
        interval: float = INTERVAL_SECONDS,
        *,
        down_limit: float = DOWN_LIMIT_SECONDS,
        on_dead: Callable[[list[str]], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self._interval = interval
        self._down_limit = down_limit
        self._on_dead = on_dead
        self._clock = clock
        self._probes: dict[str, Probe] = {}
        self._down_since: dict[str, float] = {}
        self._reported = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def watch(self, name: str, probe: Probe) -> None:
        """Check `probe` (True: connected) at every beat."""
        self._probes[name] = probe

    def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.beat()
        self._thread.start()

    def beat(self) -> list[str]:
        """Probe the adapters and write the file; returns the adapters down too long."""
        now = self._clock()
        adapters = {}
        for name, probe in self._probes.items():
            try:
                up = bool(probe())
            except Exception:  # a probe that fails is a connection we cannot vouch for
                up = False
            if up:
                self._down_since.pop(name, None)
            else:
                self._down_since.setdefault(name, now)
            adapters[name] = {"up": up, "down_since": self._down_since.get(name)}
        dead = sorted(n for n, t in self._down_since.items() if now - t >= self._down_limit)
        state = {"time": round(now), "adapters": adapters, "dead": dead}
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(state) + "\n")
        tmp.replace(self.path)  # a reader never sees half a file
        if dead and not self._reported:
            self._reported = True
            log.error(
                "%s down for over %.0f s without reconnecting: the bot is unhealthy",
                " and ".join(dead),
                self._down_limit,
            )
            if self._on_dead is not None:
                self._on_dead(dead)
        return dead

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.beat()
            except OSError:
                log.exception("could not write the heartbeat %s", self.path)

    def stop(self) -> None:
        self._stop.set()


def is_fresh(path: Path, max_age: float = STALE_AFTER_SECONDS) -> bool:
    """Whether the heartbeat file was touched within `max_age` seconds."""
    try:
        return time.time() - path.stat().st_mtime < max_age
    except OSError:
        return False


def health(path: Path, max_age: float = STALE_AFTER_SECONDS) -> tuple[bool, str]:
    """Whether a running bot is healthy (fresh heartbeat, no adapter down too long), and
    one line saying why."""
    if not is_fresh(path, max_age):
        return False, f"heartbeat {path} is missing or stale"
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return True, f"heartbeat {path} is fresh"  # the plain-timestamp form of older versions
    if not isinstance(state, dict):
        return True, f"heartbeat {path} is fresh"
    dead = state.get("dead") or []
    if dead:
        return False, f"{' and '.join(dead)} connection down and not reconnecting ({path})"
    adapters = state.get("adapters") or {}
    down = [name for name, a in adapters.items() if not a.get("up")]
    if down:
        return True, f"heartbeat {path} is fresh; reconnecting: {', '.join(down)}"
    return True, f"heartbeat {path} is fresh"
