"""What each platform shows of untrusted text: `@` in ordinary text as written, no ping form
(Slack: `<!channel>`, `<!here>`, `<!everyone>`, `<@U…>`, `<#C…>`, `<!subteam^…>`; Discord:
`@everyone`, `@here`, `<@…>`), and Slack's formatting characters shown, not applied."""

from __future__ import annotations

import re

import pytest

from bot.discord.render import escape as discord_escape
from bot.slack.render import plain, render_messages
from digest.render import Block, Message, Span

SURVIVORS = ("pass@k", "NDCG@5", "user@example.com")
SLACK_PINGS = (
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<@U0123ABC>",
    "<#C0123ABC>",
    "<#C0123ABC|general>",
    "<!subteam^S0123ABC>",
    "<!subteam^S0123ABC|@team>",
)
_SLACK_MARKUP = re.compile(r"<[!@#]")


def slack_text(text: str) -> str:
    message = Message("answer", "", (Block("paragraph", (Span(text),)),))
    (rendered,) = render_messages([message])
    return rendered.text + "\n" + "\n".join(b["text"]["text"] for b in rendered.blocks)


class TestSlack:
    @pytest.mark.parametrize("text", SURVIVORS)
    def test_ordinary_at_is_shown_as_written(self, text: str) -> None:
        assert text in slack_text(f"We report {text} here.")

    @pytest.mark.parametrize("ping", SLACK_PINGS)
    def test_no_ping_form_survives(self, ping: str) -> None:
        out = slack_text(f"read this {ping} now, pass@k")
        assert not _SLACK_MARKUP.search(out), out
        assert "&lt;" in out and "pass@k" in out  # escaped, so shown, not applied

    @pytest.mark.parametrize("word", ["@everyone", "@here", "@channel"])
    def test_mass_mention_words_are_broken(self, word: str) -> None:
        assert word not in plain(f"hi {word}")

    def test_ampersands_are_escaped_once(self) -> None:
        assert plain("A&B <x>") == "A&amp;B &lt;x&gt;"

    def test_formatting_characters_are_shown_not_applied(self) -> None:
        out = plain("*bold* _it_ ~strike~ `code` and snake_case_name")
        for markup in ("*bold*", "_it_", "~strike~", "`code`"):
            assert markup not in out
        assert "bold" in out and "code" in out and "snake_case_name" in out


class TestDiscord:
    @pytest.mark.parametrize("text", SURVIVORS)
    def test_ordinary_at_is_shown_as_written(self, text: str) -> None:
        assert text in discord_escape(f"We report {text} here.")

    @pytest.mark.parametrize("ping", ["@everyone", "@here", "<@123>", "<@!456>", "<@&789>"])
    def test_no_ping_form_survives(self, ping: str) -> None:
        assert ping not in discord_escape(f"read {ping} now")


class TestQuestionsTypedWithTokens:
    def test_a_discord_question_thread_never_carries_a_token(self) -> None:
        from bot.discord.app import question_thread_name

        token = "xoxb-1234567890-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
        name = question_thread_name(f"<@123> is {token} leaked? pass@k")
        assert token not in name and "xoxb" not in name and "pass@k" in name
