"""Shared HTTP layer for every shop client: retries, Retry-After, pacing, request budget, error mapping, stats.

Why our own small retry loop rather than urllib3's ``Retry`` or tenacity: we need (1) every attempt to be
re-prepared so per-request auth (OAuth 1.0a nonce + timestamp) is fresh, (2) Retry-After honoured and the time
spent waiting for the shop accounted separately from error backoff (``stats.throttle_wait_s`` is run metadata),
(3) the body read inside the loop so a cut (chunked) body is retried like a 502, and (4) an injectable ``sleep``
and ``clock`` so tests never wait.

The session never raises a requests exception: everything becomes a
:class:`~ecom_pipeline.platforms.errors.ShopApiError` whose text is free of credentials.

Threads: one :class:`HttpSession` may be called from several threads at once (a writer keeping several batches in
flight). requests does not promise that a ``requests.Session`` is thread-safe (psf/requests#2766; its maintainers
advise one session per thread: the cookie jar and the adapters' state are shared mutable state), so each thread
other than the one that made the session gets its own ``requests.Session`` with the same auth, headers, proxies
and mounted adapters (urllib3's connection pools are thread-safe, so connections are still pooled). The counters
in :class:`HttpStats`, the request budget and the pacing clock are updated under one lock. A retry's wait (backoff
or Retry-After) is slept by the thread that got the 429 or 5xx, outside the lock.

No automatic retry for one call: :meth:`HttpSession.without_retries` (a create whose lost answer may hide a record
the shop made must not be resent blindly). It switches the retries off for the calling thread only, through a
thread-local flag read where the retry decision is made: the session itself (its pacing clock, budget, counters,
connection pools) stays one, and the other threads of the same push keep their retries.
"""

from __future__ import annotations

import dataclasses
import email.utils
import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, Self
from urllib.parse import urlencode, urljoin

import requests
from requests.cookies import RequestsCookieJar, merge_cookies
from requests.structures import CaseInsensitiveDict

from ecom_pipeline import jsoncodec
from ecom_pipeline.platforms.errors import (
    RequestBudgetExceeded,
    ShopApiError,
    ShopAuthError,
    ShopBadRequestError,
    ShopNotFoundError,
    ShopRateLimitedError,
    ShopRedirectError,
    ShopResponseError,
    ShopServerError,
    ShopUnreachableError,
    _is_secret_param,
    redact_text,
    sanitize_url,
)

logger = logging.getLogger(__name__)


