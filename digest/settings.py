"""Settings types the core takes and the config's sections are made of.

Kept apart from the modules that use them, and free of imports beyond the standard library:
`bot.config` (loaded by every command, `--help` included) builds its `[arxiv]`,
`[anthropic]` and `[openai]` sections from these classes, so each default is written once,
here, and no arXiv client, SDK or HTTP code loads for a config.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

MAX_PAGE_SIZE = 2000  # arXiv's own cap for one response

# arXiv's full texts: a paper is <base>/<id>. The config's `[arxiv]` and `FullTextSettings`
# both default to these.
ARXIV_HTML_URL = "https://arxiv.org/html/"
ARXIV_PDF_URL = "https://arxiv.org/pdf/"


@dataclass(frozen=True, slots=True)
class ArxivSettings:
    """How to talk to the API. Politeness is arXiv's request: >= 3 s between requests."""

    api_url: str = "https://export.arxiv.org/api/query"
    delay_seconds: float = 3.0
    page_size: int = MAX_PAGE_SIZE
    retries: int = 4
    backoff_seconds: float = 5.0
    timeout_seconds: float = 60.0


@dataclass(frozen=True, slots=True)
class ModelSettings:
    """Which models write and how many tokens a request may use. The defaults are Claude's,
    the engine of the first round (`[openai]` overrides them with its own)."""

    model: str = "claude-sonnet-5-5"
    map_model: str = "claude-haiku-5-5"
    max_input_tokens: int = 150_000  # no request's prompt may exceed this
    max_output_tokens: int = 8_000  # of the synthesis (and reduce) request

    def model_values(self) -> dict[str, Any]:
        """Just the `ModelSettings` fields, for a settings type that extends them to be
        built from a subclass (a config section) without naming each field."""
        return {f.name: getattr(self, f.name) for f in fields(ModelSettings)}
