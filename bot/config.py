"""Configuration: one TOML file plus environment overrides, parsed once into frozen dataclasses.

Where the file comes from: `--config PATH`, else `$DIGESTBOT_CONFIG`, else `./config.toml`
when present, else the built-in defaults. Secrets are read only from the environment, under
the variable names the file gives. Every error names the key and says what to write instead.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.errors import ConfigError
from digest.arxiv_categories import CATEGORIES, is_category
from digest.settings import ARXIV_HTML_URL, ARXIV_PDF_URL, ArxivSettings, ModelSettings
from digest.topics import Topic, TopicCatalog

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Secret:
    """A secret value that never shows itself in logs, reprs or error messages."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('***')" if self._value else "Secret('')"

    __str__ = __repr__


@dataclass(frozen=True)
class DatabaseConfig:
    path: str = ""  # empty: the user's data directory (see storage.default_database_path)

    def resolved_path(self) -> Path:
        if self.path:
            return Path(self.path).expanduser()
        # Imported here: loading the config must not load the storage layer (and SQLite).
        from storage import default_database_path

        return default_database_path()


@dataclass(frozen=True)
class ArxivConfig(ArxivSettings):
    """`[arxiv]`: the core's `ArxivSettings` (so the section is what `ArxivSource` takes),
    plus where questions' full texts come from."""

    # Full texts for questions: arXiv's HTML and PDF base URLs (a paper is <base>/<id>).
    html_url: str = ARXIV_HTML_URL
    pdf_url: str = ARXIV_PDF_URL


@dataclass(frozen=True)
class DigestConfig:
    engine: str = "auto"  # auto | offline | claude | openai
    window_days: int = 7
    notable_papers: int = 6
    language: str = "en"  # what the language-model engines write digests and answers in


@dataclass(frozen=True)
class AnthropicConfig(ModelSettings):
    """`[anthropic]`: the core's `ModelSettings` (models and token limits, whose defaults are
    Claude's), plus how to reach the API. The key itself is a secret, in `Secrets`."""

    api_key_env: str = "ANTHROPIC_API_KEY"
    base_url: str = ""  # empty: the SDK reads ANTHROPIC_BASE_URL, else api.anthropic.com
    timeout_seconds: float = 120.0
    max_retries: int = 3


@dataclass(frozen=True)
class OpenAIConfig(ModelSettings):
    """An OpenAI-compatible Chat Completions API: OpenAI itself, or Ollama, vLLM,
    OpenRouter, llama.cpp server, LM Studio at their base URL. The core's `ModelSettings`
    with OpenAI's defaults, plus how to reach the API (the key is in `Secrets`)."""

    model: str = "gpt-5-mini"
    map_model: str = ""  # empty: the same as model
    max_input_tokens: int = 100_000
    api_key_env: str = "OPENAI_API_KEY"  # may be unset for a local server
    base_url: str = ""  # empty: the SDK's default (OPENAI_BASE_URL, else api.openai.com)
    timeout_seconds: float = 120.0
    max_retries: int = 3
    # model -> (USD per million input tokens, output tokens, cached input tokens); from the
    # [openai.prices] table. A model without a price has its cost shown as unknown.
    prices: tuple[tuple[str, float, float, float], ...] = ()


@dataclass(frozen=True)
class SlackConfig:
    bot_token_env: str = "SLACK_BOT_TOKEN"
    app_token_env: str = "SLACK_APP_TOKEN"
    signing_secret_env: str = "SLACK_SIGNING_SECRET"
    api_url: str = "https://slack.com/api/"
    mode: str = "socket"  # socket | http
    http_port: int = 3000
    post_interval_seconds: float = 1.0  # Slack allows about one message a second a channel
    admins: tuple[str, ...] = ()


@dataclass(frozen=True)
class DiscordConfig:
    token_env: str = "DISCORD_TOKEN"
    api_url: str = "https://discord.com/api/v10"
    admins: tuple[str, ...] = ()
    guild_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class SchedulerConfig:
    grace_hours: float = 12.0
    admin_channel: str = ""
    heartbeat_path: str = ""
    adapter_down_seconds: float = 300.0  # a chat connection down this long: exit unhealthy