class _RedactedUrls(logging.Filter):
    """urllib3 logs each request's URL at DEBUG, query included: a WooCommerce call's carries the OAuth consumer key
    and signature. Its records are scrubbed as our errors are (``redact_text``) before any handler sees them; a
    logger's filter runs only for records it is enabled for, so this costs nothing above DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


logging.getLogger("urllib3.connectionpool").addFilter(_RedactedUrls())

RETRY_STATUSES: frozenset[int] = frozenset({429, 500, 502, 503, 504})
# Retry-After is only a promise on these; on a 500 it would be unusual and we fall back to backoff.
RETRY_AFTER_STATUSES: frozenset[int] = frozenset({429, 503})
EXCERPT_CHARS = 200


def _package_version() -> str:
    try:
        from importlib.metadata import version

        return version("ecom_pipeline")
    except Exception:  # not installed (e.g. running from a source tree): the UA is informative only
        return "0+unknown"


USER_AGENT = f"ecom-pipeline/{_package_version()}"


BACKOFF_BASE_ENV = "ECOM_HTTP_BACKOFF_BASE_S"


def _default_backoff_base_s() -> float:
    """0.5 s, or ``ECOM_HTTP_BACKOFF_BASE_S``: for tests whose shop fails on purpose, where the retries matter and
    waiting them out for real (up to ~8 s a request with 5 retries) proves nothing."""
    return float(os.environ.get(BACKOFF_BASE_ENV) or 0.5)


@dataclass(frozen=True)
class HttpOptions:
    """How to reach one shop, in one object instead of a dozen arguments handed from caller to client to session.

    ``base_url`` is the shop's address as connected (each client derives its API root from it) and ``api_version``
    the API version to speak (None: the client's default). ``verify`` is requests' ``verify``: True, a CA bundle
    path, or False for ``--insecure``. The rest is the retry, pacing and budget policy of :class:`HttpSession`;
    ``sleep``, ``clock`` and ``rng`` are injectable so tests never wait. Build one with :meth:`for_integration`
    (a stored shop), :meth:`from_connect_args` (``ecom-pipeline connect``) or :meth:`of` (a URL plus keywords).
    """

    base_url: str = ""
    api_version: str | None = None
    verify: bool | str = True
    timeout: float | tuple[float, float] = 30.0
    max_retries: int = 5
    backoff_base_s: float = field(default_factory=_default_backoff_base_s)
    max_backoff_s: float = 30.0
    max_retry_after_s: float = 300.0
    request_budget: int | None = None
    max_requests_per_second: float | None = None
    user_agent: str = USER_AGENT
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time
    rng: Callable[[], float] = random.random

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be 0 or more, got {self.max_retries}")

    @property
    def insecure(self) -> bool:
        """TLS certificates are not verified (``--insecure``: a local test shop only)."""
        return self.verify is False

    @property
    def ca_bundle(self) -> str | None:
        """The CA bundle that verifies the shop's certificate, when one was given."""
        return self.verify if isinstance(self.verify, str) else None

    def replace(self, **changes: Any) -> HttpOptions:
        """A copy with ``changes`` (field names of this class; an unknown name is a TypeError)."""
        return dataclasses.replace(self, **changes) if changes else self

    @classmethod
    def of(cls, shop: HttpOptions | str, **changes: Any) -> HttpOptions:
        """``shop`` as options: a URL becomes ``HttpOptions(base_url=shop)``; ``changes`` are applied on top.

        This is what keeps the older call form ``Client(url, key, timeout=5, max_retries=0)`` working.
        """
        options = shop if isinstance(shop, HttpOptions) else cls(base_url=shop)
        return options.replace(**changes)

    @classmethod
    def for_integration(cls, integration: Any, **changes: Any) -> HttpOptions:
        """Options for a stored integration: its URL, and its TLS settings and API version from its settings."""
        from ecom_pipeline.platforms.connect import verify_from_settings

        settings = integration.settings or {}
        return cls(
            base_url=integration.base_url,
            api_version=settings.get("api_version") or None,
            verify=verify_from_settings(settings),
        ).replace(**changes)

    @classmethod
    def from_connect_args(cls, args: Any, **changes: Any) -> tuple[HttpOptions, dict[str, Any]]:
        """Options for ``connect`` (``--url``, ``--ca-bundle``/``--insecure``, ``--timeout``, ``--api-version``)
        and the settings to store with the integration (TLS choice and API version)."""
        from ecom_pipeline.platforms.connect import tls_settings

        verify, settings = tls_settings(args)
        api_version = getattr(args, "api_version", None)
        if api_version:
            settings["api_version"] = api_version
        options = cls(base_url=args.url.rstrip("/"), api_version=api_version, verify=verify, timeout=args.timeout)
        return options.replace(**changes), settings


@dataclass
class HttpStats:
    """Counters for run metadata. ``api_calls`` counts every HTTP attempt, retries included (that is what the
    shop's rate limit and our budget see)."""

    api_calls: int = 0
    retries: int = 0
    throttle_wait_s: float = 0.0  # slept because the shop asked (429 / Retry-After) or because of our pacing
    backoff_wait_s: float = 0.0  # slept backing off after 5xx / network errors
    bytes_received: int = 0

    def as_metadata(self) -> dict[str, float | int]:
        """Plain dict for Dagster ``MaterializeResult`` metadata / ``sync_runs``."""
        data = asdict(self)
        data["throttle_wait_s"] = round(self.throttle_wait_s, 3)
        data["backoff_wait_s"] = round(self.backoff_wait_s, 3)
        return data


@dataclass(frozen=True)
class ApiResponse:
    """A fully read, successful response. ``data`` is the parsed JSON body (None for an empty body)."""

    status: int
    headers: CaseInsensitiveDict[str]
    data: Any
    text: str
    url: str  # sanitized
    elapsed_s: float = 0.0
    links: dict[str, str] = field(default_factory=dict)  # rel -> sanitized URL, from the Link header

    def unexpected(
        self, platform: str, message: str, *, method: str = "GET", hint: str | None = None
    ) -> ShopResponseError:
        """The error for a successful answer whose body is not what the API documents, naming its URL and status
        (every client checks the shape of what it reads; this is the one way to say it is wrong)."""
        return ShopResponseError(message, platform=platform, method=method, url=self.url, status=self.status, hint=hint)


@dataclass(frozen=True)
class ErrorInfo:
    """What a platform's error body says, extracted by the platform (code/message/hint are platform wording)."""

    code: str | None = None
    message: str | None = None
    hint: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


ErrorParser = Callable[[int, Any, str], ErrorInfo]


def default_error_parser(status: int, body: Any, text: str) -> ErrorInfo:
    """Understands the common ``{"code": ..., "message": ...}`` and ``{"errors": ...}`` shapes."""
    if isinstance(body, dict):
        code = body.get("code")
        message = body.get("message")
        if message is None and "errors" in body:
            message = json.dumps(body["errors"])[:EXCERPT_CHARS]
        return ErrorInfo(code=str(code) if code is not None else None, message=message)
    return ErrorInfo(message=_excerpt(text) if text else None)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now)


