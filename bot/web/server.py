"""A small uvicorn runner for the pages (`digestbot serve`, and `digestbot run` with
`[web] enabled`). The pages are plain Starlette routes (`page_routes`), so the bot's one
ASGI app can mount the same routes beside Slack's HTTP mode."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette

from bot.config import Config
from bot.errors import ConfigError
from bot.presentation import chart_directory
from bot.web.pages import Site, page_routes
from bot.wiring import corpus_for

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"  # pages are private unless the operator binds them wider
DEFAULT_PORT = 8080


def auth_token(config: Config) -> str:
    """The pages' shared token; `ConfigError` when the config names a variable that is unset
    (serving open pages the operator meant to protect would be worse than not starting)."""
    if config.web.auth_token_env and not config.secrets.web_auth_token:
        raise ConfigError(
            f"web.auth_token_env names ${config.web.auth_token_env}, which is not set: export "
            'the pages\' token there, or set auth_token_env = "" for open pages'
        )
    return config.secrets.web_auth_token.reveal()


def site_for(config: Config, chart_dir: Path | None = None) -> Site:
    return Site(
        lambda: corpus_for(config),
        config.topics,
        public_url=config.web.public_url,
        auth_token=auth_token(config),
        chart_dir=chart_dir if chart_dir is not None else chart_directory(config),
    )


def pages_app(config: Config) -> Starlette:
    """A Starlette app serving only the pages (the runner's, and the benchmark's)."""
    site = site_for(config)
    routes = page_routes(corpus=site.opener, topics=config.topics, site=site)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        site.close()

    return Starlette(routes=routes, lifespan=lifespan)


def serve_pages(config: Config, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> int:
    """Serve the pages until interrupted (`digestbot serve`)."""
    import uvicorn

    app = pages_app(config)
    log.info("serving the digest pages on http://%s:%d/", host, port)
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)
    return 0


class PagesThread:
    """The pages served from a background thread of the bot process; `stop()` ends it."""

    def __init__(self, config: Config, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
        import uvicorn

        self.server = uvicorn.Server(
            uvicorn.Config(pages_app(config), host=host, port=port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, name="web-pages", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