@dataclass(frozen=True)
class WebConfig:
    enabled: bool = False  # serve the pages inside `digestbot run` too
    public_url: str = ""  # where the pages are reachable; set: posts link their digest page
    auth_token_env: str = ""  # names the variable holding the pages' shared token; empty: open


@dataclass(frozen=True)
class HttpConfig:
    """The HTTP edge (Slack HTTP mode, /healthz, web pages): where it listens and the
    limits that keep a slow or hostile client from holding it."""

    host: str = "127.0.0.1"  # loopback unless asked: "0.0.0.0" exposes it (the Dockerfile)
    port: int = 3000
    max_body_bytes: int = 1 << 20  # Slack's payloads are far smaller
    max_header_bytes: int = 16 << 10
    header_timeout_seconds: float = 10.0  # a connection must send its request headers in this
    body_timeout_seconds: float = 10.0  # and its body in this
    keep_alive_seconds: float = 5.0
    backlog: int = 2048
    max_connections: int = 1000


@dataclass(frozen=True)
class ChatConfig:
    """Limits on what chat commands may ask of the bot."""

    max_window_days: int = 31  # the longest window a chat command may ask a digest of
    commands_per_minute: int = 10  # per user; more are answered with a request to wait


@dataclass(frozen=True)
class Subscription:
    channel: str
    topic: str
    weekday: str = "mon"
    time: str = "09:00"
    timezone: str = "UTC"


@dataclass(frozen=True)
class Secrets:
    """Secret values from the environment; empty when unset."""

    slack_bot_token: Secret = field(default_factory=lambda: Secret(""))
    slack_app_token: Secret = field(default_factory=lambda: Secret(""))
    slack_signing_secret: Secret = field(default_factory=lambda: Secret(""))
    discord_token: Secret = field(default_factory=lambda: Secret(""))
    anthropic_api_key: Secret = field(default_factory=lambda: Secret(""))
    openai_api_key: Secret = field(default_factory=lambda: Secret(""))
    web_auth_token: Secret = field(default_factory=lambda: Secret(""))

    def revealed(self) -> list[str]:
        """Every secret value that is set: what the log filter must never let through."""
        return [value.reveal() for value in vars(self).values() if value]


@dataclass(frozen=True)
class Config:
    """Everything the process needs to know, validated."""

    source: str = "built-in defaults"
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    arxiv: ArxivConfig = field(default_factory=ArxivConfig)
    digest: DigestConfig = field(default_factory=DigestConfig)
    anthropic: AnthropicConfig = field(default_factory=AnthropicConfig)
    openai: OpenAIConfig = field(default_factory=OpenAIConfig)
    slack: SlackConfig = field(default_factory=SlackConfig)
    discord: DiscordConfig = field(default_factory=DiscordConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    web: WebConfig = field(default_factory=WebConfig)
    http: HttpConfig = field(default_factory=HttpConfig)
    chat: ChatConfig = field(default_factory=ChatConfig)
    topics: TopicCatalog = field(default_factory=TopicCatalog.with_builtins)
    subscriptions: tuple[Subscription, ...] = ()
    secrets: Secrets = field(default_factory=Secrets)


# -- generic checks ---------------------------------------------------------------------------


def _unknown_keys(raw: Mapping[str, Any], allowed: list[str], where: str) -> None:
    for key in raw:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(allowed)}"
            raise ConfigError(f"config: unknown key {where}{key}; {hint}")


def _typed(value: Any, expected: Any, key: str, default: Any) -> Any:
    example = _toml_literal(default)
    if expected is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"config: {key} must be true or false, e.g. {key} = {example}")
    if expected is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"config: {key} must be a whole number, e.g. {key} = {example}")
    if expected is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"config: {key} must be a number, e.g. {key} = {example}")
    if expected is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f'config: {key} must be a string in quotes, e.g. {key} = "{default}"')
    # tuple[str, ...]: lists of strings (user ids, guild ids)
    if isinstance(value, list) and all(isinstance(v, str | int) for v in value):
        return tuple(str(v) for v in value)
    raise ConfigError(f'config: {key} must be a list of strings, e.g. {key} = ["U0123ABCD"]')


