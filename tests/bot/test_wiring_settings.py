"""The config's `[arxiv]`, `[anthropic]` and `[openai]` sections are the core's settings types:
what the file says reaches the arXiv source and the engines unchanged, and each default is
written once (`digest.settings`)."""

from __future__ import annotations

import dataclasses

from bot.config import AnthropicConfig, ArxivConfig, Config, OpenAIConfig, parse_config
from bot.wiring import arxiv_source, choose_synthesizer, fulltext_settings, question_source
from digest.llm.engine import EngineSettings, LLMEngine
from digest.qa.fulltext import FullTextSettings
from digest.qa.llm import AnswerSettings
from digest.settings import ArxivSettings, ModelSettings

ARXIV = {
    "api_url": "http://127.0.0.1:9/api/query",
    "delay_seconds": 0.5,
    "page_size": 100,
    "retries": 7,
    "backoff_seconds": 9.0,
    "timeout_seconds": 45.0,
    "html_url": "http://127.0.0.1:9/html/",
    "pdf_url": "http://127.0.0.1:9/pdf/",
}


class TestSectionsAreSettings:
    def test_sections_are_the_core_types(self) -> None:
        config = Config()
        assert isinstance(config.arxiv, ArxivSettings)
        assert isinstance(config.anthropic, ModelSettings)
        assert isinstance(config.openai, ModelSettings)

    def test_claude_defaults_are_the_engines_defaults(self) -> None:
        """One model default: the engine's and answerer's are the `[anthropic]` section's."""
        section = AnthropicConfig()
        engine = EngineSettings()
        for f in dataclasses.fields(ModelSettings):
            assert getattr(engine, f.name) == getattr(section, f.name), f.name
        assert AnswerSettings().model == section.model

    def test_arxiv_defaults_are_the_sources_defaults(self) -> None:
        section, source, full = ArxivConfig(), ArxivSettings(), FullTextSettings()
        for f in dataclasses.fields(ArxivSettings):
            assert getattr(section, f.name) == getattr(source, f.name), f.name
        assert (section.html_url, section.pdf_url) == (full.html_url, full.pdf_url)

    def test_openai_keeps_its_own_defaults(self) -> None:
        section = OpenAIConfig()
        assert (section.model, section.map_model, section.max_input_tokens) == (
            "gpt-5-mini",
            "",
            100_000,
        )
        assert section.max_output_tokens == 8_000


class TestConfiguredValuesReachTheCore:
    def test_every_arxiv_key_reaches_the_source_and_full_texts(self) -> None:
        config = parse_config({"arxiv": ARXIV}, env={})
        settings = arxiv_source(config).settings
        for f in dataclasses.fields(ArxivSettings):
            assert getattr(settings, f.name) == ARXIV[f.name], f.name
        full = fulltext_settings(config)
        assert (full.html_url, full.pdf_url) == (ARXIV["html_url"], ARXIV["pdf_url"])

    def test_question_source_is_less_patient_than_the_weekly_fetch(self) -> None:
        config = parse_config({"arxiv": ARXIV}, env={})
        settings = question_source(config).settings
        assert (settings.retries, settings.backoff_seconds, settings.timeout_seconds) == (
            1,
            2.0,
            20.0,
        )
        assert (settings.api_url, settings.page_size) == (ARXIV["api_url"], ARXIV["page_size"])

    def test_anthropic_models_and_limits_reach_the_engine(self) -> None:
        raw = {
            "digest": {"engine": "claude", "language": "de"},
            "anthropic": {
                "base_url": "http://127.0.0.1:9",
                "model": "claude-big",
                "map_model": "claude-small",
                "max_input_tokens": 50_000,
                "max_output_tokens": 2_000,
            },
        }
        engine = choose_synthesizer(parse_config(raw, env={"ANTHROPIC_API_KEY": "k"}))
        assert isinstance(engine, LLMEngine)
        s = engine.settings
        assert (s.model, s.map_model, s.max_input_tokens, s.max_output_tokens) == (
            "claude-big",
            "claude-small",
            50_000,
            2_000,
        )
        assert s.language == "de"
        assert type(s) is EngineSettings

    def test_openai_empty_map_model_is_the_model(self) -> None:
        raw = {
            "digest": {"engine": "openai"},
            "openai": {
                "base_url": "http://127.0.0.1:9/v1",
                "model": "llama3.3",
                "max_input_tokens": 20_000,
                "max_output_tokens": 1_500,
                "prices": {"llama3.3": [1.0, 2.0]},
            },
        }
        engine = choose_synthesizer(parse_config(raw, env={}))
        assert isinstance(engine, LLMEngine)
        s = engine.settings
        assert (s.model, s.map_model, s.max_input_tokens, s.max_output_tokens) == (
            "llama3.3",
            "llama3.3",
            20_000,
            1_500,
        )
        assert set(s.prices) == {"llama3.3"}