def parse_link_header(value: str | None) -> dict[str, str]:
    """``<url>; rel="next", <url>; rel="prev"`` -> {"next": url, "prev": url}. WooCommerce joins rels in one line."""
    links: dict[str, str] = {}
    if not value:
        return links
    for part in value.split(","):
        section = part.strip()
        if not section.startswith("<") or ">" not in section:
            continue
        url, _, params = section[1:].partition(">")
        for param in params.split(";"):
            name, _, rel = param.strip().partition("=")
            if name.strip().lower() == "rel":
                for one in rel.strip().strip('"').split():
                    links[one] = url
    return links


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat[:EXCERPT_CHARS] + ("…" if len(flat) > EXCERPT_CHARS else "")


class _Retryable(Exception):
    """Internal: one attempt failed in a way worth retrying; carries the error to raise if we give up."""

    def __init__(self, error: ShopApiError, retry_after: float | None = None, throttled: bool = False) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after
        self.throttled = throttled


class HttpSession:
    """A requests.Session with the retry, pacing and budget policy every shop client shares.

    ``base_url`` is the API root; ``request`` accepts a path relative to it or an absolute URL. ``auth`` is any
    requests ``AuthBase``; it is applied at each attempt, so signatures with nonces are never replayed.
    ``secrets`` are literal strings scrubbed from every error text (the client passes its key and secret).
    """

    def __init__(
        self,
        base_url: str,
        *,
        platform: str,
        auth: requests.auth.AuthBase | None = None,
        options: HttpOptions | None = None,
        error_parser: ErrorParser = default_error_parser,
        secrets: tuple[str, ...] = (),
        session: requests.Session | None = None,
        **overrides: Any,
    ) -> None:
        """``base_url`` is the API root (not ``options.base_url``, the shop's address). ``overrides`` are
        :class:`HttpOptions` fields given one by one (``verify=``, ``timeout=``, ``max_retries=``...), the older
        call form that clients not yet on ``options`` use; they apply on top of ``options``."""
        options = (options or HttpOptions()).replace(**overrides)
        self.options = options
        self.base_url = base_url.rstrip("/")
        self.platform = platform
        self.verify = options.verify
        timeout = options.timeout
        self.timeout = timeout if isinstance(timeout, tuple) else (min(float(timeout), 10.0), float(timeout))
        self._no_retry = threading.local()  # see without_retries (set before max_retries: its setter is plain)
        self.max_retries = options.max_retries
        self.backoff_base_s = options.backoff_base_s
        self.max_backoff_s = options.max_backoff_s
        self.max_retry_after_s = options.max_retry_after_s
        self.request_budget = options.request_budget
        self.max_requests_per_second = options.max_requests_per_second
        self._sleep = options.sleep
        self._clock = options.clock
        self._rng = options.rng
        self._error_parser = error_parser
        self._secrets = tuple(s for s in secrets if s)
        self._last_request_at: float | None = None
        self.stats = HttpStats()
        # Guards stats, the budget and the pacing clock: the session may be used by several threads (see above).
        self._lock = threading.Lock()
        self._session = session or pin_environment_proxies(requests.Session(), self.base_url)
        self._session.auth = auth
        self._session.headers["User-Agent"] = options.user_agent
        self._session.headers["Accept"] = "application/json"
        self._owner = threading.get_ident()
        self._local = threading.local()  # other threads' own requests.Session (see _thread_session)
        self._thread_sessions: list[requests.Session] = []

    def __repr__(self) -> str:  # never show auth
        return f"HttpSession(platform={self.platform!r}, base_url={sanitize_url(self.base_url)!r})"

    @property
    def max_retries(self) -> int:
        """Retries of a failed call made by the calling thread: 0 inside :meth:`without_retries`, else the
        configured count (what setting this attribute changes, for every thread)."""
        return 0 if getattr(self._no_retry, "on", False) else self._max_retries

    @max_retries.setter
    def max_retries(self, value: int) -> None:
        self._max_retries = value

    @contextmanager
    def without_retries(self) -> Iterator[None]:
        """No automatic retry for the calls this thread makes inside the block; other threads' calls keep theirs.

        For writes that must not be sent twice blindly (a create: a lost answer may hide the record the shop made;
        the caller looks up before sending again). Why not set ``max_retries`` to 0 and back: that switches every
        thread of the session at once, and two threads doing it at once can restore each other's 0, leaving the
        retries off for good. Why not a copy of the session with ``max_retries=0``: the copy paces on its own
        clock, so the session and its copy together could send up to twice ``max_requests_per_second``. Nests."""
        before = getattr(self._no_retry, "on", False)
        self._no_retry.on = True
        try:
            yield
        finally:
            self._no_retry.on = before

    def close(self) -> None:
        self._session.close()
        with self._lock:
            sessions, self._thread_sessions = self._thread_sessions, []
        for session in sessions:
            session.close()

    def _thread_session(self) -> requests.Session:
        """The ``requests.Session`` of the calling thread: the session itself in the thread that made it, else one
        of the thread's own, made like it (its class, auth, headers, proxies, the same adapters: their pools are
        shared)."""
        if threading.get_ident() == self._owner:
            return self._session
        own: requests.Session | None = getattr(self._local, "session", None)
        if own is None:
            # The same class: a client's session subclass may shape requests (PrestaShop's sends XML bodies).
            own = type(self._session)()
            own.auth = self._session.auth
            own.headers = CaseInsensitiveDict(self._session.headers)
            own.proxies = dict(self._session.proxies)
            own.trust_env = self._session.trust_env
            own.adapters = self._session.adapters  # the same connection pools (urllib3's are thread-safe)
            self._local.session = own
            with self._lock:
                self._thread_sessions.append(own)
        return own

    def url_for(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return f"{self.base_url}/{path_or_url.lstrip('/')}"

    # -- the retry loop -------------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        expect_json: bool = True,
    ) -> ApiResponse:
        """Send one logical request, retrying transient failures; return the parsed response or raise.

        Retried: 429/500/502/503/504, connection errors, timeouts, truncated bodies and truncated JSON. Not
        retried: other 4xx (the same request would fail the same way) and TLS verification failures.
        Writes (POST/PUT/DELETE) are retried too: the caller is responsible for idempotency (look up before
        create), as the export design requires anyway.
        """
        method = method.upper()
        url = self.url_for(path_or_url)
        encoded = _with_query(url, params)
        if encoded is not None:
            # Nothing secret in the URL: the query is encoded once, for the request and for errors and logs alike
            # (requests then has no parameters to encode: the same URL it would build).
            url, params, safe_url = encoded, None, encoded
        else:
            safe_url = self._safe_url(url, params)
        attempt = 0
        while True:
            self._spend_budget(method, safe_url)
            self._pace()
            try:
                return self._attempt(method, url, safe_url, params, json_body, headers, expect_json)
            except _Retryable as failure:
                # The shop's Retry-After travels with the error, for a caller that resends on its own.
                failure.error.retry_after = failure.retry_after
                if attempt >= self.max_retries:
                    raise failure.error from None
                wait = self._wait_before_retry(attempt, failure)
                if wait is None:  # Retry-After beyond what we accept to wait
                    raise failure.error from None
                attempt += 1
                with self._lock:
                    self.stats.retries += 1
                logger.warning(
                    "%s %s failed (%s); retry %d/%d in %.2fs",
                    method,
                    safe_url,
                    failure.error.code or failure.error.status or type(failure.error).__name__,
                    attempt,
                    self.max_retries,
                    wait,
                )
                self._sleep(wait)
                with self._lock:
                    if failure.throttled:
                        self.stats.throttle_wait_s += wait
                    else:
                        self.stats.backoff_wait_s += wait

    def _wait_before_retry(self, attempt: int, failure: _Retryable) -> float | None:
        if failure.retry_after is not None:
            if failure.retry_after > self.max_retry_after_s:
                return None
            return failure.retry_after
        # Full jitter (AWS architecture blog): spreads the retries of many workers hitting one shop.
        cap = min(self.max_backoff_s, self.backoff_base_s * (2**attempt))
        return self._rng() * cap

    def _spend_budget(self, method: str, safe_url: str) -> None:
        with self._lock:  # checked and spent at once: two threads cannot both take the last request
            if self.request_budget is not None and self.stats.api_calls >= self.request_budget:
                raise RequestBudgetExceeded(
                    f"the budget of {self.request_budget} requests for this run is spent",
                    platform=self.platform,
                    method=method,
                    url=safe_url,
                )
            self.stats.api_calls += 1

    def _pace(self) -> None:
        if not self.max_requests_per_second:
            return
        interval = 1.0 / self.max_requests_per_second
        with self._lock:  # each request takes the next free slot, so threads together keep the rate
            now = self._clock()
            slot = now if self._last_request_at is None else max(now, self._last_request_at + interval)
            self._last_request_at = slot
            wait = slot - now
            if wait > 0:
                self.stats.throttle_wait_s += wait
        if wait > 0:
            self._sleep(wait)

    def _attempt(
        self,
        method: str,
        url: str,
        safe_url: str,
        params: Mapping[str, Any] | None,
        json_body: Any,
        headers: Mapping[str, str] | None,
        expect_json: bool,
    ) -> ApiResponse:
        ctx: dict[str, Any] = {"platform": self.platform, "method": method, "url": safe_url}
        started = self._clock()
        try:
            response = self._send(self._thread_session(), method, url, params, json_body, headers)
        except requests.exceptions.SSLError as exc:
            raise ShopUnreachableError(
                f"TLS certificate verification failed ({self._scrub(exc)})",
                hint=(
                    "The shop's certificate is not trusted by this machine. Pass the CA bundle that signed it with "
                    "--ca-bundle (verify=<path>), or, for a local test shop only, --insecure (verify=False)."
                ),
                **ctx,
            ) from None
        except requests.exceptions.ChunkedEncodingError as exc:
            raise _Retryable(
                ShopResponseError(f"the response body was cut off ({self._scrub(exc)})", **ctx),
            ) from None
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            kind = "timed out" if isinstance(exc, requests.exceptions.Timeout) else "connection failed"
            raise _Retryable(ShopUnreachableError(f"{kind}: {self._scrub(exc)}", **ctx)) from None
        except requests.exceptions.InvalidURL as exc:
            raise ShopUnreachableError(
                f"invalid URL: {self._scrub(exc)}", hint="Check the shop URL (scheme, host, port).", **ctx
            ) from None
        except requests.exceptions.RequestException as exc:
            raise _Retryable(ShopUnreachableError(f"request failed: {self._scrub(exc)}", **ctx)) from None

        received = len(response.content)
        with self._lock:
            self.stats.bytes_received += received
        text = response.text
        status = response.status_code
        elapsed = self._clock() - started
        body, json_ok = _parse_json(text)

        if status >= 400:
            raise self._status_error(status, response.headers, body if json_ok else None, text, ctx)
        if 300 <= status < 400:
            raise self._redirect_error(status, url, response.headers.get("Location"), ctx)

        if not expect_json:
            return ApiResponse(status, response.headers, None, text, safe_url, elapsed, self._links(response))
        if not text.strip():
            if status == 204:
                return ApiResponse(status, response.headers, None, text, safe_url, elapsed, self._links(response))
            raise _Retryable(ShopResponseError("the shop answered with an empty body where JSON was expected", **ctx))
        if not json_ok:
            stripped = text.lstrip()
            if stripped[:1] in ("{", "["):
                # Starts like JSON but does not parse: most likely cut off by a proxy or a dying PHP worker.
                raise _Retryable(
                    ShopResponseError(f"truncated or malformed JSON body: {self._scrub(_excerpt(text))}", **ctx)
                )
            raise ShopResponseError(
                f"expected JSON but got {response.headers.get('Content-Type', 'no content type')}: "
                f"{self._scrub(_excerpt(text))}",
                status=status,
                **ctx,
            )
        return ApiResponse(status, response.headers, body, text, safe_url, elapsed, self._links(response))

    def _send(
        self,
        session: requests.Session,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        json_body: Any,
        headers: Mapping[str, str] | None,
    ) -> requests.Response:
        """One attempt through ``session``: what ``session.request(method, url, params=, json=, headers=,
        timeout=, verify=, allow_redirects=False)`` sends, with the session's own settings merged once.

        ``Session.request`` is ``prepare_request`` (merging the session's headers, parameters, auth, cookies and
        hooks into the request), ``merge_environment_settings`` (the session's proxies, stream, verify and cert) and
        ``send``. Its merges walk each setting through ``to_key_val_list``, whose ``isinstance`` checks against
        runtime protocols cost about 100 us a call, a tenth of a push's own CPU per call, for settings that are the
        same on every call of a session. When nothing of the session needs merging (:func:`_merges_nothing`: no
        parameters or response hooks of its own, the environment not read, its class not changing how requests are
        made), the request is prepared by requests' own ``PreparedRequest.prepare`` from the values those merges give
        (the session's headers, with the call's on top; its auth; its cookies) and sent by ``Session.send`` with the
        settings ``merge_environment_settings`` gives. Any other session goes through ``Session.request``. A test
        compares what the two send, header for header and byte for byte.
        """
        data: bytes | None = None
        if isinstance(json_body, RawBody):
            data = json_body.encode("utf-8")
            headers = {**(headers or {})}
            headers.setdefault("Content-Type", json_body.content_type)
            json_body = None
        if not _merges_nothing(session):
            return session.request(
                method,
                url,
                params=dict(params) if params else None,
                data=data,
                json=json_body,
                headers=dict(headers) if headers else None,
                timeout=self.timeout,
                verify=self.verify,
                # A redirect is named, never followed (see ShopRedirectError for what following it broke).
                allow_redirects=False,
            )
        prepared = requests.PreparedRequest()
        prepared.prepare(
            method=method.upper(),
            url=url,
            # Always merged: a session header set to None (requests' way to drop a default) is left out, as
            # Session.request leaves it out, where prepare_headers would refuse it.
            headers=_merged_headers(session.headers, headers or {}),
            data=data or {},
            json=json_body,
            # No parameters: an empty query string, which requests takes as it is, where an empty dict goes through
            # two runtime-protocol checks to encode nothing (the URL is the same; the query is usually in it
            # already: see request).
            params=dict(params) if params else "",
            auth=session.auth,
            cookies=merge_cookies(RequestsCookieJar(), session.cookies),
        )
        return session.send(
            prepared,
            timeout=self.timeout,
            allow_redirects=False,  # a redirect is named, never followed (see ShopRedirectError)
            proxies={key: value for key, value in session.proxies.items() if value is not None},
            stream=session.stream,
            verify=session.verify if self.verify is None else self.verify,
            cert=session.cert,
        )

    def _status_error(
        self, status: int, headers: Mapping[str, str], body: Any, text: str, ctx: dict[str, Any]
    ) -> Exception:
        info = self._error_parser(status, body, text)
        message = info.message or (f"HTTP {status}" if body is not None else _excerpt(text) or f"HTTP {status}")
        if body is None and text.strip() and not info.message:
            # A parser that read the body (PrestaShop's XML <errors>) keeps the shop's own words for the user.
            message = f"non-JSON error body: {_excerpt(text)}"
        message = self._scrub(message)
        kwargs: dict[str, Any] = {"status": status, "code": info.code, "details": info.details, **ctx}
        if info.hint:
            kwargs["hint"] = info.hint
        if status in RETRY_STATUSES:
            retry_after = (
                parse_retry_after(headers.get("Retry-After"), self._clock()) if status in RETRY_AFTER_STATUSES else None
            )
            if status == 429:
                error: ShopApiError = ShopRateLimitedError(message, **kwargs)
                if retry_after is not None and retry_after > self.max_retry_after_s:
                    error.hint = (
                        f"The shop asked us to wait {retry_after:.0f}s (more than the {self.max_retry_after_s:.0f}s "
                        f"we accept). {error.hint}"
                    )
                return _Retryable(error, retry_after=retry_after, throttled=True)
            return _Retryable(ShopServerError(message, **kwargs), retry_after=retry_after, throttled=False)
        if status in (401, 403):
            return ShopAuthError(message, **kwargs)
        if status in (404, 410):
            return ShopNotFoundError(message, **kwargs)
        if 400 <= status < 500:
            return ShopBadRequestError(message, **kwargs)
        return ShopServerError(message, **kwargs)

    def _redirect_error(self, status: int, url: str, location: str | None, ctx: dict[str, Any]) -> ShopApiError:
        if not location:
            return ShopResponseError(f"HTTP {status} redirect without a Location header", status=status, **ctx)
        target = sanitize_url(urljoin(url, location.strip())) or ""
        return ShopRedirectError(f"the shop redirects to {target}", status=status, details={"location": target}, **ctx)

    # -- helpers --------------------------------------------------------------------------------------------

    def _links(self, response: requests.Response) -> dict[str, str]:
        return {rel: sanitize_url(u) or u for rel, u in parse_link_header(response.headers.get("Link")).items()}

    def _safe_url(self, url: str, params: Mapping[str, Any] | None) -> str:
        """The URL as errors and logs show it (no credentials); see :func:`_with_query` for the common case."""
        encoded = _with_query(url, params)
        if encoded is not None:
            return encoded
        prepared = (requests.Request("GET", url, params=dict(params)).prepare().url or url) if params else url
        return sanitize_url(prepared) or prepared

    def _scrub(self, value: object) -> str:
        return redact_text(str(value), self._secrets)