def _toml_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, tuple):
        return "[" + ", ".join(f'"{v}"' for v in value) + "]"
    return str(value)


_TYPES = {"str": str, "int": int, "float": float, "bool": bool}


def _section(raw: Any, cls: type, name: str) -> Any:
    """Build one `[name]` section dataclass from its raw table, checking keys and types."""
    if raw is None:
        return cls()
    if not isinstance(raw, dict):
        raise ConfigError(f"config: [{name}] must be a table of keys, not a single value")
    names = [f.name for f in fields(cls)]
    _unknown_keys(raw, names, f"{name}.")
    defaults = cls()
    values = {}
    for f in fields(cls):
        if f.name in raw:
            kind = _TYPES.get(str(f.type), tuple)
            values[f.name] = _typed(
                raw[f.name], kind, f"{name}.{f.name}", getattr(defaults, f.name)
            )
    return cls(**values)


def _is_loopback(url: str) -> bool:
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_url(url: str, key: str) -> None:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(f"config: {key} = {url!r} is not an http(s) URL; write the full URL")


# -- sections with rules of their own -----------------------------------------------------------


def _check_arxiv(cfg: ArxivConfig) -> None:
    _check_url(cfg.api_url, "arxiv.api_url")
    _check_url(cfg.html_url, "arxiv.html_url")
    _check_url(cfg.pdf_url, "arxiv.pdf_url")
    if cfg.delay_seconds < 3 and not _is_loopback(cfg.api_url):
        raise ConfigError(
            f"config: arxiv.delay_seconds = {cfg.delay_seconds} is below the 3 s between "
            "requests that arXiv asks for; write delay_seconds = 3 (less is allowed only for "
            "a loopback api_url)"
        )
    if cfg.delay_seconds < 0:
        raise ConfigError("config: arxiv.delay_seconds cannot be negative; write 3")
    if not 1 <= cfg.page_size <= 2000:
        raise ConfigError(
            f"config: arxiv.page_size = {cfg.page_size} is out of range; arXiv serves 1 to "
            "2000 results a page, write page_size = 2000"
        )
    if not 0 <= cfg.retries <= 10:
        raise ConfigError("config: arxiv.retries must be between 0 and 10, e.g. retries = 4")
    if cfg.timeout_seconds <= 0 or cfg.backoff_seconds < 0:
        raise ConfigError(
            "config: arxiv.timeout_seconds must be positive and arxiv.backoff_seconds not "
            "negative, e.g. timeout_seconds = 60"
        )


_LANGUAGE = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?$")


def _check_digest(cfg: DigestConfig) -> None:
    if cfg.engine not in ("auto", "offline", "claude", "openai"):
        raise ConfigError(
            f'config: digest.engine = "{cfg.engine}" is not an engine; write "auto", '
            '"offline", "claude" or "openai"'
        )
    if not _LANGUAGE.match(cfg.language):
        raise ConfigError(
            f'config: digest.language = "{cfg.language}" is not a language code; write a '
            'code such as "en", "de" or "pt-BR"'
        )
    if not 1 <= cfg.window_days <= 31:
        raise ConfigError("config: digest.window_days must be 1 to 31, e.g. window_days = 7")
    if not 3 <= cfg.notable_papers <= 10:
        raise ConfigError("config: digest.notable_papers must be 3 to 10, e.g. notable_papers = 6")


def _check_slack(cfg: SlackConfig) -> None:
    _check_url(cfg.api_url, "slack.api_url")
    if cfg.mode not in ("socket", "http"):
        raise ConfigError(f'config: slack.mode = "{cfg.mode}"; write "socket" or "http"')
    if not 1 <= cfg.http_port <= 65535:
        raise ConfigError("config: slack.http_port must be a port number, e.g. 3000")
    if cfg.post_interval_seconds < 0:
        raise ConfigError("config: slack.post_interval_seconds cannot be negative; write 1.0")


def _check_scheduler(cfg: SchedulerConfig) -> None:
    if cfg.grace_hours < 0:
        raise ConfigError(
            f"config: scheduler.grace_hours = {cfg.grace_hours:g} cannot be negative; write "
            "the hours a missed weekly post may still run late, e.g. grace_hours = 12"
        )
    if cfg.admin_channel and not _CHANNEL.match(cfg.admin_channel):
        raise ConfigError(
            f'config: scheduler.admin_channel = "{cfg.admin_channel}" names no platform or is '
            'not a channel id; write "slack:C0123ABCD" or "discord:123456789012345678"'
        )


