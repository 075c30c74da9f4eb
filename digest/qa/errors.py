"""Errors of question answering; each message is one sentence a user can read.

    DigestError                  (digest.errors)
    └── QuestionError            anything question answering cannot do
        └── FullTextUnavailable  a paper's full text could not be fetched or read

httpx and pypdf errors are translated where they enter, in `digest/qa/fulltext.py`. Bad
questions are never errors: they get an answer that says what was not understood.
"""

from digest.errors import DigestError


class QuestionError(DigestError):
    """Base class of the errors of question answering."""


class FullTextUnavailable(QuestionError):
    """A paper's full text could not be had: no HTML or PDF, too large, too slow, unreadable."""