class RawBody(str):
    """A request body sent as this text (UTF-8) with ``content_type`` (unless the call names its own), where the
    session otherwise sends ``json_body`` as JSON (PrestaShop's XML documents)."""

    content_type: str

    def __new__(cls, text: str, content_type: str) -> RawBody:
        body = super().__new__(cls, text)
        body.content_type = content_type
        return body


def _merged_headers(session_headers: Mapping[str, Any], headers: Mapping[str, Any]) -> CaseInsensitiveDict[Any]:
    """``requests.sessions.merge_setting(headers, session_headers, dict_class=CaseInsensitiveDict)``: the session's
    headers with the call's on top, a header set to None left out; without its ``to_key_val_list`` (two
    runtime-protocol checks a call: PrestaShop's XML calls each name their content type). A test compares them."""
    merged: CaseInsensitiveDict[Any] = CaseInsensitiveDict(session_headers)
    merged.update(headers)
    for key in [key for key, value in merged.items() if value is None]:
        del merged[key]
    return merged


def _merges_nothing(session: requests.Session) -> bool:
    """True when ``Session.request`` would merge nothing of ``session``'s into a call but its headers, auth,
    cookies, proxies, stream, verify and cert (see :meth:`HttpSession._send`): requests' own ``request``,
    ``prepare_request`` and ``merge_environment_settings``, no parameters or response hooks of the session's own,
    and the environment not read (``trust_env`` off: its proxies pinned by :func:`pin_environment_proxies`)."""
    kind = type(session)
    return (
        kind.request is requests.Session.request
        and kind.prepare_request is requests.Session.prepare_request
        and kind.merge_environment_settings is requests.Session.merge_environment_settings
        and not session.trust_env
        and not session.params
        and not any(session.hooks.values())
    )


