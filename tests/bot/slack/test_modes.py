"""Running the app: Socket Mode against the fake's WebSocket, HTTP mode on a loopback port."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

import pytest

from bot.errors import ConfigError
from bot.slack.app import build_app, connect_socket_mode, run_http, run_socket_mode, serve_http
from tests.support.publishing import publisher_for
from tests.support.slack import CHANNEL, command_body, free_port, signed, slack_config


@pytest.fixture
def socket_app(fake, poster, router):
    built = build_app(
        router,
        slack_config(fake.base_url, mode="socket"),
        publisher=publisher_for(router),
        poster=poster,
        env={},
    )
    yield built
    built.close()


class TestSocketMode:
    def test_a_command_is_acknowledged_over_the_socket_and_answered(self, fake, socket_app) -> None:
        handler = connect_socket_mode(socket_app, slack_config(fake.base_url, mode="socket"))
        try:
            assert fake.wait_connected(5)
            payload = {
                "command": "/digest",
                "text": "help",
                "user_id": "U1",
                "channel_id": CHANNEL,
                "team_id": "T0FAKE",
                "api_app_id": "A0FAKE",
                "response_url": fake.response_url(),
            }
            started = time.monotonic()
            envelope = fake.send_envelope("slash_commands", payload)
            ack = fake.wait_ack(envelope, 3)
            assert ack is not None and ack["envelope_id"] == envelope
            assert time.monotonic() - started < 3
            assert fake.wait_for(lambda f: bool(f.ephemerals()), 5)
            assert "/digest TOPIC" in fake.ephemerals()[0]["text"]
        finally:
            fake.disconnect()  # else the SDK's close waits out its 3 s receive timeout
            handler.close()

    def test_a_mention_arrives_as_an_event(self, fake, socket_app) -> None:
        handler = connect_socket_mode(socket_app, slack_config(fake.base_url, mode="socket"))
        try:
            assert fake.wait_connected(5)
            asked = fake.post_as_user(CHANNEL, "<@U0BOT> what is GRPO?", "U2")
            event = {
                "type": "app_mention",
                "user": "U2",
                "text": "<@U0BOT> what is GRPO?",
                "ts": asked,
                "channel": CHANNEL,
                "event_ts": asked,
            }
            callback = {
                "type": "event_callback",
                "team_id": "T0FAKE",
                "api_app_id": "A0FAKE",
                "event": event,
                "event_id": "Ev1",
                "event_time": 1,
                "authorizations": [{"team_id": "T0FAKE", "user_id": "U0BOT", "is_bot": True}],
            }
            assert fake.wait_ack(fake.send_envelope("events_api", callback), 3) is not None
            assert fake.wait_for(lambda f: bool(f.posts(CHANNEL)), 5)
            answer = fake.posts(CHANNEL)[0]
            assert answer["thread_ts"] == asked and "what is GRPO?" in answer["text"]
        finally:
            fake.disconnect()  # else the SDK's close waits out its 3 s receive timeout
            handler.close()

    def test_run_blocks_until_stopped(self, fake, socket_app) -> None:
        stop = threading.Event()
        runner = threading.Thread(
            target=run_socket_mode,
            args=(socket_app, slack_config(fake.base_url, mode="socket"), stop),
        )
        runner.start()
        assert fake.wait_connected(5)
        stop.set()
        runner.join(10)
        assert not runner.is_alive()

    def test_an_app_token_is_required(self, fake, socket_app) -> None:
        config = slack_config(fake.base_url, mode="socket", SLACK_APP_TOKEN="")
        with pytest.raises(ConfigError, match=r"\$SLACK_APP_TOKEN is not set"):
            connect_socket_mode(socket_app, config)

    def test_a_bot_token_in_place_of_the_app_token_is_named(self, fake, socket_app) -> None:
        config = slack_config(fake.base_url, mode="socket", SLACK_APP_TOKEN="xoxb-oops")
        with pytest.raises(ConfigError, match="not an app-level token") as raised:
            connect_socket_mode(socket_app, config)
        assert "xoxb-oops" not in str(raised.value)


class TestHttpMode:
    """HTTP mode through bot.http (the attacks are in test_http_edge.py)."""

    def post(self, url: str, body: str, headers: dict) -> tuple[int, str]:
        request = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    def test_signed_requests_over_a_real_port(self, fake, app) -> None:
        server = serve_http(app, slack_config(fake.base_url), port=0)
        try:
            assert server.host == "127.0.0.1"  # loopback unless http.host says otherwise
            url = f"{server.url}/slack/events"
            body = command_body("help")
            request = signed(body)
            headers = {k: v[0] for k, v in request.headers.items()}
            assert self.post(url, body, headers)[0] == 200
            assert app.wait_idle(10) and len(fake.ephemerals()) == 1
            headers["x-slack-signature"] = "v0=" + "0" * 64
            assert self.post(url, body, headers)[0] == 401
            assert self.post(url.replace("/slack/events", "/nope"), body, headers)[0] == 404
            with urllib.request.urlopen(f"{server.url}/healthz") as ok:
                assert json.loads(ok.read())["ok"] is True
        finally:
            server.stop()

    def test_slacks_url_verification_challenge(self, fake, app) -> None:
        body = json.dumps({"type": "url_verification", "challenge": "abc123", "token": "t"})
        response = app.dispatch(signed(body, json_body=True))
        assert response.status == 200 and "abc123" in response.body

    def test_run_http_blocks_until_stopped(self, fake, app) -> None:
        stop = threading.Event()
        config = slack_config(fake.base_url, http_port=free_port())
        runner = threading.Thread(target=run_http, args=(app, config), kwargs={"stop": stop})
        runner.start()
        stop.set()
        runner.join(10)
        assert not runner.is_alive()

    def test_http_mode_needs_the_signing_secret(self, fake, app) -> None:
        with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
            serve_http(app, slack_config(fake.base_url, SLACK_SIGNING_SECRET=""), port=0)
