"""The pages on the bot's one HTTP edge: `digestbot serve` serves them alone, and
`digestbot run` with `[web] enabled` mounts the same routes (`page_routes`) beside Slack's
HTTP mode and `/healthz` in the one ASGI app of bot.http, on `[http] host`:`port`."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from bot.config import Config
from bot.errors import ConfigError
from bot.http.app import HealthCheck
from bot.presentation import chart_directory
from bot.web.pages import Site, page_routes
from bot.wiring import corpus_for

log = logging.getLogger(__name__)

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


def pages(config: Config) -> tuple[list[BaseRoute], Site]:
    """The page routes for the bot's one ASGI app (bot.http), and the site behind them
    (close it when the server stops)."""
    site = site_for(config)
    return page_routes(corpus=site.opener, topics=config.topics, site=site), site


def pages_app(config: Config, health: HealthCheck | None = None) -> tuple[Starlette, Site]:
    """The one ASGI app of bot.http with the pages mounted (and `/healthz`), no Slack."""
    from bot.http.app import build_app

    routes, site = pages(config)
    return build_app(routes=routes, health=health, settings=config.http), site


def serve_pages(config: Config, host: str | None = None, port: int | None = None) -> int:
    """Serve the pages until interrupted (`digestbot serve`), on `[http] host`:`port`
    unless given: the same app and server as Slack's HTTP mode."""
    from bot.http.server import run

    settings = replace(
        config.http,
        host=host if host is not None else config.http.host,
        port=port if port is not None else config.http.port,
    )
    app, site = pages_app(replace(config, http=settings))
    log.info("serving the digest pages on http://%s:%d/", settings.host, settings.port)
    try:
        run(app, settings)
    except KeyboardInterrupt:
        pass
    finally:
        site.close()
    return 0
