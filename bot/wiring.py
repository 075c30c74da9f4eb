"""How the config becomes services: the corpus, arXiv sources, the synthesis engine and the
answer writer. Shared by the CLI and the bot process so both wire things one way."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from bot.config import Config
from bot.errors import ConfigError
from digest.arxiv_source import ArxivSettings, ArxivSource
from digest.offline.engine import OfflineEngine
from digest.service import DigestService
from digest.synthesis import Synthesizer
from storage import Corpus, open_corpus

if TYPE_CHECKING:
    from digest.llm import LLMSettings
    from digest.qa import Answer, AnswerWriter


def corpus_for(config: Config) -> Corpus:
    return open_corpus(config.database.resolved_path())


def arxiv_source(config: Config) -> ArxivSource:
    """arXiv for the weekly fetch: patient, with the configured retries and back-off."""
    a = config.arxiv
    return ArxivSource(
        ArxivSettings(
            api_url=a.api_url,
            delay_seconds=a.delay_seconds,
            page_size=a.page_size,
            retries=a.retries,
            backoff_seconds=a.backoff_seconds,
            timeout_seconds=a.timeout_seconds,
        )
    )


def question_source(config: Config) -> ArxivSource:
    """arXiv for the ids a question names that the corpus lacks: someone is waiting for
    the answer, so one retry after a short pause rather than the weekly fetch's patience."""
    patient = arxiv_source(config).settings
    return ArxivSource(
        replace(
            patient,
            retries=min(patient.retries, 1),
            backoff_seconds=min(patient.backoff_seconds, 2.0),
            timeout_seconds=min(patient.timeout_seconds, 20.0),
        )
    )


def digest_service(config: Config, corpus: Corpus) -> DigestService:
    """The digest service as this config wires it (engine, arXiv source, topics)."""
    return DigestService(
        corpus=corpus,
        topics=config.topics,
        source=arxiv_source(config),
        synthesizer=choose_synthesizer(config),
        notable_count=config.digest.notable_papers,
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


def llm_settings(config: Config) -> LLMSettings:
    # Imported here, like every use of the SDK: it is slow to import and large in memory.
    from digest.llm import LLMSettings

    a = config.anthropic
    return LLMSettings(
        api_key=config.secrets.anthropic_api_key.reveal(),
        base_url=a.base_url or None,  # None: the SDK reads ANTHROPIC_BASE_URL
        timeout_seconds=a.timeout_seconds,
        max_retries=a.max_retries,
    )


def choose_synthesizer(config: Config) -> Synthesizer:
    """The Claude engine when `uses_claude`, else the offline engine (which also stands in
    whenever Claude fails)."""
    if not uses_claude(config):
        return OfflineEngine()
    from digest.claude.engine import ClaudeEngine, ClaudeSettings

    a = config.anthropic
    return ClaudeEngine.from_settings(
        llm_settings(config),
        ClaudeSettings(
            model=a.model,
            map_model=a.map_model,
            max_input_tokens=a.max_input_tokens,
            max_output_tokens=a.max_output_tokens,
        ),
    )


def answer_writer(config: Config) -> AnswerWriter | None:
    """Claude answers questions when `uses_claude`; otherwise answers are extractive."""
    if not uses_claude(config):
        return None
    from digest.llm import LLMClient
    from digest.qa.claude import ClaudeAnswerer, ClaudeAnswerSettings

    return ClaudeAnswerer(
        LLMClient(llm_settings(config)), ClaudeAnswerSettings(model=config.anthropic.model)
    )


def question_recorder(corpus: Corpus) -> Callable[[Answer], None]:
    """Remembers each question answered about named papers (not lists found by search),
    for the "questions asked about it" of the papers' web pages."""
    from storage.questions import QuestionLog

    questions = QuestionLog(corpus)

    def record(answer: Answer) -> None:
        if answer.kind == "paper" and answer.cited:
            questions.record(answer.question, answer.cited)

    return record