def _check_http(cfg: HttpConfig) -> None:
    try:
        ipaddress.ip_address(cfg.host)
    except ValueError:
        if cfg.host != "localhost":
            raise ConfigError(
                f'config: http.host = "{cfg.host}" is not an IP address; write "127.0.0.1" '
                '(this machine only) or "0.0.0.0" (every interface)'
            ) from None
    if not 0 <= cfg.port <= 65535:
        raise ConfigError("config: http.port must be a port number, e.g. port = 3000")
    if not 1024 <= cfg.max_body_bytes <= 64 << 20:
        raise ConfigError(
            "config: http.max_body_bytes must be 1024 to 67108864, e.g. max_body_bytes = 1048576"
        )
    if not 1024 <= cfg.max_header_bytes <= 1 << 20:
        raise ConfigError("config: http.max_header_bytes must be 1024 to 1048576, e.g. 16384")
    timeouts = (cfg.header_timeout_seconds, cfg.body_timeout_seconds, cfg.keep_alive_seconds)
    if min(timeouts) <= 0:
        raise ConfigError(
            "config: http.header_timeout_seconds, body_timeout_seconds and keep_alive_seconds "
            "must be positive, e.g. body_timeout_seconds = 10"
        )
    if cfg.backlog < 1 or cfg.max_connections < 1:
        raise ConfigError(
            "config: http.backlog and http.max_connections must be at least 1, e.g. backlog = 2048"
        )


def _check_chat(cfg: ChatConfig) -> None:
    if not 1 <= cfg.max_window_days <= 366:
        raise ConfigError(
            "config: chat.max_window_days must be 1 to 366, e.g. max_window_days = 31"
        )
    if cfg.commands_per_minute < 1:
        raise ConfigError(
            "config: chat.commands_per_minute must be at least 1, e.g. commands_per_minute = 10"
        )


def _check_anthropic(cfg: AnthropicConfig) -> None:
    if cfg.base_url:
        _check_url(cfg.base_url, "anthropic.base_url")
    if cfg.timeout_seconds <= 0 or cfg.max_retries < 0:
        raise ConfigError(
            "config: anthropic.timeout_seconds must be positive and max_retries not negative"
        )
    if cfg.max_input_tokens < 4_000 or cfg.max_output_tokens < 1_000:
        raise ConfigError(
            "config: anthropic.max_input_tokens must be at least 4000 and max_output_tokens "
            "at least 1000, e.g. max_input_tokens = 150000"
        )


def _check_openai(cfg: OpenAIConfig) -> None:
    if cfg.base_url:
        _check_url(cfg.base_url, "openai.base_url")
    if cfg.timeout_seconds <= 0 or cfg.max_retries < 0:
        raise ConfigError(
            "config: openai.timeout_seconds must be positive and max_retries not negative"
        )
    if cfg.max_input_tokens < 4_000 or cfg.max_output_tokens < 1_000:
        raise ConfigError(
            "config: openai.max_input_tokens must be at least 4000 and max_output_tokens "
            "at least 1000, e.g. max_input_tokens = 100000"
        )
    if not cfg.model:
        raise ConfigError('config: openai.model is empty; write the model name, e.g. "gpt-5-mini"')


def _openai_prices(raw: Any) -> tuple[tuple[str, float, float, float], ...]:
    """`[openai.prices]`: `"model" = [input, output]` or `[input, output, cached input]`,
    USD per million tokens (cached input defaults to the input price)."""
    example = 'e.g. "gpt-5-mini" = [0.25, 2.0]'
    if not isinstance(raw, dict):
        raise ConfigError(
            f"config: openai.prices must be a table of model = [input, output], {example}"
        )
    out = []
    for model, value in raw.items():
        numbers = value if isinstance(value, list) else None
        if (
            numbers is None
            or len(numbers) not in (2, 3)
            or not all(isinstance(n, int | float) and not isinstance(n, bool) for n in numbers)
            or any(n < 0 for n in numbers)
        ):
            raise ConfigError(
                f"config: openai.prices.{model} must be [input, output] or [input, output, "
                f"cached input] in USD per million tokens, {example}"
            )
        cached = numbers[2] if len(numbers) == 3 else numbers[0]
        out.append((str(model), float(numbers[0]), float(numbers[1]), float(cached)))
    return tuple(out)
