"""Errors raised by the platform layer: one hierarchy for every shop API, plus the transform's input errors.

Why one hierarchy: assets, sensors and the CLI decide what to do from the *kind* of failure (re-authenticate,
wait, skip the record, page someone) and never from a platform's status codes or wording. Each error says what
happened, where (method + URL with every credential stripped), and what the user should do, in one paragraph,
because that text ends up verbatim in Dagster run logs, ``sync_runs.error`` and the CLI.

Secrets: URLs are sanitized on the way in (``sanitize_url``) and free text from lower layers (requests/urllib3
messages embed the full URL, query string included) goes through ``redact_text``. An error never chains the
original requests exception (``raise ... from None``) because its message would carry the signed URL.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Query parameters that carry a credential or a signature derived from one. WooCommerce accepts the key and
# secret as query parameters over HTTPS, and OAuth 1.0a puts its whole parameter set in the query over HTTP.
SECRET_QUERY_PARAMS: frozenset[str] = frozenset(
    {"consumer_key", "consumer_secret", "access_token", "api_key", "apikey", "key", "token", "ws_key", "password"}
)
_SECRET_PREFIXES: tuple[str, ...] = ("oauth_",)

_SECRET_PARAM_RE = re.compile(
    r"(?P<sep>[?&]?)(?P<name>(?:oauth_[a-z_]+|consumer_key|consumer_secret|access_token|api_key|apikey|ws_key|password))"
    r"=(?P<value>[^&\s\"'<>#)]*)",
    re.IGNORECASE,
)
# WooCommerce consumer keys/secrets have a recognisable shape; scrub them even outside a query string.
_WC_CREDENTIAL_RE = re.compile(r"\b(?:ck|cs)_[0-9a-fA-F]{8,}\b")
_USERINFO_RE = re.compile(r"(?P<scheme>https?://)[^/@\s]+@")


def _is_secret_param(name: str) -> bool:
    lowered = name.lower()
    return lowered in SECRET_QUERY_PARAMS or lowered.startswith(_SECRET_PREFIXES)


def sanitize_url(url: str | None) -> str | None:
    """Return ``url`` without credentials: secret query params dropped, userinfo removed.

    Dropping (rather than masking) the OAuth parameters keeps the URL readable: five ``oauth_*`` params are
    noise to a user who wants to know which endpoint failed.
    """
    if url is None:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_secret_param(k)]
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query), parts.fragment))


def redact_text(text: str, secrets: tuple[str, ...] | list[str] = ()) -> str:
    """Scrub credentials from free text (exception messages of lower layers, response excerpts).

    ``secrets`` are literal values (the consumer key and secret of the client) removed wherever they appear,
    which also covers URL-encoded forms that the regexes cannot recognise.
    """
    # Query parameters carrying credentials are dropped whole (as sanitize_url does), keeping "?" for the rest.
    text = _SECRET_PARAM_RE.sub(lambda m: "?" if m.group("sep") == "?" else "", text)
    text = re.sub(r"\?&", "?", text)
    text = re.sub(r"\?(?=[\s\"')]|$)", "", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "<redacted>")
    text = _WC_CREDENTIAL_RE.sub("<redacted>", text)
    return _USERINFO_RE.sub(lambda m: m.group("scheme"), text)


class ShopApiError(Exception):
    """A shop API call failed. Subclasses say how; ``hint`` says what the user should do about it.

    Attributes are plain data (platform, method, sanitized url, status, code, message, hint, details) so that
    callers can record them in run metadata without parsing the text.
    """

    default_hint: str = "Check the shop URL and credentials, then retry; if it persists, look at the shop's logs."
    kind: str = "The shop API call failed"
    # Seconds the shop's Retry-After asked for on the last attempt (429/503), set by the HTTP layer when it gives up:
    # a caller that resends on its own (a batch sent without retries, then looked up) waits at least that long.
    retry_after: float | None = None

    def __init__(
        self,
        message: str,
        *,
        platform: str | None = None,
        method: str | None = None,
        url: str | None = None,
        status: int | None = None,
        code: str | None = None,
        hint: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.message = redact_text(message)
        self.platform = platform
        self.method = method
        self.url = sanitize_url(url)
        self.status = status
        self.code = code
        self.hint = hint or self.default_hint
        self.details = details or {}
        super().__init__(self.message)

    def __str__(self) -> str:
        where = f"{self.method} {self.url}" if self.method and self.url else (self.url or "the shop API")
        who = f"{self.platform} " if self.platform else ""
        status = ""
        if self.status is not None or self.code:
            bits = [f"HTTP {self.status}" if self.status is not None else "", self.code or ""]
            status = f" ({' '.join(b for b in bits if b)})"
        message = self.message.rstrip(".")
        return f"{self.kind}: {who}{where}{status}: {message}. {self.hint}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(platform={self.platform!r}, method={self.method!r}, url={self.url!r}, "
            f"status={self.status!r}, code={self.code!r}, message={self.message!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructor: teach pickle (multiprocess executors) to rebuild us from our attributes.
        return (_rebuild_error, (type(self), self.message, self._state()))

    def _state(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "method": self.method,
            "url": self.url,
            "status": self.status,
            "code": self.code,
            "hint": self.hint,
            "details": self.details,
        }


def _rebuild_error(cls: type[ShopApiError], message: str, state: dict[str, Any]) -> ShopApiError:
    return cls(message, **state)


class ShopAuthError(ShopApiError):
    """401/403: the shop refused the credentials or the key lacks the permission. Retrying cannot help."""

    kind = "The shop refused the credentials"
    default_hint = (
        "Check the API key and secret (and that the key has Read or Read/Write permission), "
        "then reconnect the shop with `ecom-pipeline connect`."
    )


class ShopNotFoundError(ShopApiError):
    """404/410: the resource (or the whole API route) does not exist."""

    kind = "Not found"
    default_hint = (
        "The record may have been deleted in the shop; if every call fails this way, check that the shop URL "
        "points at the site root and that the API is enabled."
    )


class ShopBadRequestError(ShopApiError):
    """400 (and other 4xx): the shop rejected the request itself. A bug or an unsupported value on our side."""

    kind = "The shop rejected the request"
    default_hint = (
        "The request parameters were refused; this is likely a bug or an unsupported shop version: report it."
    )


class ShopRateLimitedError(ShopApiError):
    """429 after every retry (or a Retry-After longer than we are willing to wait)."""

    kind = "The shop kept rate-limiting us"
    default_hint = (
        "Lower the request rate for this shop (max requests per second) or schedule the sync less often; "
        "the run can simply be retried later."
    )


class ShopServerError(ShopApiError):
    """5xx (or an HTML error page from a proxy) after every retry: the shop or its proxy is failing."""

    kind = "The shop server failed"
    default_hint = "The shop (or a proxy in front of it) is failing; retry later and check the shop's server logs."


class ShopUnreachableError(ShopApiError):
    """DNS failure, connection refused, timeouts or TLS verification failure after every retry."""

    kind = "Could not reach the shop"
    default_hint = "Check the shop URL, that the server is up and reachable from this machine, and any firewall/proxy."


class ShopResponseError(ShopApiError):
    """The shop answered, but not with what the API promises (non-JSON, truncated, wrong shape)."""

    kind = "The shop sent an unusable response"
    default_hint = (
        "A plugin, cache or proxy may be altering API responses (PHP notices, HTML pages); check that the URL is "
        "the site root and that /wp-json/ answers JSON."
    )


class ShopRedirectError(ShopApiError):
    """The shop answered 3xx: it lives at another address (http -> https, www, a moved folder).

    Redirects are never followed: requests drops the Authorization header on another host, a POST becomes a GET
    on 301/302, and OAuth 1.0a signatures cover the original URL, so a followed redirect surfaced as a misleading
    "wrong credentials" or "not found". ``location`` is where the shop points (sanitized).
    """

    kind = "The shop redirects elsewhere"
    default_hint = (
        "Connect the shop with the URL it redirects to (ecom-pipeline connect <platform> --url <that address>); "
        "redirects are not followed because they drop credentials and turn writes into reads."
    )

    @property
    def location(self) -> str | None:
        value = self.details.get("location")
        return str(value) if value else None


class RequestBudgetExceeded(ShopApiError):
    """The per-run request budget for this shop is spent; the run stops before making more calls."""

    kind = "Request budget exhausted"
    default_hint = (
        "The run made as many calls as its budget allows; raise the shop's request budget or let the next "
        "incremental run continue from the saved cursor."
    )


class TransformError(ValueError):
    """A shop payload that cannot be mapped to the canonical model (missing id, non-decimal price, ...).

    It names the entity, the record and the field so a rejected record can be found in the shop, and is meant to
    be caught per record and written to ``rejected_records``, never to abort a whole page.
    """

    def __init__(self, entity: str, external_id: str | None, field: str, message: str) -> None:
        self.entity = entity
        self.external_id = external_id
        self.field = field
        self.message = message
        record = f"{entity} {external_id}" if external_id is not None else f"{entity} (no id)"
        super().__init__(f"{record}: field {field!r}: {message}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.entity, self.external_id, self.field, self.message))


__all__ = [
    "RequestBudgetExceeded",
    "ShopApiError",
    "ShopAuthError",
    "ShopBadRequestError",
    "ShopNotFoundError",
    "ShopRateLimitedError",
    "ShopRedirectError",
    "ShopResponseError",
    "ShopServerError",
    "ShopUnreachableError",
    "TransformError",
    "redact_text",
    "sanitize_url",
]
