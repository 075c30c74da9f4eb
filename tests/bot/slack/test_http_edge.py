"""The HTTP edge under attack, against the real uvicorn server on loopback: every request
is real bytes on a real socket, and each attack the old hand-written server fell to is one
test (negative and oversized Content-Length, chunked floods, malformed unsigned bodies,
stale and replayed signatures, half-open and trickling connections)."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
from slack_sdk.signature import SignatureVerifier

from bot.config import HttpConfig
from bot.http.app import ReplayGuard, build_app
from bot.http.server import HttpServer, serve
from bot.slack.app import Jobs, SlackApp
from bot.slack.app import build_app as build_slack_app
from digest.offline.engine import OfflineEngine
from digest.synthesis import SynthesisRequest
from tests.support.publishing import publisher_for
from tests.support.slack import SECRET, command_body, slack_config

FAST_LIMITS = HttpConfig(
    host="127.0.0.1",
    port=0,
    max_body_bytes=64 << 10,
    header_timeout_seconds=0.5,
    body_timeout_seconds=0.5,
)


def start(app: SlackApp, settings: HttpConfig = FAST_LIMITS, **kwargs) -> HttpServer:
    return serve(build_app(slack=app, settings=settings, **kwargs), settings)


@pytest.fixture
def server(app: SlackApp) -> Iterator[HttpServer]:
    running = start(app)
    yield running
    running.stop()


def headers_of(body: str, *, timestamp: int | None = None, json_body: bool = False) -> dict:
    """Headers signed the way Slack signs a request (computed here, without parsing the body,
    so malformed bodies can be signed too)."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "Content-Type": "application/json" if json_body else "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": SignatureVerifier(SECRET).generate_signature(
            timestamp=stamp, body=body
        ),
    }


