"""Config: file discovery, validation messages that name the key, env overrides, secrets."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

import pytest

from bot.config import (
    Config,
    Secret,
    Subscription,
    check_subscription,
    config_path,
    load_config,
    parse_config,
)
from bot.errors import ConfigError
from digest.topics import POST_TRAIN, TopicCatalog
from tests.support.paths import REPO

EXAMPLE = REPO / "config.example.toml"


class TestExample:
    def test_example_loads_and_equals_the_defaults(self) -> None:
        config = load_config(str(EXAMPLE), env={})
        defaults = parse_config({}, {})
        for section in (
            "database",
            "arxiv",
            "digest",
            "anthropic",
            "openai",
            "slack",
            "discord",
            "scheduler",
        ):
            assert getattr(config, section) == getattr(defaults, section), section

    def test_example_documents_every_key(self) -> None:
        raw = tomllib.loads(EXAMPLE.read_text())
        for section in (
            "database",
            "arxiv",
            "digest",
            "anthropic",
            "openai",
            "slack",
            "discord",
            "scheduler",
        ):
            cls = type(getattr(Config(), section))
            documented = set(raw[section])
            assert documented == {f.name for f in dataclasses.fields(cls)}, section
        text = EXAMPLE.read_text()
        for key in ("[[topics]]", "[[subscriptions]]", "include =", "exclude =", "timezone ="):
            assert key in text

    def test_commented_examples_are_valid(self) -> None:
        """The commented [[topics]] and [[subscriptions]] examples work when uncommented."""
        lines = EXAMPLE.read_text().splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith("# [[topics]]"))
        uncommented = "\n".join(
            line[2:]
            for line in lines[start:]
            if (line.startswith("# ") and "=" in line) or line.startswith("# [[")
        )
        config = parse_config(tomllib.loads(uncommented), {})
        assert config.topics.names() == ["post-train", "rl-agents"]
        assert config.subscriptions[0].timezone == "Europe/Berlin"


class TestDiscovery:
    def test_explicit_then_env_then_local_file(self, tmp_path: Path, monkeypatch) -> None:
        monkeypatch.chdir(tmp_path)
        assert config_path(None, {}) is None
        (tmp_path / "config.toml").write_text("")
        assert config_path(None, {}) == Path("config.toml")
        assert config_path(None, {"DIGESTBOT_CONFIG": "/x.toml"}) == Path("/x.toml")
        assert config_path("/y.toml", {"DIGESTBOT_CONFIG": "/x.toml"}) == Path("/y.toml")

    def test_missing_explicit_file(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigError, match="not found"):
            load_config(str(tmp_path / "nope.toml"), env={})

    def test_invalid_toml(self, tmp_path: Path) -> None:
        path = tmp_path / "bad.toml"
        path.write_text("[arxiv\npage_size = ")
        with pytest.raises(ConfigError, match="not valid TOML"):
            load_config(str(path), env={})


class TestValidation:
    @pytest.mark.parametrize(
        ("raw", "message"),
        [
            ({"arxiv": {"pag_size": 3}}, "unknown key arxiv.pag_size; did you mean 'page_size'"),
            ({"arxvi": {}}, "unknown key arxvi; did you mean 'arxiv'"),
            ({"arxiv": {"page_size": "big"}}, "arxiv.page_size must be a whole number"),
            ({"arxiv": {"page_size": 5000}}, "write page_size = 2000"),
            ({"arxiv": {"delay_seconds": 1}}, "write delay_seconds = 3"),
            ({"arxiv": {"api_url": "ftp://x"}}, "is not an http\\(s\\) URL"),
            ({"digest": {"engine": "gpt"}}, 'write "auto", "offline", "claude" or "openai"'),
            ({"digest": {"language": "German"}}, 'is not a language code; write a code such as'),
            ({"openai": {"base_url": "localhost:11434"}}, "openai.base_url .* is not an http"),
            ({"openai": {"max_input_tokens": 100}}, "openai.max_input_tokens must be at least"),
            ({"openai": {"prices": {"m": [1]}}}, r"openai.prices.m must be \[input, output\]"),
            ({"openai": {"prices": [1, 2]}}, "openai.prices must be a table"),
            ({"slack": {"mode": "webhook"}}, 'write "socket" or "http"'),
            ({"slack": {"admins": "U1"}}, "slack.admins must be a list of strings"),
            ({"topics": [{"name": "Bad Name"}]}, "short lower-case name"),
            ({"topics": [{"name": "x"}]}, "needs categories or include phrases"),
            ({"topics": [{"name": "x", "include": ["dpo"]}]}, "list of phrase groups"),
            (
                {"topics": [{"name": "x", "categories": ["cs.CL"]}] * 2},
                "defined twice",
            ),
            ({"subscriptions": [{"channel": "slack:C1", "topic": "nope"}]}, "is not a topic"),
            (
                {"subscriptions": [{"channel": "irc:#x", "topic": "post-train"}]},
                'write "slack:C0123ABCD"',
            ),
            (
                {"subscriptions": [{"channel": "slack:C1", "topic": "post-train", "weekday": "1"}]},
                "write one of mon",
            ),
            (
                {"subscriptions": [{"channel": "slack:C1", "topic": "post-train", "time": "9am"}]},
                "24-hour HH:MM",
            ),
            (
                {
                    "subscriptions": [
                        {"channel": "slack:C1", "topic": "post-train", "timezone": "Mars/Olympus"}
                    ]
                },
                "not an IANA time zone",
            ),
        ],
    )
    def test_errors_name_the_key_and_the_fix(self, raw: dict, message: str) -> None:
        with pytest.raises(ConfigError, match=message):
            parse_config(raw, {})

    @pytest.mark.parametrize(
        ("raw", "message"),
        [
            (
                {"subscriptions": [{"channel": "discord:abc", "topic": "post-train"}]},
                r'channel = "discord:abc"; write "slack:C0123ABCD" or "discord:',
            ),
            (
                {
                    "subscriptions": [
                        {"channel": "slack:C1", "topic": "post-train", "weekday": "monkey"}
                    ]
                },
                r'weekday = "monkey"; write one of mon',
            ),
            ({"scheduler": {"grace_hours": -1}}, "grace_hours = -1 cannot be negative"),
            (
                {"scheduler": {"admin_channel": "C0ADMIN"}},
                'admin_channel = "C0ADMIN" names no platform',
            ),
            (
                {"topics": [{"name": "x", "categories": ["cs.XX"]}]},
                r'"cs.XX", which is not an arXiv category',
            ),
            ({"topics": [{"name": "x", "categories": ["cs.cl"]}]}, r'did you mean "cs.CL"'),
            ({"http": {"host": "every interface"}}, 'http.host = "every interface" is not an IP'),
            ({"http": {"max_body_bytes": -1}}, "http.max_body_bytes must be 1024 to"),
            ({"http": {"body_timeout_seconds": 0}}, "must be positive"),
            ({"chat": {"commands_per_minute": 0}}, "chat.commands_per_minute must be at least 1"),
            ({"chat": {"max_window_days": 0}}, "chat.max_window_days must be 1 to 366"),
        ],
        ids=[
            "discord-channel-not-digits",
            "weekday-monkey",
            "negative-grace",
            "admin-channel-without-platform",
            "unknown-category",
            "category-case",
            "http-host",
            "http-body-limit",
            "http-timeout",
            "chat-rate",
            "chat-window",
        ],
    )
    def test_what_a_new_user_got_wrong_is_rejected(self, raw: dict, message: str) -> None:
        with pytest.raises(ConfigError, match=message):
            parse_config(raw, {})

    @pytest.mark.parametrize("day", ["mon", "Monday", "FRI", "sunday"])
    def test_weekdays_may_be_written_in_full(self, day: str) -> None:
        raw = {"subscriptions": [{"channel": "slack:C1", "topic": "post-train", "weekday": day}]}
        assert parse_config(raw, {}).subscriptions[0].weekday == day.lower()[:3]

    def test_every_category_of_the_builtin_topics_is_known(self) -> None:
        from digest.arxiv_categories import is_category

        for topic in TopicCatalog.with_builtins().topics:
            assert all(is_category(c) for c in topic.categories), topic.categories
        for category in ("hep-th", "math.OC", "stat.ML", "q-bio.NC", "astro-ph.GA"):
            assert is_category(category)
        assert not is_category("cs.XX") and not is_category("cs")

    def test_a_missing_file_from_the_environment_names_the_variable(self, tmp_path) -> None:
        missing = tmp_path / "nowhere.toml"
        with pytest.raises(ConfigError, match=r"\$DIGESTBOT_CONFIG\) not found") as raised:
            load_config(None, env={"DIGESTBOT_CONFIG": str(missing)})
        assert "unset DIGESTBOT_CONFIG" in str(raised.value)


class TestHttp:
    def test_it_listens_on_loopback_by_default(self) -> None:
        config = parse_config({}, {})
        assert config.http.host == "127.0.0.1" and config.http.port == 3000

    def test_the_host_may_come_from_the_environment(self) -> None:
        """The Dockerfile sets DIGESTBOT_HTTP_HOST=0.0.0.0: inside a container, loopback
        would be unreachable from the published port."""
        assert parse_config({}, {"DIGESTBOT_HTTP_HOST": "0.0.0.0"}).http.host == "0.0.0.0"

    def test_slack_http_port_still_names_the_port(self) -> None:
        assert parse_config({"slack": {"http_port": 8080}}, {}).http.port == 8080
        both = {"slack": {"http_port": 8080}, "http": {"port": 9090}}
        assert parse_config(both, {}).http.port == 9090

    def test_loopback_url_may_go_faster(self) -> None:
        config = parse_config(
            {"arxiv": {"delay_seconds": 0}},
            {"DIGESTBOT_ARXIV_API_URL": "http://127.0.0.1:8080/api/query"},
        )
        assert config.arxiv.delay_seconds == 0.0

    def test_topics_are_normalised_and_override_builtins(self) -> None:
        config = parse_config(
            {"topics": [{"name": "post-train", "title": " Mine ", "include": [["DPO", "RLHF"]]}]},
            {},
        )
        topic = config.topics.get("post-train")
        assert topic.title == "Mine" and topic.include == (("dpo", "rlhf"),)

    def test_weekday_is_normalised(self) -> None:
        config = parse_config(
            {
                "subscriptions": [
                    {"channel": "slack:C1", "topic": "post-train", "weekday": "Monday"}
                ]
            },
            {},
        )
        assert config.subscriptions[0].weekday == "mon"

    def test_check_subscription_is_reusable_for_chat_commands(self) -> None:
        catalog = TopicCatalog.with_builtins()
        check_subscription(Subscription("discord:123", POST_TRAIN.name), catalog, "subscribe")
        with pytest.raises(ConfigError, match=r"subscribe\.weekday"):
            check_subscription(
                Subscription("discord:1", "post-train", "funday"), catalog, "subscribe"
            )


class TestEnvironment:
    def test_overrides_and_secrets(self) -> None:
        env = {
            "DIGESTBOT_DB": "/data/x.db",
            "DIGESTBOT_ARXIV_API_URL": "http://127.0.0.1:9/api/query",
            "DIGESTBOT_SLACK_API_URL": "http://127.0.0.1:9/api/",
            "DIGESTBOT_DISCORD_API_URL": "http://127.0.0.1:9/api/v10",
            "SLACK_BOT_TOKEN": "xoxb-very-secret",
            "MY_KEY": "sk-ant-secret",
        }
        config = parse_config({"anthropic": {"api_key_env": "MY_KEY"}}, env)
        assert config.database.resolved_path() == Path("/data/x.db")
        assert config.arxiv.api_url == "http://127.0.0.1:9/api/query"
        assert config.slack.api_url == "http://127.0.0.1:9/api/"
        assert config.discord.api_url == "http://127.0.0.1:9/api/v10"
        assert config.secrets.slack_bot_token.reveal() == "xoxb-very-secret"
        assert config.secrets.anthropic_api_key.reveal() == "sk-ant-secret"
        assert not config.secrets.discord_token

    def test_secrets_never_show_in_reprs(self) -> None:
        config = parse_config({}, {"SLACK_BOT_TOKEN": "xoxb-very-secret"})
        assert "xoxb-very-secret" not in repr(config)
        assert "xoxb" not in str(Secret("xoxb-very-secret"))
        assert re.search(r"Secret\('\*\*\*'\)", repr(config.secrets))
