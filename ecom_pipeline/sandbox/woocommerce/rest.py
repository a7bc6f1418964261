"""Shared pieces of the emulated wc/v3 REST layer: replies, parameter validation, PHP-style JSON.

Kept apart from :mod:`api` so that every route family (products, orders, taxonomies, coupons, notes, refunds)
validates and answers the same way WordPress does.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ecom_pipeline.sandbox.woocommerce.errors import StoreError

API_PREFIX = "/wp-json/wc/v3"
COLLECTION_ALLOW = "GET, POST"
ITEM_ALLOW = "GET, POST, PUT, PATCH, DELETE"
BATCH_ALLOW = "POST, PUT, PATCH"
PRODUCT_ORDERBY = [
    "date",
    "id",
    "include",
    "title",
    "slug",
    "modified",
    "popularity",
    "rating",
    "post__in",
    "price",
    "sales",
    "menu_order",
    "random",
    "popularity",
    "rating",
    "menu_order",
    "price",
    "popularity",
    "rating",
]
ORDER_ORDERBY = ["date", "id", "include", "title", "slug", "modified"]
CUSTOMER_ORDERBY = ["id", "include", "name", "registered_date"]
# The roles of a WordPress site with WooCommerce (the customers endpoint's ``role`` enum is these, ``all`` and any
# role a plugin added, which the emulator takes from its users).
WP_ROLES = ("administrator", "editor", "author", "contributor", "subscriber", "customer", "shop_manager")
PRODUCT_STATUS = ["any", "future", "trash", "draft", "pending", "private", "publish"]
ORDER_STATUS = [
    "any",
    "trash",
    "auto-draft",
    "pending",
    "processing",
    "on-hold",
    "completed",
    "cancelled",
    "refunded",
    "failed",
    "checkout-draft",
]
DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|z|[+-]\d{2}(:?\d{2})?)?$")
BATCH_LIMIT = 100


def php_json(value: Any) -> bytes:
    """JSON as WordPress sends it: compact, ASCII with \\uXXXX escapes, slashes escaped."""
    return json.dumps(value, ensure_ascii=True, separators=(",", ":")).replace("/", "\\/").encode()


def wp_list(items: list[str]) -> str:
    """WordPress's human list: "a, b, and c" (two items: "a and b")."""
    if len(items) == 1:
        return items[0]
    if len(items) == 2:
        return f"{items[0]} and {items[1]}"
    return ", ".join(items[:-1]) + f", and {items[-1]}"


@dataclass
class Reply:
    """A response before encoding: status, JSON body and extra headers (in wire order)."""

    status: int
    body: Any
    headers: list[tuple[str, str]] = field(default_factory=list)
    allow: str | None = None


class ParamErrors:
    """Collects per-parameter validation errors into one 400 ``rest_invalid_param``."""

    def __init__(self) -> None:
        self.params: dict[str, str] = {}
        self.details: dict[str, Any] = {}

    def add(self, name: str, code: str, message: str, data: Any = None) -> None:
        self.params[name] = message
        self.details[name] = {"code": code, "message": message, "data": data}

    def raise_if_any(self) -> None:
        if self.params:
            raise StoreError(
                400,
                "rest_invalid_param",
                f"Invalid parameter(s): {', '.join(self.params)}",
                params=self.params,
                details=self.details,
            )


def parse_wp_date(value: str, gmt: bool, tz: Any) -> int | None:
    """Epoch seconds for a ``modified_after``-style value; None when WordPress would say "Invalid date."."""
    m = DATE_RE.match(value)
    if not m:
        return None
    try:
        year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
        naive = datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None
    offset = m.group(8)
    if offset:
        stamp = datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00").replace(" ", "T"))
        return int(stamp.timestamp())
    return int(naive.replace(tzinfo=UTC if gmt else tz).timestamp())


class Validator:
    """Validates query parameters against the wc/v3 schema subset we emulate."""

    def __init__(self, query: dict[str, str]) -> None:
        self.query = query
        self.errors = ParamErrors()

    def integer(self, name: str, default: int, minimum: int | None = None, maximum: int | None = None) -> int:
        raw = self.query.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            self.errors.add(name, "rest_invalid_type", f"{name} is not of type integer.", {"param": name})
            return default
        if minimum is not None and maximum is not None and not minimum <= value <= maximum:
            self.errors.add(
                name, "rest_out_of_bounds", f"{name} must be between {minimum} (inclusive) and {maximum} (inclusive)"
            )
            return default
        if minimum is not None and value < minimum:
            self.errors.add(name, "rest_out_of_bounds", f"{name} must be greater than or equal to {minimum}")
            return default
        return value

    def enum(self, name: str, allowed: list[str], default: str) -> str:
        raw = self.query.get(name)
        if raw is None:
            return default
        if raw not in allowed:
            self.errors.add(name, "rest_not_in_enum", f"{name} is not one of {wp_list(allowed)}.")
            return default
        return raw

    def enum_list(self, name: str, allowed: list[str], default: list[str]) -> list[str]:
        raw = self.query.get(name)
        if raw is None:
            return default
        values = [v.strip() for v in raw.split(",") if v.strip()] if raw else []
        for i, value in enumerate(values):
            if value not in allowed:
                self.errors.add(name, "rest_not_in_enum", f"{name}[{i}] is not one of {wp_list(allowed)}.")
                return default
        return values

    def boolean(self, name: str, default: bool = False) -> bool:
        raw = self.query.get(name)
        if raw is None:
            return default
        low = raw.lower()
        if low in ("true", "1"):
            return True
        if low in ("false", "0", ""):
            return False
        self.errors.add(name, "rest_invalid_type", f"{name} is not of type boolean.", {"param": name})
        return default

    def int_list(self, name: str) -> list[int] | None:
        raw = self.query.get(name)
        if raw is None or raw == "":
            return None
        out = []
        for i, part in enumerate(raw.split(",")):
            try:
                out.append(int(part))
            except ValueError:
                self.errors.add(
                    name, "rest_invalid_type", f"{name}[{i}] is not of type integer.", {"param": f"{name}[{i}]"}
                )
                return None
        return out

    def date(self, name: str, gmt: bool, tz: Any) -> int | None:
        raw = self.query.get(name)
        if raw is None:
            return None
        value = parse_wp_date(raw, gmt, tz)
        if value is None:
            self.errors.add(name, "rest_invalid_date", "Invalid date.")
        return value


def update_of_unknown_is_400(fn: Any) -> Any:
    """Run an update; WooCommerce's update handlers answer an unknown id with 400, not the 404 of a read."""
    try:
        return fn()
    except StoreError as exc:
        if exc.status == 404 and exc.code.endswith("invalid_id"):
            raise StoreError(400, exc.code, exc.message) from exc
        raise
