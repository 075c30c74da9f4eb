"""How the config becomes services: the corpus, arXiv sources, the synthesis engine and the
answer writer. Shared by the CLI and the bot process so both wire things one way."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from bot.config import Config
from bot.errors import ConfigError

# The digest, arXiv, engine and storage modules are imported inside the functions that use
# them: the CLI imports this module for every command, and each command pays only for what
# it wires (`--help`, `ask` and a cached `digest` load no arXiv client, HTTP or PDF code).
if TYPE_CHECKING:
    from bot.publisher import ClosingPoster
    from digest.arxiv_source import ArxivSource
    from digest.claude.client import LLMSettings
    from digest.llm.cost import Price
    from digest.llm.transport import Transport
    from digest.qa import Answer, AnswerWriter, FullTextFetcher
    from digest.qa.fulltext import FullTextSettings
    from digest.service import DigestService
    from digest.synthesis import Synthesizer
    from storage import Corpus


def corpus_for(config: Config) -> Corpus:
    from storage import open_corpus

    return open_corpus(config.database.resolved_path())


def arxiv_source(config: Config) -> ArxivSource:
    """arXiv for the weekly fetch: patient, with the configured retries and back-off."""
    from digest.arxiv_source import ArxivSource

    # `[arxiv]` is an `ArxivSettings` (its full-text URLs are extra fields the source ignores).
    return ArxivSource(config.arxiv)


def question_source(config: Config) -> ArxivSource:
    """arXiv for the ids a question names that the corpus lacks: someone is waiting for
    the answer, so one retry after a short pause rather than the weekly fetch's patience."""
    from digest.arxiv_source import ArxivSource

    patient = arxiv_source(config).settings
    return ArxivSource(
        replace(
            patient,
            retries=min(patient.retries, 1),
            backoff_seconds=min(patient.backoff_seconds, 2.0),
            timeout_seconds=min(patient.timeout_seconds, 20.0),
        )
    )


def fulltext_settings(config: Config) -> FullTextSettings:
    """Where questions' full texts come from: arXiv's HTML and PDF, or a mirror or proxy."""
    from digest.qa.fulltext import FullTextSettings

    # A two-field adapter kept on purpose: `FullTextSettings` also holds fetch limits that are
    # not configurable, and `[arxiv]` cannot also be one (it is an `ArxivSettings`). Both sides'
    # URL defaults are the same constants in `digest.settings`.
    return FullTextSettings(html_url=config.arxiv.html_url, pdf_url=config.arxiv.pdf_url)


def digest_service(config: Config, corpus: Corpus) -> DigestService:
    """The digest service as this config wires it (engine, arXiv source, topics)."""
    from digest.service import DigestService

    return DigestService(
        corpus=corpus,
        topics=config.topics,
        source=arxiv_source(config),
        synthesizer=choose_synthesizer(config),
        notable_count=config.digest.notable_papers,
        language=config.digest.language,
    )


def uses_claude(config: Config) -> bool:
    """Whether Claude writes: engine "claude", or "auto" with a key. "claude" without a key
    is a configuration error, said in one sentence."""
    engine, key = config.digest.engine, config.secrets.anthropic_api_key
    if engine == "claude" and not key:
        raise ConfigError(
            f'digest.engine is "claude" but ${config.anthropic.api_key_env} is not set; '
            'set it, or write engine = "auto"'
        )
    return engine != "offline" and bool(key)


def uses_openai(config: Config) -> bool:
    """Whether an OpenAI-compatible API writes: only when engine is "openai" ("auto" never
    picks it). It needs a key, unless `base_url` names a server of its own (a local one)."""
    if config.digest.engine != "openai":
        return False
    if not config.secrets.openai_api_key and not config.openai.base_url:
        raise ConfigError(
            f'digest.engine is "openai" but ${config.openai.api_key_env} is not set; set it, '
            "or set openai.base_url to a server that needs none (e.g. Ollama's "
            "http://localhost:11434/v1)"
        )
    return True


def llm_engine(config: Config) -> str:
    """ "claude", "openai" or "offline": which engine writes digests and answers."""
    if uses_openai(config):
        return "openai"
    return "claude" if uses_claude(config) else "offline"