def post(
    server: HttpServer, body: bytes | str, headers: dict[str, str], path: str = "/slack/events"
) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=5)
    try:
        data = body.encode() if isinstance(body, str) else body
        connection.request("POST", path, body=data, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def raw_exchange(server: HttpServer, data: bytes, *, wait: float = 5.0) -> bytes:
    """Send raw bytes and read whatever comes back until the server closes or `wait` passes."""
    with socket.create_connection((server.host, server.port), timeout=wait) as sock:
        with contextlib.suppress(OSError):  # the server may close before all is sent
            sock.sendall(data)
        received = b""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            received += chunk
            if b"\r\n\r\n" in received and received.startswith(b"HTTP/1.1 4"):
                break
        return received


def status_of(response: bytes) -> int:
    assert response.startswith(b"HTTP/1.1 "), response[:80]
    return int(response.split(b" ", 2)[1])


class TestSignedRequests:
    def test_a_signed_command_is_acknowledged_and_answered(self, app, fake, server) -> None:
        body = command_body("help")
        assert post(server, body, headers_of(body))[0] == 200
        assert app.wait_idle(10)
        assert len(fake.ephemerals()) == 1 and "/digest TOPIC" in fake.ephemerals()[0]["text"]

    def test_a_bad_signature_is_401_and_unknown_paths_404(self, app, fake, server) -> None:
        body = command_body("help")
        headers = headers_of(body)
        headers["X-Slack-Signature"] = "v0=" + "0" * 64
        assert post(server, body, headers)[0] == 401
        assert post(server, body, headers_of(body), path="/nope")[0] == 404
        assert app.wait_idle(10) and fake.ephemerals() == []

    def test_a_stale_signature_is_401(self, app, fake, server) -> None:
        body = command_body("help")
        stale = headers_of(body, timestamp=int(time.time()) - 600)
        assert post(server, body, stale)[0] == 401
        assert app.wait_idle(10) and fake.ephemerals() == []

    def test_a_replayed_request_is_answered_once(self, app, fake, server) -> None:
        body = command_body("help")
        headers = headers_of(body)
        assert post(server, body, headers)[0] == 200
        assert post(server, body, headers)[0] == 200  # answered, so Slack stops, but not run
        assert app.wait_idle(10)
        assert len(fake.ephemerals()) == 1

    def test_slacks_url_verification_challenge(self, server) -> None:
        body = json.dumps({"type": "url_verification", "challenge": "abc123", "token": "t"})
        status, answer = post(server, body, headers_of(body, json_body=True))
        assert status == 200 and b"abc123" in answer


class TestBodies:
    def test_a_negative_content_length_is_refused_unread(self, app, fake, server) -> None:
        head = (
            b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n"
            b"Content-Type: application/json\r\n\r\n"
        )
        response = raw_exchange(server, head + b"{" + b"x" * (256 << 10))
        assert status_of(response) == 400
        assert b"Traceback" not in response

    def test_an_oversized_content_length_is_413_before_the_body(self, server) -> None:
        head = (
            b"POST /slack/events HTTP/1.1\r\nHost: x\r\n"
            b"Content-Length: 209715200\r\nContent-Type: application/json\r\n\r\n"
        )
        started = time.monotonic()
        response = raw_exchange(server, head)  # no body sent at all: refused on the header
        assert status_of(response) == 413
        assert time.monotonic() - started < 3

    def test_a_chunked_body_is_counted_as_it_streams(self, server) -> None:
        chunk = b"x" * 8192
        data = b"POST /slack/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        data += (b"2000\r\n" + chunk + b"\r\n") * 16  # 128 KiB, twice the limit
        data += b"0\r\n\r\n"
        assert status_of(raw_exchange(server, data)) == 413

    @pytest.mark.parametrize(
        "body, content_type",
        [
            (b'{"type": "event_callback", "event": ', "application/json"),
            (b"\xff\xfe\x00garbage", "application/x-www-form-urlencoded"),
            (b"payload=%7Bnot-json", "application/x-www-form-urlencoded"),
            (b"[1, 2, 3]", "application/json"),
        ],
    )
    def test_malformed_unsigned_bodies_get_a_reply_not_a_traceback(
        self, server, body: bytes, content_type: str, caplog
    ) -> None:
        for _ in range(20):
            status, answer = post(server, body, {"Content-Type": content_type})
            assert status == 401 and b"Traceback" not in answer
        assert "Traceback" not in caplog.text

    @pytest.mark.parametrize(
        "body, json_body",
        [('{"type": "event_callback", "event": ', True), ("payload=%7Bnot-json", False)],
    )
    def test_malformed_signed_bodies_are_400(self, server, body: str, json_body: bool) -> None:
        status, answer = post(server, body, headers_of(body, json_body=json_body))
        assert status == 400 and b"Traceback" not in answer


class TestSlowClients:
    def test_a_half_open_connection_is_closed(self, server) -> None:
        with socket.create_connection((server.host, server.port), timeout=5) as sock:
            started = time.monotonic()
            assert sock.recv(1024) == b""  # the server hangs up on a silent client
            assert time.monotonic() - started < 4

    def test_a_trickle_of_headers_is_cut_off(self, server) -> None:
        with socket.create_connection((server.host, server.port), timeout=5) as sock:
            sock.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\n")
            started = time.monotonic()
            for _ in range(8):  # one more header line every 0.2 s never completes a request
                try:
                    sock.sendall(b"X-Slow: 1\r\n")
                except OSError:
                    break
                time.sleep(0.2)
            assert sock.recv(1024) == b""
            assert time.monotonic() - started < 4

    def test_a_stalled_body_is_answered_408(self, server) -> None:
        with socket.create_connection((server.host, server.port), timeout=5) as sock:
            sock.sendall(
                b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789"
            )
            assert status_of(sock.recv(1024)) == 408

    def test_an_idle_keep_alive_connection_is_closed_but_a_busy_one_is_not(self, server) -> None:
        connection = http.client.HTTPConnection(server.host, server.port, timeout=5)
        connection.request("GET", "/healthz")
        assert connection.getresponse().read()
        connection.request("GET", "/healthz")  # a second request on the same connection
        assert connection.getresponse().status == 200
        connection.close()


class TestServer:
    def test_it_listens_on_loopback_unless_told_otherwise(self, app) -> None:
        assert HttpConfig().host == "127.0.0.1"
        running = start(app, replace(FAST_LIMITS, host=HttpConfig().host))
        try:
            assert running.host == "127.0.0.1"
        finally:
            running.stop()

    def test_healthz_answers_from_the_health_check(self, app) -> None:
        state = {"ok": True}

        def health() -> tuple[bool, dict]:
            return state["ok"], {"slack": "connected", "database": "ok" if state["ok"] else "x"}

        running = start(app, health=health)
        try:
            connection = http.client.HTTPConnection(running.host, running.port, timeout=5)
            connection.request("GET", "/healthz")
            response = connection.getresponse()
            assert response.status == 200
            expected = {"ok": True, "slack": "connected", "database": "ok"}
            assert json.loads(response.read()) == expected
            state["ok"] = False
            connection.request("GET", "/healthz")
            response = connection.getresponse()
            assert response.status == 503 and json.loads(response.read())["ok"] is False
            connection.close()
        finally:
            running.stop()

    def test_a_taken_port_fails_in_words(self, app, server) -> None:
        from bot.errors import PlatformError

        with pytest.raises(PlatformError, match=r"cannot listen on 127\.0\.0\.1:\d+"):
            start(app, replace(FAST_LIMITS, port=server.port))


class TestReplayGuard:
    def test_a_signature_is_forgotten_after_the_window(self) -> None:
        now = [0.0]
        guard = ReplayGuard(window=300, clock=lambda: now[0])
        assert guard.first_time("v0=a") and not guard.first_time("v0=a")
        now[0] = 299
        assert not guard.first_time("v0=a")
        now[0] = 301
        assert guard.first_time("v0=a")

    def test_memory_is_bounded(self) -> None:
        guard = ReplayGuard(memory=3, clock=lambda: 0.0)
        for name in "abcd":
            assert guard.first_time(name)
        assert guard.first_time("a")  # the oldest was let go


class SlowEngine:
    """The offline engine held until the test lets it go: a digest being built."""

    name = "slow"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Semaphore(0)
        self.engine = OfflineEngine()

    def synthesize(self, request: SynthesisRequest):
        self.started.release()
        self.release.wait(30)
        return self.engine.synthesize(request)


class TestQuickCommandsBesideSlowWork:
    @pytest.mark.parametrize("quick", ["help", "topics", "status"])
    def test_quick_commands_answer_while_four_digests_are_built(
        self, fake, poster, router, quick: str
    ) -> None:
        slow = SlowEngine()
        router.service.synthesizer = slow
        built = build_slack_app(
            router,
            slack_config(fake.base_url),
            publisher=publisher_for(router),
            poster=poster,
            jobs=Jobs(),
            env={},
        )
        built.bot.notice_after = 120
        running = start(built, replace(FAST_LIMITS, body_timeout_seconds=5))
        try:
            # Four digests being built at once, all held in synthesis: four channels, as the
            # Publisher lets one build run per channel, topic and window.
            for n in range(4):
                body = command_body("post-train", user=f"U{n}", channel=f"C0SLOW{n}")
                assert post(running, body, headers_of(body))[0] == 200
            for _ in range(4):
                assert slow.started.acquire(timeout=20)
            body = command_body(quick)
            started = time.monotonic()
            assert post(running, body, headers_of(body))[0] == 200
            assert fake.wait_for(lambda f: len(f.ephemerals()) + len(f.posts()) > 0, 10)
            elapsed = time.monotonic() - started
            # Answered while every slow worker is still held: it did not queue behind them.
            assert not slow.release.is_set()
            assert elapsed < 2.0, f"{quick} took {elapsed:.2f} s beside four digests"
        finally:
            slow.release.set()
            built.wait_idle(60)
            running.stop()
            built.close()
