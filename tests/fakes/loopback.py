"""The plumbing every HTTP fake shares: a threading server on 127.0.0.1 that knows its fake,
served from a daemon thread, started and stopped with `with`.

A fake subclasses `Loopback` and says how to make its server (`_new_server`); its request
handler reaches the fake as `self.server.fake`. (The Discord fake is an aiohttp app on its
own loop and does not use this.)
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class LoopbackServer(ThreadingHTTPServer):
    """A threading HTTP server bound to 127.0.0.1 (port 0: any free port)."""

    daemon_threads = True  # a handler stalled on purpose must not keep the tests alive
    allow_reuse_address = True

    def __init__(self, port: int, handler: type[BaseHTTPRequestHandler], fake: Any) -> None:
        super().__init__(("127.0.0.1", port), handler)
        self.fake = fake

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (a timeout test, a killed process) is expected here."""
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)


class JSONHandler(BaseHTTPRequestHandler):
    """A handler for a fake of a JSON API: every POST goes to `fake._handle(handler)`,
    which answers with `send_json`. `label` prefixes the log lines of a verbose fake."""

    server: LoopbackServer
    label = "fake"

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.fake.verbose:
            sys.stderr.write(f"{self.label}: " + format % args + "\n")

    def do_POST(self) -> None:
        self.server.fake._handle(self)

    def reply_headers(self, body: dict[str, Any]) -> Sequence[tuple[str, str]]:
        """Headers the API sends with every JSON reply (besides the content's)."""
        return ()

    def send_json(
        self, status: int, body: dict[str, Any], headers: Sequence[tuple[str, str]] = ()
    ) -> None:
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (*self.reply_headers(body), *headers):
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test): nothing to deliver


class Loopback:
    """Start, stop and `with` for a fake served by a `LoopbackServer` on a daemon thread."""

    thread_name = "fake"
    # shutdown() waits up to one poll interval, and every test's teardown calls it.
    poll_interval = 0.01
    _server: LoopbackServer | None = None
    _thread: threading.Thread | None = None

    def _new_server(self) -> LoopbackServer:
        """Bind this fake's server (its port, its handler)."""
        raise NotImplementedError

    def _before_stop(self) -> None:
        """Wake what would hold shutdown up (stalled handlers, open sockets)."""

    def start(self) -> Self:
        """Bind and serve from a daemon thread; starting a started fake does nothing."""
        if self._server is None:
            server = self._new_server()
            self._server = server
            self._thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": self.poll_interval},
                name=self.thread_name,
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port; safe to call twice."""
        server, self._server = self._server, None
        if server is None:
            return
        self._before_stop()
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