def llm_settings(config: Config) -> LLMSettings:
    # Imported here, like every use of the SDK: it is slow to import and large in memory.
    from digest.claude.client import LLMSettings

    # Adapter kept on purpose: the client's settings carry the API key, a secret that comes
    # from the environment (`Secrets`) and never sits in a config section.
    a = config.anthropic
    return LLMSettings(
        api_key=config.secrets.anthropic_api_key.reveal(),
        base_url=a.base_url or None,  # None: the SDK reads ANTHROPIC_BASE_URL
        timeout_seconds=a.timeout_seconds,
        max_retries=a.max_retries,
    )


def openai_prices(config: Config) -> dict[str, Price]:
    """`[openai.prices]` as the cost module's table (no built-in prices: they change)."""
    from digest.llm.cost import Price

    return {
        model: Price(inp, out, cache_read=(cached / inp if inp else 0.0), cache_write=1.0)
        for model, inp, out, cached in config.openai.prices
    }


def llm_transport(config: Config) -> tuple[Transport, str, str] | None:
    """The API client of the chosen engine, with its model and map model; None for offline."""
    engine = llm_engine(config)
    if engine == "openai":
        from digest.openai.client import OpenAIClient, OpenAISettings

        o = config.openai
        # As for Claude (`llm_settings`): the client's settings carry the secret key.
        client = OpenAIClient(
            OpenAISettings(
                api_key=config.secrets.openai_api_key.reveal(),
                base_url=o.base_url,
                timeout_seconds=o.timeout_seconds,
                max_retries=o.max_retries,
            )
        )
        return client, o.model, o.map_model or o.model
    if engine == "claude":
        from digest.claude.client import LLMClient

        return LLMClient(llm_settings(config)), config.anthropic.model, config.anthropic.map_model
    return None


def choose_synthesizer(config: Config) -> Synthesizer:
    """The language-model engine over Claude or an OpenAI-compatible API (`llm_engine`),
    else the offline engine (which also stands in whenever the model fails)."""
    chosen = llm_transport(config)
    if chosen is None:
        from digest.offline.engine import OfflineEngine

        return OfflineEngine()
    from digest.llm.cost import PRICES
    from digest.llm.engine import EngineSettings, LLMEngine

    client, model, map_model = chosen
    # The section is the engine's `ModelSettings`; only the map model is resolved (OpenAI's
    # empty map_model means the model itself).
    models = config.openai if llm_engine(config) == "openai" else config.anthropic
    prices = openai_prices(config) if llm_engine(config) == "openai" else dict(PRICES)
    return LLMEngine(
        client,
        EngineSettings.for_models(
            replace(models, model=model, map_model=map_model),
            language=config.digest.language,
            prices=prices,
        ),
    )


def answer_writer(
    config: Config, fulltext: FullTextFetcher | None = None
) -> AnswerWriter | None:
    """The model answers questions when an LLM engine is chosen (grounded on the papers
    retrieved and, given `fulltext`, passages of a paper's full text); otherwise answers
    are extractive."""
    chosen = llm_transport(config)
    if chosen is None:
        return None
    from digest.qa.llm import AnswerSettings, LLMAnswerer

    client, model, _ = chosen
    settings = AnswerSettings(model=model, language=config.digest.language)
    return LLMAnswerer(client, settings, fulltext=fulltext)


def poster_for(platform: str, config: Config) -> ClosingPoster:
    """A platform's web-API poster for posting from outside the bot process (the CLI's
    `digest --post`): no gateway or socket needed. Close it when done."""
    if platform == "slack":
        from bot.slack.poster import SlackPoster

        return SlackPoster.from_config(config)
    from bot.discord.poster import DiscordPoster

    return DiscordPoster.from_config(config)


def question_recorder(corpus: Corpus) -> Callable[[Answer], None]:
    """Remembers each question answered about named papers (not lists found by search),
    for the "questions asked about it" of the papers' web pages."""
    from storage.questions import QuestionLog

    questions = QuestionLog(corpus)

    def record(answer: Answer) -> None:
        if answer.kind == "paper" and answer.cited:
            questions.record(answer.question, answer.cited)

    return record