def _check_web(cfg: WebConfig) -> WebConfig:
    if cfg.public_url:
        _check_url(cfg.public_url, "web.public_url")
        parsed = urlparse(cfg.public_url)
        if parsed.query or parsed.fragment or any(c in cfg.public_url for c in "<>|\"' "):
            raise ConfigError(
                f"config: web.public_url = {cfg.public_url!r} must be a plain base URL, e.g. "
                'public_url = "https://digests.example.org"'
            )
    if cfg.auth_token_env and not re.match(r"^[A-Z_][A-Z0-9_]*$", cfg.auth_token_env):
        raise ConfigError(
            f'config: web.auth_token_env = "{cfg.auth_token_env}" must name an environment '
            'variable, e.g. auth_token_env = "DIGESTBOT_WEB_TOKEN"'
        )
    # One form for building links: no trailing slash.
    return WebConfig(cfg.enabled, cfg.public_url.rstrip("/"), cfg.auth_token_env)


_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


def _topic(raw: Any, index: int) -> Topic:
    where = f"topics[{index}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"config: {where} must be a [[topics]] table")
    allowed = ["name", "title", "categories", "include", "exclude", "style"]
    _unknown_keys(raw, allowed, f"{where}.")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(
            f'config: {where}.name must be a short lower-case name like "post-train" '
            "(letters, digits, - and _)"
        )
    where = f"topics[{name}]"
    title = raw.get("title", name)
    if not isinstance(title, str) or not title.strip():
        raise ConfigError(f'config: {where}.title must be a string, e.g. title = "LLM Post-Train"')
    categories = raw.get("categories", [])
    if not isinstance(categories, list) or not all(
        isinstance(c, str) and re.match(r"^[a-z-]+(\.[A-Za-z-]+)?$", c) for c in categories
    ):
        raise ConfigError(
            f'config: {where}.categories must be arXiv categories, e.g. ["cs.CL", "cs.LG"]'
        )
    for category in categories:
        if not is_category(category):
            same = [c for c in CATEGORIES if c.lower() == category.lower()]
            close = same or difflib.get_close_matches(category, sorted(CATEGORIES), n=1)
            hint = f'did you mean "{close[0]}"?' if close else 'e.g. "cs.CL"'
            raise ConfigError(
                f'config: {where}.categories has "{category}", which is not an arXiv '
                f"category (arxiv.org/category_taxonomy); {hint}"
            )
    include = raw.get("include", [])
    if not isinstance(include, list) or not all(
        isinstance(group, list) and group and all(isinstance(p, str) and p.strip() for p in group)
        for group in include
    ):
        raise ConfigError(
            f"config: {where}.include must be a list of phrase groups, e.g. "
            'include = [["llm", "large language model"], ["dpo", "rlhf"]]'
        )
    exclude = raw.get("exclude", [])
    if not isinstance(exclude, list) or not all(isinstance(p, str) and p.strip() for p in exclude):
        raise ConfigError(f'config: {where}.exclude must be a list of phrases, e.g. ["survey"]')
    if not categories and not include:
        raise ConfigError(
            f"config: {where} needs categories or include phrases, or it would match all of arXiv"
        )
    for phrase in [p for group in include for p in group] + exclude:
        if '"' in phrase:
            raise ConfigError(f"config: {where} phrase {phrase!r} cannot contain a double quote")
    style = raw.get("style", "technical learning digest")
    if not isinstance(style, str):
        raise ConfigError(
            f'config: {where}.style must be a string, e.g. "technical learning digest"'
        )
    return Topic(
        name=name,
        title=title.strip(),
        categories=tuple(categories),
        include=tuple(tuple(p.strip().lower() for p in group) for group in include),
        exclude=tuple(p.strip().lower() for p in exclude),
        style=style,
    )


