"""Errors raised by the digest core; each message is one sentence a user can act on.

    DigestError                  anything the core cannot do
    ├── UnknownTopic             a topic name that is not configured
    ├── InvalidWindow            dates that do not make a window
    ├── FeedError                a saved feed file that is unreadable or not an arXiv feed
    └── ArxivUnavailable         arXiv could not be reached or kept failing after retries
        └── ArxivQueryRejected   arXiv answered with an error feed (HTTP 400)

Vendor errors (arxiv, requests, lxml) are translated where they enter, in `arxiv_source.py`
and `feed.py`.
"""


class DigestError(Exception):
    """Base class of every error of the digest core."""


class UnknownTopic(DigestError):
    """A topic name that is not built in and not in the config."""


class InvalidWindow(DigestError):
    """A date window that is malformed or backwards."""


class FeedError(DigestError):
    """A saved arXiv response that cannot be read as one."""


class ArxivUnavailable(DigestError):
    """arXiv could not be reached, or kept failing after every retry."""


class ArxivQueryRejected(ArxivUnavailable):
    """arXiv refused the request (an HTTP 400 error feed); retrying will not help."""
