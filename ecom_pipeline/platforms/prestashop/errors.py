"""PrestaShop webservice errors as ``ShopApiError`` subclasses, each with what to do about it.

The webservice answers errors as ``{"errors": [{"code": N, "message": "..."}]}`` (JSON) or ``<errors><error>``
(XML), and in a few forms without a body at all. The codes below are the ones the recorded 8.2.1 store produced
(fixtures/recorded/prestashop-8.2.1); the class is chosen by code, not by HTTP status, because PHP 8 warnings
(code 3) appended after a real error turn a 400 into a 500.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from ecom_pipeline.platforms.errors import (
    ShopApiError,
    ShopAuthError,
    ShopBadRequestError,
    ShopNotFoundError,
    ShopServerError,
)

PHP_WARNING_CODE = "3"


class PrestaShopAuthError(ShopAuthError):
    """401 codes 20/21: the key does not exist, is disabled, or has no permission at all."""

    kind = "PrestaShop refused the webservice key"
    default_hint = (
        "Check the key under Advanced Parameters > Webservice in the PrestaShop back office: it must exist, be "
        "enabled (Status: yes) and have GET permission on products, combinations, stock_availables, orders, "
        "order_states, customers; then reconnect with `ecom-pipeline connect prestashop --api-key ...`."
    )


class PrestaShopNoCredentialsError(ShopAuthError):
    """401 text/html "401 Unauthorized": the shop saw no key at all."""

    kind = "PrestaShop received no webservice key"
    default_hint = (
        "The Authorization header did not reach PrestaShop. Behind Apache with PHP-CGI/FPM the header is dropped "
        "unless the shop's .htaccess passes HTTP_AUTHORIZATION through (regenerate it from Preferences > SEO & "
        "URLs); a proxy may also strip it. Check the URL is the shop root (the webservice lives at /api/)."
    )


class PrestaShopPermissionError(ShopAuthError):
    """401 code 26: the key is valid but may not use this resource."""

    kind = "The PrestaShop key may not use this resource"
    default_hint = (
        "Tick GET (View) for this resource on the key under Advanced Parameters > Webservice, save, and rerun."
    )


class PrestaShopUnknownResourceError(ShopBadRequestError):
    """400 code 27: the resource name does not exist on this shop (version or module missing)."""

    kind = "PrestaShop does not know this resource"
    default_hint = "This shop's PrestaShop version or modules lack the resource; report it with the shop version."


class PrestaShopBadParameterError(ShopBadRequestError):
    """Codes 32-37 (bad display, filter, sort, limit), sent as HTTP 500 by PHP 8 because warnings follow."""

    kind = "PrestaShop rejected a query parameter"
    default_hint = (
        "A display/filter/sort field is not available on this shop version; this is a bug in the client or an "
        "unsupported PrestaShop version: report it (the HTTP 500 comes from PHP warnings appended to the error)."
    )


class PrestaShopNotFoundError(ShopNotFoundError):
    """404 with an empty body: the id does not exist (deleted, or never existed)."""

    kind = "Not found in PrestaShop"
    default_hint = (
        "The record was deleted in the shop (PrestaShop answers 404 with an empty body for unknown ids); if every "
        "call fails this way, check that the URL is the shop root and that the webservice is enabled."
    )


class PrestaShopApiRewriteMissingError(ShopNotFoundError):
    """A LIST answered 404: the web server does not route ``/api/...`` to the webservice (no rewrite rule)."""

    kind = "The PrestaShop webservice is not reachable at /api/"
    default_hint = (
        "The /api rewrite is missing: enable friendly URLs (Shop Parameters > Traffic & SEO > Friendly URL: yes) "
        "so PrestaShop writes its .htaccess rule, or check .htaccess / the nginx rule that sends /api/ to "
        "webservice/dispatcher.php. Check that the URL given is the shop root."
    )


class PrestaShopJsonIndexError(ShopServerError):
    """GET /api/?output_format=JSON answers 500 with an empty body (upstream PrestaShop#34794)."""

    kind = "PrestaShop cannot list its resources as JSON"
    default_hint = "Known PrestaShop 8 bug (#34794): read the resource index as XML (the client does)."


class PrestaShopWebserviceDisabledError(ShopAuthError):
    """Code 22: the webservice is switched off for the whole shop."""

    kind = "The PrestaShop webservice is disabled"
    default_hint = "Enable it under Advanced Parameters > Webservice (Enable PrestaShop's webservice: yes)."


_BY_CODE: dict[str, type[ShopApiError]] = {
    "20": PrestaShopAuthError,
    "21": PrestaShopAuthError,
    "22": PrestaShopWebserviceDisabledError,
    "26": PrestaShopPermissionError,
    "27": PrestaShopUnknownResourceError,
    **{str(code): PrestaShopBadParameterError for code in range(30, 40)},
}


def _state(err: ShopApiError) -> dict[str, Any]:
    return {
        "platform": err.platform,
        "method": err.method,
        "url": err.url,
        "status": err.status,
        "code": err.code,
        "details": err.details,
    }


def _is_json_index(url: str | None) -> bool:
    parts = urlsplit(url or "")
    return parts.path.rstrip("/").endswith("/api") and "output_format=JSON" in parts.query


def specialize(err: ShopApiError) -> ShopApiError:
    """The PrestaShop subclass for a generic error from the shared HTTP layer (the same error if none fits)."""
    if type(err) is not ShopApiError and type(err).__module__ == __name__:
        return err
    cls: type[ShopApiError] | None = _BY_CODE.get(err.code or "")
    if cls is None:
        if err.status == 401 and isinstance(err, ShopAuthError):
            cls = PrestaShopNoCredentialsError
        elif err.status == 404 and isinstance(err, ShopNotFoundError):
            cls = PrestaShopNotFoundError
        elif err.status == 500 and _is_json_index(err.url):
            cls = PrestaShopJsonIndexError
    if cls is None:
        return err
    message = err.message
    if cls is PrestaShopNotFoundError and message.startswith("HTTP 404"):
        message = "no such record (HTTP 404 with an empty body)"
    return cls(message, **_state(err))


__all__ = [
    "PHP_WARNING_CODE",
    "PrestaShopApiRewriteMissingError",
    "PrestaShopAuthError",
    "PrestaShopBadParameterError",
    "PrestaShopJsonIndexError",
    "PrestaShopNoCredentialsError",
    "PrestaShopNotFoundError",
    "PrestaShopPermissionError",
    "PrestaShopUnknownResourceError",
    "PrestaShopWebserviceDisabledError",
    "specialize",
]
