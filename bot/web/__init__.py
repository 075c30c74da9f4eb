"""The web pages: a read-only archive of the digests (topics, weeks, digests, papers,
search, an Atom feed), served by `digestbot serve` and, with `[web] enabled`, by
`digestbot run`. `page_routes` gives the routes for any Starlette app."""

from bot.web.pages import Site, page_routes

__all__ = ["Site", "page_routes"]
