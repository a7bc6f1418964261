"""``HttpSession`` prepares a call from its session's settings merged once, and sends it through ``Session.send``,
instead of ``Session.request`` re-merging the same settings on every call (platforms/http.py, ``_send``).

What it must keep: exactly what ``Session.request`` sends (method, request line, every header in order, body, the
cookies the shop set, a proxy from the environment) and the same send options (timeout, verify, proxies, stream,
cert, no redirect followed). A real HTTP server on 127.0.0.1 echoes each request as it received it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from requests.auth import HTTPBasicAuth

from ecom_pipeline.platforms.http import HttpOptions, HttpSession, RawBody, pin_environment_proxies
from ecom_pipeline_tests.local_http import QuietHandler, serving


class _Echo(QuietHandler):
    def _echo(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8") if length else ""
        answer = {"line": self.requestline, "headers": list(self.headers.items()), "body": body}
        self.send_response(200)
        if self.path.rstrip("/").endswith("/login"):
            self.send_header("Set-Cookie", "session=abc123; Path=/")
        data = json.dumps(answer).encode()
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _echo


@pytest.fixture
def server() -> Iterator[str]:
    with serving(_Echo) as url:
        yield url


class _Recording(requests.Session):
    """Records the options each call is sent with (``send`` is the step both ways of sending share)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[dict[str, Any]] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.sent.append(dict(kwargs))
        return super().send(request, **kwargs)


class _ThroughRequest(_Recording):
    """A session class with its own ``request``: sent through ``Session.request`` as before."""

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        return super().request(*args, **kwargs)


CALLS: list[dict[str, Any]] = [
    {"method": "POST", "path": "login", "json_body": {"user": "u"}},
    {"method": "GET", "path": "products", "params": {"per_page": 100, "include": [1, 2], "skip": None}},
    {"method": "GET", "path": "products", "params": {"consumer_secret": "s3cret", "page": 2}},
    {"method": "POST", "path": "products/7/variations/batch", "json_body": {"update": [{"id": 1, "price": "9.50"}]}},
    {"method": "PUT", "path": "combinations/3", "json_body": RawBody("<prestashop><a>é</a></prestashop>", "text/xml")},
    {"method": "PUT", "path": "combinations/4", "json_body": RawBody("<x/>", "text/xml"), "headers": {"X-A": "1"}},
    {"method": "DELETE", "path": "products/9", "headers": {"Accept": "text/xml", "X-Trace": "t"}},
    {"method": "get", "path": "http://{host}/other/absolute?x=1"},
]


def _run(url: str, session: _Recording, **options: Any) -> tuple[list[Any], list[dict[str, Any]]]:
    http = HttpSession(
        url + "/api",
        platform="test",
        auth=HTTPBasicAuth("key", ""),
        options=HttpOptions(max_retries=0, timeout=7.0, **options),
        session=pin_environment_proxies(session, url),
    )
    host = url.split("://", 1)[1]
    echoed = []
    for call in CALLS:
        kwargs = {k: v for k, v in call.items() if k not in ("method", "path")}
        echoed.append(http.request(call["method"], call["path"].format(host=host), **kwargs).data)
    return echoed, session.sent


def test_a_prepared_call_sends_what_session_request_sends(server: str) -> None:
    """Prevents the merged-once preparation from dropping or changing anything ``Session.request`` sends: headers
    (order included), bodies, the query, auth, a cookie the shop set, and the send options."""
    fast = _run(server, _Recording())
    slow = _run(server, _ThroughRequest())
    assert fast == slow
    assert ["Cookie", "session=abc123"] in fast[0][1]["headers"]  # the shop's cookie sent back, as requests does
    assert fast[1][0] == {"timeout": (7.0, 7.0), "allow_redirects": False, "proxies": {}, "stream": False,
                          "verify": True, "cert": None}  # fmt: skip


def test_verify_given_as_a_ca_bundle_or_off_is_sent_as_given(server: str) -> None:
    for verify in ("/etc/ssl/certs/ca-certificates.crt", False):
        fast = _run(server, _Recording(), verify=verify)
        slow = _run(server, _ThroughRequest(), verify=verify)
        assert fast == slow
        assert {options["verify"] for options in fast[1]} == {verify}


def test_a_proxy_from_the_environment_is_used_as_session_request_uses_it(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The proxies pinned from the environment at creation (``pin_environment_proxies``) still carry the calls: the
    echo server plays the proxy, so it sees the absolute URL of the shop in the request line."""
    monkeypatch.setenv("HTTP_PROXY", server)
    monkeypatch.setenv("NO_PROXY", "")
    monkeypatch.delenv("no_proxy", raising=False)
    shop = "http://shop.invalid"
    results = []
    for session in (_Recording(), _ThroughRequest()):
        http = HttpSession(
            shop + "/api",
            platform="test",
            options=HttpOptions(max_retries=0),
            session=pin_environment_proxies(session, shop),
        )
        answer = http.request("GET", "products", params={"page": 1}).data
        results.append((answer["line"], session.sent))
    assert results[0] == results[1]
    assert results[0][0] == "GET http://shop.invalid/api/products?page=1 HTTP/1.1"
    assert results[0][1][0]["proxies"] == {"http": server}


def test_a_plain_session_is_not_merged_again_on_every_call(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Prevents the per-call merging coming back (100 us of a push's ~1.4 ms of CPU per call): a client's plain
    session prepares no call through ``Session.prepare_request``; a session class with its own ``request`` still
    goes through it."""
    merged = []
    prepare_request = requests.Session.prepare_request

    def counting(self: requests.Session, request: requests.Request) -> requests.PreparedRequest:
        merged.append(request.url)
        return prepare_request(self, request)

    monkeypatch.setattr(requests.Session, "prepare_request", counting)
    _run(server, _Recording())
    assert merged == []
    _run(server, _ThroughRequest())
    assert len(merged) == len(CALLS)


@pytest.mark.parametrize(
    "headers",
    [{"Content-Type": "text/xml"}, {"accept": "text/xml", "X-A": "1"}, {"User-Agent": None}, {"X-None": None}, {}],
)
def test_the_call_headers_merge_as_requests_merges_them(headers: dict[str, Any]) -> None:
    from requests.sessions import merge_setting
    from requests.structures import CaseInsensitiveDict

    from ecom_pipeline.platforms.http import _merged_headers

    session = requests.Session()
    session.headers["Accept"] = "application/json"
    before = list(session.headers.items())
    expected = merge_setting(headers, session.headers, dict_class=CaseInsensitiveDict)
    merged = _merged_headers(session.headers, headers)
    assert list(merged.items()) == list(expected.items())  # the same headers, names and order
    assert list(session.headers.items()) == before  # the session's own are left as they were


def test_a_session_header_set_to_none_is_left_out_as_session_request_leaves_it(server: str) -> None:
    """Prevents the prepared path from handing a session header set to None (requests' way to drop a default header)
    to prepare_headers, which refuses it, on a call with no headers of its own (review 5)."""
    session = pin_environment_proxies(requests.Session(), server)
    session.headers["Accept-Encoding"] = None  # type: ignore[assignment]
    http = HttpSession(server, platform="test", options=HttpOptions(max_retries=0), session=session)
    http.request("GET", "echo")
