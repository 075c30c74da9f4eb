"""Serving the ASGI app with uvicorn, in a thread of `digestbot run` or on its own.

    server = serve(app, config.http)     # listening when it returns; PlatformError if not
    server.url, server.port              # port 0 in the settings picks a free one
    server.stop()

uvicorn brings the backlog (2048 by default, where the old server had 5), a cap on open
connections (503 beyond it), a header size limit and a keep-alive timeout. It does not
time out a connection that never finishes its request headers, so the protocol here adds
that: a client that connects and stalls is closed after `header_timeout_seconds`. A body
that stalls is cut off by the app (bot.http.app).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from bot.config import HttpConfig
from bot.errors import PlatformError

log = logging.getLogger(__name__)


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for request headers: armed when the connection
    opens and after each response, it closes the connection if no new request has begun
    by then (a half-open or trickling client), and never one whose request is in progress."""

    header_timeout: float = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._deadline: asyncio.TimerHandle | None = None
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._armed_for = self.cycle
        self._deadline = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _disarm(self) -> None:
        deadline = getattr(self, "_deadline", None)
        if deadline is not None:
            deadline.cancel()
            self._deadline = None

    def _headers_too_slow(self) -> None:
        self._deadline = None
        idle = self.cycle is None or self.cycle.response_complete
        if self.cycle is self._armed_for and idle and not self.transport.is_closing():
            log.debug("closing a connection that sent no complete request in time")
            self.transport.close()


class HttpServer:
    """A running uvicorn server on a thread of its own."""

    def __init__(self, server: uvicorn.Server, sock: socket.socket, thread: threading.Thread):
        self._server = server
        self._socket = sock
        self._thread = thread
        host, port = sock.getsockname()[:2]
        self.host: str = host
        self.port: int = port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self, timeout: float = 10.0) -> None:
        """Stop accepting, let requests in flight finish (up to `timeout`), close."""
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout)
        self._socket.close()


def uvicorn_config(app: Any, settings: HttpConfig) -> uvicorn.Config:
    protocol = type(
        "DigestbotH11Protocol",
        (GuardedH11Protocol,),
        {"header_timeout": settings.header_timeout_seconds},
    )
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        http=protocol,
        ws="none",
        lifespan="off",
        loop="asyncio",
        backlog=settings.backlog,
        limit_concurrency=settings.max_connections,
        timeout_keep_alive=max(1, round(settings.keep_alive_seconds)),
        timeout_graceful_shutdown=10,
        h11_max_incomplete_event_size=settings.max_header_bytes,
        access_log=False,
        log_config=None,  # our logging setup (and its secret filter) stays in charge
        server_header=False,
        proxy_headers=False,
    )


def bind(settings: HttpConfig) -> socket.socket:
    """The listening socket, bound now so that a taken port fails `digestbot run` at once,
    in words."""
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((settings.host, settings.port))
    except OSError as err:
        sock.close()
        raise PlatformError(
            f"cannot listen on {settings.host}:{settings.port}: {err.strerror}; free the port "
            "or change http.port"
        ) from err
    sock.set_inheritable(True)
    return sock


def serve(app: Any, settings: HttpConfig) -> HttpServer:
    """Start serving `app` on a background thread; returns once it accepts connections."""
    sock = bind(settings)
    server = uvicorn.Server(uvicorn_config(app, settings))
    # uvicorn installs signal handlers only on the main thread; `digestbot run` keeps its own.
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="digestbot-http", daemon=True
    )
    thread.start()
    while not server.started:
        if not thread.is_alive():
            sock.close()
            raise PlatformError(f"the HTTP server on {settings.host}:{settings.port} did not start")
        thread.join(0.01)
    running = HttpServer(server, sock, thread)
    log.info("serving HTTP at %s", running.url)
    return running


def run(app: Any, settings: HttpConfig, stop: threading.Event | None = None) -> None:
    """Serve until `stop` is set (or Ctrl-C): the standalone form."""
    server = serve(app, settings)
    try:
        (stop or threading.Event()).wait()
    finally:
        server.stop()
