"""The Slack web client as digestbot uses it, and Slack's errors in words a user can act on.

One `WebClient` per process, pointed at `slack.api_url` (a loopback fake in tests). Its only
automatic retry is for HTTP 429, after the server's Retry-After: a rejected request was not
carried out, so repeating it is safe. Connection errors and 5xx are not retried here,
because a message may have been posted before the connection broke; the post ledger records
it as "sending" and the next run asks Slack (`find_sent`) before posting again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError, SlackRequestError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot.errors import PlatformError, PlatformRefused

log = logging.getLogger(__name__)

Sleep = Callable[[float], None]

RATE_LIMIT_RETRIES = 4  # 429s in a row before a call gives up
MAX_RETRY_AFTER = 120.0  # never wait longer than this on one Retry-After
TIMEOUT_SECONDS = 30


class RateLimitRetry(RateLimitErrorRetryHandler):
    """Retries a 429 after exactly the server's Retry-After (the SDK's own handler adds up to
    a second of jitter and sleeps with `time.sleep`; this one takes the sleep as a seam)."""

    def __init__(
        self,
        max_retry_count: int = RATE_LIMIT_RETRIES,
        *,
        sleep: Sleep = time.sleep,
        max_wait: float = MAX_RETRY_AFTER,
    ) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self._sleep = sleep
        self._max_wait = max_wait

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        if response is None:
            raise error  # type: ignore[misc]
        state.next_attempt_requested = True
        wait = retry_after(response.headers)
        log.info("Slack rate limit on %s: retrying in %.1f s", request.url.rsplit("/", 1)[-1], wait)
        self._sleep(min(wait, self._max_wait))
        state.increment_current_attempt()


def retry_after(headers: dict) -> float:
    """Seconds from a Retry-After header (the SDK gives header values as lists); 1 if absent."""
    for name, value in headers.items():
        if name.lower() == "retry-after":
            raw = value[0] if isinstance(value, list | tuple) else value
            try:
                return max(0.0, float(raw))
            except (TypeError, ValueError):
                return 1.0
    return 1.0


def api_base(url: str) -> str:
    """The SDK joins method names onto base_url, so it must end with a slash."""
    return url if url.endswith("/") else url + "/"


def make_client(
    token: str,
    api_url: str = "https://slack.com/api/",
    *,
    sleep: Sleep = time.sleep,
    timeout: int = TIMEOUT_SECONDS,
) -> WebClient:
    """A `WebClient` for the bot token, retrying 429s after Retry-After."""
    return WebClient(
        token=token,
        base_url=api_base(api_url),
        timeout=timeout,
        retry_handlers=[RateLimitRetry(sleep=sleep)],
    )


_AUTH_ERRORS = {
    "invalid_auth",
    "not_authed",
    "account_inactive",
    "token_revoked",
    "token_expired",
    "not_allowed_token_type",
}
_MALFORMED = {
    "invalid_blocks",
    "invalid_blocks_format",
    "msg_too_long",
    "invalid_arguments",
    "invalid_metadata_format",
    "invalid_metadata_schema",
    "no_text",
    "too_many_attachments",
}


def translate(
    err: Exception, action: str, channel_id: str | None = None, api_url: str = ""
) -> PlatformError:
    """A Slack SDK or network error as one sentence saying what to do about it."""
    where = f"channel {channel_id}" if channel_id else "Slack"
    if isinstance(err, SlackApiError):
        response = err.response
        code = str(response.get("error") or f"HTTP {response.status_code}")
        if code == "not_in_channel":
            return PlatformRefused(
                f"Slack refused to {action}: the bot is not a member of {where}; "
                "invite it there with /invite @digestbot"
            )
        if code == "channel_not_found":
            return PlatformRefused(
                f"Slack cannot find {where} (a private channel needs /invite @digestbot first; "
                "check the channel id)"
            )
        if code == "is_archived":
            return PlatformRefused(f"Slack refused to {action}: {where} is archived")
        if code in _AUTH_ERRORS:
            return PlatformRefused(
                f"Slack refused the bot's token ({code}): set SLACK_BOT_TOKEN to the app's "
                "Bot User OAuth Token (xoxb-...) and SLACK_APP_TOKEN to an xapp- app-level token"
            )
        if code == "missing_scope":
            needed = response.get("needed") or "a"
            return PlatformRefused(
                f"the Slack app lacks the {needed} scope to {action}; add it (slack/manifest.json "
                "lists every scope) and reinstall the app"
            )
        if code == "ratelimited" or response.status_code == 429:
            return PlatformError(
                f"Slack kept rate-limiting the bot's attempts to {action}; try again in a minute"
            )
        if code in _MALFORMED:
            return PlatformRefused(
                f"Slack rejected a message as malformed ({code}); this is a digestbot bug, "
                "please report it"
            )
        if code in ("restricted_action", "ekm_access_denied", "team_access_not_granted"):
            return PlatformRefused(
                f"the workspace does not allow the bot to {action} in {where} ({code})"
            )
        return PlatformError(f"Slack refused to {action} ({code})")
    if isinstance(err, SlackRequestError):
        return PlatformError(f"Slack did not accept the request to {action}: {err}")
    if isinstance(err, OSError | SlackClientError):
        reason = getattr(err, "reason", None) or err
        return PlatformError(f"cannot reach Slack at {api_url or 'its API'} to {action}: {reason}")
    return PlatformError(f"Slack failed to {action}: {err}")
