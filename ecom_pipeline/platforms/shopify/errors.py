"""Shopify's error shapes mapped onto the shared ``ShopApiError`` hierarchy.

Shopify fails in two layers: HTTP statuses with a ``{"errors": ...}`` body (401 bad token, 402 unpaid shop, 403 scope,
423 locked shop, 5xx) and, with HTTP 200, GraphQL ``errors`` (THROTTLED, ACCESS_DENIED, syntax, max cost) or mutation
``userErrors``. Callers decide from the class (re-authenticate, wait, fix the query), never from Shopify's wording,
so every shape becomes one subclass here with a hint that says what to do.
"""

from __future__ import annotations

import json
from typing import Any

from ecom_pipeline.platforms.errors import (
    ShopApiError,
    ShopAuthError,
    ShopBadRequestError,
    ShopRateLimitedError,
    ShopResponseError,
)
from ecom_pipeline.platforms.http import EXCERPT_CHARS, ErrorInfo

PLATFORM = "shopify"

TOKEN_HINT = (
    "Shopify refused the Admin API access token: it was revoked (the app was uninstalled), it expired "
    "(client-credentials tokens last 24 h and are renewed automatically when a client id/secret is stored), or it "
    "belongs to another shop. Reconnect with `ecom-pipeline connect shopify --url https://<shop>.myshopify.com "
    "--access-token shpat_...` (or --client-id/--client-secret for a custom app)."
)
SCOPE_HINT = (
    "The app lacks an access scope this call needs. Add the scope (e.g. read_products, read_orders, read_inventory, "
    "read_customers, read_locations, read_all_orders) to the app configuration, re-install or re-authorize it, "
    "then reconnect the shop."
)


class ShopifyGraphQLError(ShopBadRequestError):
    """HTTP 200 with GraphQL ``errors`` other than throttling: a query bug, an unknown field, a cost above 1,000."""

    kind = "Shopify rejected the GraphQL query"
    default_hint = (
        "The query was refused by the Admin API (see the message); check the pinned API version (settings "
        "api_version) supports every field, or report it as a bug."
    )


class ShopifyAccessDeniedError(ShopAuthError):
    """GraphQL ``ACCESS_DENIED`` (or HTTP 403): the token is valid but lacks a scope."""

    kind = "Shopify denied access"
    default_hint = SCOPE_HINT


class ShopifyThrottledError(ShopRateLimitedError):
    """THROTTLED after every retry: the cost bucket never refilled enough (another app may be draining it)."""

    kind = "Shopify kept throttling the query"
    default_hint = (
        "Another app may share this shop's query-cost bucket; lower the page size (settings products_page_size) "
        "or run the sync when the shop is quieter. The run can simply be retried."
    )


class ShopifyUserError(ShopBadRequestError):
    """A mutation answered ``userErrors``: Shopify refused the input itself."""

    kind = "Shopify refused the mutation"


class ShopifyBulkOperationError(ShopApiError):
    """A bulk operation ended FAILED, EXPIRED or CANCELED, or its result could not be read."""

    kind = "The Shopify bulk operation failed"
    default_hint = (
        "Retry the run; if it keeps failing set settings bulk_fallback='paginate' (the default) so full syncs fall "
        "back to paginated queries, or lower bulk_threshold to avoid bulk for this shop."
    )


class ShopifyBulkInProgressError(ShopifyBulkOperationError):
    """Another bulk query of this app is running on the shop (one at a time per app and shop)."""

    kind = "A Shopify bulk operation is already running"
    default_hint = (
        "Wait for it to finish, or set settings bulk_in_progress='cancel' to cancel it before starting ours "
        "(only if nothing else of this app needs its result)."
    )