# Slack channel ids are upper-case letters and digits (C0123ABCD, G..., D...); Discord's
# are snowflakes (digits only).
_CHANNEL = re.compile(r"^(?:slack:[A-Z0-9]{2,}|discord:\d{1,20})$")
_WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def weekday(text: str) -> str:
    """ "mon", "Monday" or "MON" as "mon"; anything else ("monkey") is returned as written,
    for `check_subscription` to reject by name."""
    lower = text.strip().lower()
    if lower in WEEKDAYS:
        return lower
    if lower in _WEEKDAY_NAMES:
        return lower[:3]
    return text


_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def is_channel(channel: str) -> bool:
    """Whether `channel` names a platform and a channel id ("slack:C0123ABCD",
    "discord:123456789012345678"), as subscriptions, --post and admin_channel need."""
    return bool(_CHANNEL.match(channel))


def check_subscription(sub: Subscription, topics: TopicCatalog, where: str) -> None:
    """Raise `ConfigError` unless the subscription can be scheduled as written."""
    if not _CHANNEL.match(sub.channel):
        raise ConfigError(
            f'config: {where}.channel = "{sub.channel}"; write "slack:C0123ABCD" or '
            '"discord:123456789012345678"'
        )
    if sub.topic not in topics.names():
        raise ConfigError(
            f'config: {where}.topic = "{sub.topic}" is not a topic; known: '
            + ", ".join(topics.names())
        )
    if sub.weekday not in WEEKDAYS:
        raise ConfigError(
            f'config: {where}.weekday = "{sub.weekday}"; write one of {", ".join(WEEKDAYS)}'
        )
    if not _TIME.match(sub.time):
        raise ConfigError(f'config: {where}.time = "{sub.time}"; write 24-hour HH:MM, e.g. "09:00"')
    try:
        ZoneInfo(sub.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f'config: {where}.timezone = "{sub.timezone}" is not an IANA time zone; write '
            'e.g. "Europe/Berlin"'
        ) from None


def _subscription(raw: Any, index: int, topics: TopicCatalog) -> Subscription:
    where = f"subscriptions[{index}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"config: {where} must be a [[subscriptions]] table")
    _unknown_keys(raw, [f.name for f in fields(Subscription)], f"{where}.")
    for key in ("channel", "topic"):
        if not isinstance(raw.get(key), str):
            raise ConfigError(f'config: {where}.{key} is required, e.g. {key} = "post-train"')
    values = {k: raw[k] for k in raw}
    for key in ("weekday", "time", "timezone"):
        if key in values and not isinstance(values[key], str):
            raise ConfigError(f"config: {where}.{key} must be a string in quotes")
    sub = Subscription(**values)
    sub = Subscription(sub.channel.strip(), sub.topic, weekday(sub.weekday), sub.time, sub.timezone)
    check_subscription(sub, topics, where)
    return sub


# -- loading ---------------------------------------------------------------------------------

_SECTIONS = {
    "database": DatabaseConfig,
    "arxiv": ArxivConfig,
    "digest": DigestConfig,
    "anthropic": AnthropicConfig,
    "openai": OpenAIConfig,
    "slack": SlackConfig,
    "discord": DiscordConfig,
    "scheduler": SchedulerConfig,
    "web": WebConfig,
    "http": HttpConfig,
    "chat": ChatConfig,
}
_ENV_OVERRIDES = {
    "DIGESTBOT_DB": ("database", "path"),
    "DIGESTBOT_ARXIV_API_URL": ("arxiv", "api_url"),
    "DIGESTBOT_ARXIV_HTML_URL": ("arxiv", "html_url"),
    "DIGESTBOT_ARXIV_PDF_URL": ("arxiv", "pdf_url"),
    "DIGESTBOT_SLACK_API_URL": ("slack", "api_url"),
    "DIGESTBOT_DISCORD_API_URL": ("discord", "api_url"),
    "DIGESTBOT_HTTP_HOST": ("http", "host"),
}


def config_path(explicit: str | None, env: Mapping[str, str]) -> Path | None:
    """The file to read: --config, else $DIGESTBOT_CONFIG, else ./config.toml if present."""
    if explicit:
        return Path(explicit).expanduser()
    if env.get("DIGESTBOT_CONFIG"):
        return Path(env["DIGESTBOT_CONFIG"]).expanduser()
    local = Path("config.toml")
    return local if local.is_file() else None


