"""The Slack app manifest asks for exactly the scopes the code uses, and the README's scope
table matches the manifest."""

from __future__ import annotations

import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
MANIFEST = json.loads((REPO / "slack" / "manifest.json").read_text(encoding="utf-8"))
SCOPES = set(MANIFEST["oauth_config"]["scopes"]["bot"])

# Every Web API call in bot/slack and the bot scope it needs (None: no scope).
METHOD_SCOPES = {
    "auth_test": None,
    "chat_postMessage": "chat:write",
    "chat_postEphemeral": "chat:write",
    "chat_getPermalink": None,
    "files_upload_v2": "files:write",
    "conversations_history": "channels:history",
    "conversations_replies": "channels:history",
}
# Scopes that no Web API call needs but the app's features do.
FEATURE_SCOPES = {
    "commands": "the /digest slash command",
    "app_mentions:read": "app_mention events",
    "groups:history": "conversations.* in private channels",
}


def called_methods() -> set[str]:
    source = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "bot" / "slack").glob("*.py"))
    return set(re.findall(r"client\.((?:auth|chat|conversations|files)_\w+)", source))


def test_every_call_the_code_makes_has_its_scope() -> None:
    methods = called_methods()
    assert methods, "no Web API calls found in bot/slack"
    assert methods <= set(METHOD_SCOPES), methods - set(METHOD_SCOPES)
    for method in methods:
        scope = METHOD_SCOPES[method]
        assert scope is None or scope in SCOPES, f"{method} needs {scope}"


def test_no_scope_is_requested_that_nothing_uses() -> None:
    used = {METHOD_SCOPES[m] for m in called_methods()} - {None}
    assert used | set(FEATURE_SCOPES) == SCOPES


def test_socket_mode_the_command_and_the_event() -> None:
    assert MANIFEST["settings"]["socket_mode_enabled"] is True
    assert [c["command"] for c in MANIFEST["features"]["slash_commands"]] == ["/digest"]
    assert MANIFEST["settings"]["event_subscriptions"]["bot_events"] == ["app_mention"]


def test_the_readme_explains_every_scope() -> None:
    readme = (REPO / "slack" / "README.md").read_text(encoding="utf-8")
    explained = set(re.findall(r"^\| `([a-z:._]+)` \|", readme, flags=re.MULTILINE))
    assert explained == SCOPES