def _message_of(errors: Any) -> str:
    if isinstance(errors, str):
        return errors
    if isinstance(errors, list):
        parts = [str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors]
        return "; ".join(parts)
    if isinstance(errors, dict):
        # field-keyed 422: {"line_items": ["must have at least one line item"]}
        return "; ".join(
            f"{field}: {', '.join(map(str, msgs)) if isinstance(msgs, list) else msgs}"
            for field, msgs in errors.items()
        )
    return json.dumps(errors)[:EXCERPT_CHARS]


def shopify_error_parser(status: int, body: Any, text: str) -> ErrorInfo:
    """``{"errors": "..."}`` / ``{"errors": [...]}`` / ``{"errors": {field: [...]}}`` -> message and a hint."""
    if not isinstance(body, dict) or "errors" not in body:
        return ErrorInfo(message=None)
    message = _message_of(body["errors"])
    hint: str | None = None
    if status == 401:
        hint = TOKEN_HINT
    elif status == 403:
        hint = SCOPE_HINT
    elif status == 402:
        hint = "The shop is frozen or its plan lacks this feature (Payment Required): the merchant must settle it."
    elif status == 423:
        hint = "The shop is locked (e.g. for fraud review); nothing can be synced until Shopify unlocks it."
    elif status == 404:
        hint = (
            "Check the shop URL (https://<shop>.myshopify.com) and the API version (settings api_version): an "
            "unsupported version answers 404."
        )
    details = {"errors": body["errors"]} if isinstance(body["errors"], dict | list) else {}
    return ErrorInfo(code=str(status), message=message, hint=hint, details=details)


def error_codes(errors: list[Any]) -> list[str]:
    """The ``extensions.code`` of each GraphQL error ("THROTTLED", "ACCESS_DENIED", ...), "" when absent."""
    codes = []
    for error in errors:
        ext = error.get("extensions") if isinstance(error, dict) else None
        codes.append(str(ext.get("code") or "") if isinstance(ext, dict) else "")
    return codes


def graphql_error(errors: list[Any], *, url: str, operation: str | None) -> ShopApiError:
    """The exception for a response whose ``errors`` are not (only) THROTTLED."""
    message = _message_of(errors)
    codes = [c for c in error_codes(errors) if c]
    code = codes[0] if codes else None
    ctx: dict[str, Any] = {"platform": PLATFORM, "method": "POST", "url": url, "code": code, "status": 200}
    details = {"errors": errors[:5], "operation": operation}
    if code == "ACCESS_DENIED":
        return ShopifyAccessDeniedError(message, details=details, **ctx)
    if code == "MAX_COST_EXCEEDED":
        return ShopifyGraphQLError(
            message,
            hint="The query asks for more than 1,000 cost points; lower the page size (settings products_page_size).",
            details=details,
            **ctx,
        )
    if code in ("INTERNAL_SERVER_ERROR",):
        return ShopResponseError(message, details=details, **ctx)
    return ShopifyGraphQLError(message, details=details, **ctx)


def user_errors_error(user_errors: list[Any], *, url: str, operation: str) -> ShopifyUserError:
    """The exception for a mutation's ``userErrors`` (field paths and codes kept in details)."""
    parts = []
    for error in user_errors:
        if isinstance(error, dict):
            field = ".".join(str(f) for f in error.get("field") or [])
            parts.append(f"{field}: {error.get('message')}" if field else str(error.get("message")))
    code = next((str(e.get("code")) for e in user_errors if isinstance(e, dict) and e.get("code")), None)
    return ShopifyUserError(
        "; ".join(parts) or "userErrors",
        platform=PLATFORM,
        method="POST",
        url=url,
        status=200,
        code=code,
        details={"userErrors": user_errors, "operation": operation},
    )


__all__ = [
    "SCOPE_HINT",
    "TOKEN_HINT",
    "ShopifyAccessDeniedError",
    "ShopifyBulkInProgressError",
    "ShopifyBulkOperationError",
    "ShopifyGraphQLError",
    "ShopifyThrottledError",
    "ShopifyUserError",
    "error_codes",
    "graphql_error",
    "shopify_error_parser",
    "user_errors_error",
]
