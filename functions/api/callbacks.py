"""The `X-Callback-Url` request header: where the record of a finished invocation is POSTed.

The header name is the one OpenFaaS producers already send. Checked at submit, so a producer
learns of a bad URL from a 422 rather than from a dead letter an hour later: an absolute http or
https URL of at most MAX_LENGTH characters, with a host and no user info (credentials in a URL
end up in logs and in the record). A literal address the guard refuses (functions/targets.py)
is refused here too; a name is resolved and checked by the sender when it connects, the only
moment that counts (a name may resolve differently later).

One function for every submit route (single, batch, and CloudEvents at /v1/events).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers

from functions.api.problems import Problem
from functions.settings import Settings
from functions.targets import Guard, literal_address

HEADER = "x-callback-url"
MAX_LENGTH = 2048

_guards: dict[tuple[str, ...], Guard] = {}


def callback_url(headers: Headers, settings: Settings) -> str | None:
    """The request's callback URL, checked; None without the header. Problem (422
    `invalid-callback-url`) for a URL a callback could not or may not be sent to."""
    raw = headers.get(HEADER)
    if raw is None:
        return None
    url = raw.strip()
    why = _why_not(url, settings)
    if why is not None:
        raise Problem(
            "invalid-callback-url",
            f"X-Callback-Url {why}",
            errors=[{"path": "/headers/x-callback-url", "message": why, "type": "url_refused"}],
        )
    return url


def _why_not(url: str, settings: Settings) -> str | None:
    if not url:
        return "is empty"
    if len(url) > MAX_LENGTH:
        return f"is longer than {MAX_LENGTH} characters"
    if not url.isascii() or any(c.isspace() or ord(c) < 0x21 for c in url):
        return "must be ASCII without spaces or control characters (percent-encode the rest)"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"is not a valid URL ({exc})"
    if parts.scheme not in ("http", "https"):
        return "must be an absolute http:// or https:// URL"
    if not parts.hostname:
        return "has no host"
    if "@" in parts.netloc:
        return "must not carry user info (user:password@)"
    if port == 0:
        return "has port 0"
    address = literal_address(parts.hostname)
    if address is not None:
        refusal = _guard(settings).refusal(address)
        if refusal is not None:
            return f"points at {refusal}"
    return None


def _guard(settings: Settings) -> Guard:
    allow = tuple(settings.CALLBACK_ALLOW_NETWORKS)
    guard = _guards.get(allow)
    if guard is None:
        guard = _guards[allow] = Guard(allow)
    return guard
