"""The plumbing the HTTP fakes share: serving on loopback, reaching the fake, stopping."""

from __future__ import annotations

import socket
import urllib.request
from http.server import BaseHTTPRequestHandler

import pytest

from tests.fakes.loopback import Loopback, LoopbackServer


class _Echo(BaseHTTPRequestHandler):
    server: LoopbackServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        body = self.server.fake.answer.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Echo(Loopback):
    def __init__(self) -> None:
        self.answer = "hello"
        self.stopped_hook = 0

    def _new_server(self) -> LoopbackServer:
        return LoopbackServer(0, _Echo, self)

    def _before_stop(self) -> None:
        self.stopped_hook += 1


def test_serves_the_fake_then_releases_the_port() -> None:
    with Echo() as fake:
        assert fake._server is not None
        port = fake._server.port
        assert fake.start() is fake  # starting again keeps the same server
        assert fake._server.port == port
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
            assert response.read() == b"hello"
    assert fake.stopped_hook == 1
    fake.stop()  # a second stop is harmless and does not run the hook again
    assert fake.stopped_hook == 1
    with pytest.raises(ConnectionRefusedError):  # nothing listens there any more
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