def pin_environment_proxies(session: requests.Session, base_url: str) -> requests.Session:
    """``session`` with the environment's proxy settings for ``base_url`` resolved once.

    requests re-reads proxy settings from os.environ on every request (~1 ms each with a large environment: 5% of
    a sync, more of a push of small writes); a session that talks to one shop resolves them once instead.
    Proxies from the environment still apply."""
    session.proxies.update(requests.utils.get_environ_proxies(base_url))
    session.trust_env = False
    return session


def _with_query(url: str, params: Mapping[str, Any] | None) -> str | None:
    """``url`` with ``params`` encoded as requests encodes them, when neither carries anything ``sanitize_url``
    would strip (userinfo, a secret parameter) nor a query or fragment of its own; else None.

    Why: each call needs its URL twice, to send and to show in errors and logs; building a throwaway
    ``requests.Request`` for the second, and letting requests encode the parameters again for the first, were a
    tenth of a push's own CPU time. The string is the one ``sanitize_url`` gives for requests' own encoding."""
    if "?" in url or "@" in url or "#" in url:
        return None
    if not params:
        return url
    if any(_is_secret_param(str(k)) for k in params):
        return None
    query = _encode_query(params)
    return f"{url}?{query}" if query else url


def _encode_query(params: Mapping[str, Any]) -> str:
    """``params`` as requests encodes them: a list or tuple value repeats its key, None values are left out."""
    pairs: list[tuple[Any, Any]] = []
    for key, value in params.items():
        for item in value if isinstance(value, (list, tuple)) else (value,):
            if item is not None:
                pairs.append((key, item))
    return urlencode(pairs)


def _parse_json(text: str) -> tuple[Any, bool]:
    if not text.strip():
        return None, False
    try:
        return jsoncodec.loads(text), True
    except ValueError:
        return None, False


__all__ = [
    "BACKOFF_BASE_ENV",
    "USER_AGENT",
    "ApiResponse",
    "ErrorInfo",
    "ErrorParser",
    "HttpOptions",
    "HttpSession",
    "HttpStats",
    "RawBody",
    "default_error_parser",
    "parse_link_header",
    "parse_retry_after",
    "pin_environment_proxies",
]


class ShopClient:
    """What every platform client shares: its ``HttpSession`` in ``self.http``, closing, ``with``, and stats.

    Platform clients subclass it and add their API; a client whose stats hold more than the HTTP layer's (Shopify's
    cost governor) overrides ``stats``.
    """

    http: HttpSession

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    @property
    def stats(self) -> HttpStats:
        return self.http.stats
