"""`digestbot serve`, the `[web]` config, and what the presenter adds to a posted digest."""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from bot.cli import main
from bot.config import WebConfig, load_config, parse_config
from bot.errors import ConfigError
from bot.http.server import serve
from bot.presentation import Presenter, digest_url
from bot.web.server import auth_token, pages_app
from digest.chart import ChartCache
from digest.model import Figure
from digest.render import CHART_TITLE, WEB_LINK_TEXT, messages, to_text
from tests.support.paths import REPO
from tests.support.slack import free_port
from tests.support.web import WINDOW, store_week, week


class TestWebConfig:
    def test_defaults_are_off_open_and_unlinked(self) -> None:
        assert parse_config({}, {}).web == WebConfig(False, "", "")

    def test_the_example_documents_every_key_with_its_default(self) -> None:
        raw = tomllib.loads((REPO / "config.example.toml").read_text())
        assert set(raw["web"]) == {f.name for f in dataclasses.fields(WebConfig)}
        assert load_config(str(REPO / "config.example.toml"), env={}).web == WebConfig()

    def test_public_url_loses_its_trailing_slash(self) -> None:
        config = parse_config({"web": {"public_url": "https://d.example.org/archive/"}}, {})
        assert config.web.public_url == "https://d.example.org/archive"

    @pytest.mark.parametrize(
        "url", ["d.example.org", "javascript:alert(1)", "https://x.org/?a=1", "https://x.org/a|b"]
    )
    def test_a_public_url_that_is_not_a_plain_base_url_is_refused(self, url: str) -> None:
        with pytest.raises(ConfigError, match=r"web\.public_url"):
            parse_config({"web": {"public_url": url}}, {})

    def test_the_token_comes_from_the_named_variable_and_never_shows(self) -> None:
        config = parse_config(
            {"web": {"auth_token_env": "DIGESTBOT_WEB_TOKEN"}},
            {"DIGESTBOT_WEB_TOKEN": "pages-s3cret-77"},
        )
        assert auth_token(config) == "pages-s3cret-77"
        assert "pages-s3cret-77" in config.secrets.revealed()
        assert "s3cret" not in repr(config)

    def test_a_named_variable_that_is_unset_is_a_config_error(self) -> None:
        config = parse_config({"web": {"auth_token_env": "DIGESTBOT_WEB_TOKEN"}}, {})
        with pytest.raises(ConfigError, match=r"\$DIGESTBOT_WEB_TOKEN, which is not set"):
            auth_token(config)

    def test_auth_token_env_must_name_a_variable(self) -> None:
        with pytest.raises(ConfigError, match="must name an environment variable"):
            parse_config({"web": {"auth_token_env": "not a name"}}, {})


class TestServeCommand:
    def test_a_bad_port_is_a_usage_error(self, capsys) -> None:
        assert main(["serve", "--port", "70000"]) == 2
        assert "--port 70000 is not a port number" in capsys.readouterr().err

    def test_an_unset_token_variable_stops_it_with_exit_2(
        self, tmp_path: Path, capsys, monkeypatch
    ) -> None:
        config = tmp_path / "config.toml"
        config.write_text('[web]\nauth_token_env = "DIGESTBOT_TEST_PAGES_TOKEN"\n')
        monkeypatch.delenv("DIGESTBOT_TEST_PAGES_TOKEN", raising=False)
        monkeypatch.setenv("DIGESTBOT_DB", str(tmp_path / "db.sqlite"))
        assert main(["--config", str(config), "serve", "--port", str(free_port())]) == 2
        assert "DIGESTBOT_TEST_PAGES_TOKEN, which is not set" in capsys.readouterr().err

    def test_the_edge_serves_the_pages_and_healthz_on_loopback(self, tmp_path: Path) -> None:
        """The pages go out on bot.http's one app and server (as in `digestbot serve` and
        `digestbot run` with `[web] enabled`), beside /healthz."""
        config = parse_config(
            {"database": {"path": str(tmp_path / "db.sqlite")}, "http": {"port": 0}}, {}
        )
        app, site = pages_app(config, health=lambda: (True, {"database": "ok"}))
        server = serve(app, config.http)
        try:
            response = httpx.get(f"{server.url}/", timeout=10)
            assert response.status_code == 200 and "post-train" in response.text
            assert httpx.get(f"{server.url}/healthz", timeout=10).json()["ok"] is True
            assert server.url.startswith("http://127.0.0.1:")  # loopback unless asked
        finally:
            server.stop()
            site.close()
        with pytest.raises(httpx.TransportError):  # stopped: nothing listens there any more
            httpx.get(f"{server.url}/healthz", timeout=2)


class TestPresenter:
    def test_adds_the_permalink_and_the_chart(self, corpus, tmp_path) -> None:
        digest, digest_id = store_week(corpus, week(WINDOW), WINDOW)
        shown = Presenter("https://d.example.org", ChartCache(corpus, tmp_path))(digest, digest_id)
        assert shown.permalink == digest_url("https://d.example.org", digest_id)
        assert shown.figure is not None and shown.figure.data.startswith(b"\x89PNG")
        # Neither is part of the stored JSON contract.
        assert shown.to_json() == digest.to_json()

    def test_an_unstored_digest_is_left_alone(self, corpus, tmp_path) -> None:
        digest, _ = store_week(corpus, week(WINDOW), WINDOW)
        assert Presenter("https://d.example.org", ChartCache(corpus))(digest, None) == digest

    def test_an_empty_week_gets_no_chart(self, corpus) -> None:
        digest, digest_id = store_week(corpus, week(WINDOW), WINDOW)
        empty = replace(digest, paper_count=0)
        assert Presenter("", ChartCache(corpus))(empty, digest_id).figure is None

    def test_from_config_caches_charts_next_to_the_database(self, corpus, tmp_path) -> None:
        config = parse_config({"database": {"path": str(tmp_path / "x.db")}}, {})
        presenter = Presenter.from_config(config, corpus)
        assert presenter.charts is not None and presenter.charts.directory == tmp_path / "charts"


class TestNeutralRendering:
    def test_the_parent_links_the_page_and_the_chart_follows_the_overview(self, corpus) -> None:
        digest, _ = store_week(corpus, week(WINDOW), WINDOW)
        figure = Figure("c.png", "chart", "Papers per theme this week: A 3.", b"\x89PNG")
        shown = replace(digest, permalink="https://d.example.org/d/7", figure=figure)
        out = messages(shown)
        parent_spans = [s for b in out[0].blocks for s in b.spans]
        assert any(
            s.text == WEB_LINK_TEXT and s.url == "https://d.example.org/d/7" for s in parent_spans
        )
        keys = [m.key for m in out]
        assert keys[keys.index("overview") + 1] == "chart"
        chart = out[keys.index("chart")]
        assert chart.title == CHART_TITLE and chart.image is figure
        assert "Papers per theme this week: A 3." in to_text(shown)

    def test_without_them_nothing_changes(self, corpus) -> None:
        digest, _ = store_week(corpus, week(WINDOW), WINDOW)
        assert "chart" not in [m.key for m in messages(digest)]
        assert WEB_LINK_TEXT not in to_text(digest)