def load_config(explicit: str | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read, override from the environment, and validate; raise `ConfigError` on any problem."""
    env = os.environ if env is None else env
    path = config_path(explicit, env)
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            if explicit:
                raise ConfigError(
                    f"config file {path} not found; copy config.example.toml there or drop --config"
                ) from None
            # The path came from the environment: say which variable named it.
            raise ConfigError(
                f"config file {path} (named by $DIGESTBOT_CONFIG) not found; copy "
                "config.example.toml there or unset DIGESTBOT_CONFIG"
            ) from None
        except OSError as err:
            raise ConfigError(f"cannot read the config file {path}: {err.strerror}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
            raise ConfigError(f"config file {path} is not valid TOML: {err}") from None
    return parse_config(raw, env, source=str(path) if path else "built-in defaults")


def parse_config(raw: dict[str, Any], env: Mapping[str, str], source: str = "") -> Config:
    """Validate a parsed TOML document plus environment into a `Config`."""
    _unknown_keys(raw, [*_SECTIONS, "topics", "subscriptions"], "")
    raw = {k: dict(v) if isinstance(v, dict) else v for k, v in raw.items()}
    for variable, (section, key) in _ENV_OVERRIDES.items():
        if env.get(variable):
            table = raw.setdefault(section, {})
            if isinstance(table, dict):
                table[key] = env[variable]
    openai_raw = raw.get("openai")
    prices_raw = openai_raw.pop("prices", None) if isinstance(openai_raw, dict) else None
    sections = {name: _section(raw.get(name), cls, name) for name, cls in _SECTIONS.items()}
    if prices_raw is not None:
        sections["openai"] = replace(sections["openai"], prices=_openai_prices(prices_raw))
    if "port" not in (raw.get("http") or {}) and "http_port" in (raw.get("slack") or {}):
        # slack.http_port predates [http]: it still names the port when http.port is unset.
        sections["http"] = replace(sections["http"], port=sections["slack"].http_port)
    _check_arxiv(sections["arxiv"])
    _check_digest(sections["digest"])
    _check_slack(sections["slack"])
    _check_anthropic(sections["anthropic"])
    _check_openai(sections["openai"])
    _check_url(sections["discord"].api_url, "discord.api_url")
    sections["web"] = _check_web(sections["web"])
    _check_scheduler(sections["scheduler"])
    _check_http(sections["http"])
    _check_chat(sections["chat"])

    raw_topics = raw.get("topics", [])
    if not isinstance(raw_topics, list):
        raise ConfigError("config: topics must be written as [[topics]] tables")
    configured = [_topic(t, i) for i, t in enumerate(raw_topics)]
    names = [t.name for t in configured]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ConfigError(f"config: topic {sorted(duplicates)[0]!r} is defined twice; rename one")
    topics = TopicCatalog.with_builtins(configured)

    raw_subs = raw.get("subscriptions", [])
    if not isinstance(raw_subs, list):
        raise ConfigError("config: subscriptions must be written as [[subscriptions]] tables")
    subscriptions = tuple(_subscription(s, i, topics) for i, s in enumerate(raw_subs))

    slack, discord, anthropic = sections["slack"], sections["discord"], sections["anthropic"]
    secrets = Secrets(
        slack_bot_token=Secret(env.get(slack.bot_token_env, "")),
        slack_app_token=Secret(env.get(slack.app_token_env, "")),
        slack_signing_secret=Secret(env.get(slack.signing_secret_env, "")),
        discord_token=Secret(env.get(discord.token_env, "")),
        anthropic_api_key=Secret(env.get(anthropic.api_key_env, "")),
        openai_api_key=Secret(env.get(sections["openai"].api_key_env, "")),
        web_auth_token=Secret(
            env.get(sections["web"].auth_token_env, "") if sections["web"].auth_token_env else ""
        ),
    )
    return Config(
        source=source or "built-in defaults",
        topics=topics,
        subscriptions=subscriptions,
        secrets=secrets,
        **sections,
    )
