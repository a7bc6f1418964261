"""Per-integration sync settings: direction, field policies, which products a shop lists, its price rule, and
(Shopify) the size above which a push goes as a bulk mutation and whether custom collections are its categories.

They live in ``integrations.settings`` (JSON) under the keys below, so no migration is needed and an integration
connected before they existed reads as ``pull`` with the default policies: nothing changes for current users
until they opt in. Parsing is strict and every error names the setting, the value and what is accepted, because
these come from a terminal.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from ecom_pipeline.sync.merge import POLICY_FIELDS, Direction, Policy

DIRECTION_KEY = "sync_direction"
POLICIES_KEY = "field_policies"
INCLUDE_KEY = "listing_include"
EXCLUDE_KEY = "listing_exclude"
PRICE_RULE_KEY = "price_rule"
BULK_THRESHOLD_KEY = "bulk_mutation_threshold"
PUSH_CONCURRENCY_KEY = "push_concurrency"
SHOPIFY_COLLECTIONS_KEY = "shopify_collections"
# The merchant's settings (``integration set``), which ``connect`` carries over when a shop is connected again.
SETTING_KEYS = (
    DIRECTION_KEY, POLICIES_KEY, INCLUDE_KEY, EXCLUDE_KEY, PRICE_RULE_KEY, BULK_THRESHOLD_KEY, PUSH_CONCURRENCY_KEY,
    SHOPIFY_COLLECTIONS_KEY,
)  # fmt: skip
# Write calls a push keeps in flight at once (1: each waits for the previous answer); the WooCommerce and
# PrestaShop writers send them concurrently (docs/two-way-sync.md, "Push concurrency"). At most 8: more would only
# load the shop, and requests pools 10 connections per host (the writer's main thread makes calls too).
PUSH_CONCURRENCY_PLATFORMS = ("woocommerce", "prestashop")
DEFAULT_PUSH_CONCURRENCY = 4
MAX_PUSH_CONCURRENCY = 8
# Only Shopify has bulk mutations; elsewhere the setting would be stored and silently do nothing.
BULK_THRESHOLD_PLATFORMS = ("shopify",)
# Shopify custom collections as the hub categories of Shopify products (docs/two-way-sync.md, "Shopify categories"):
# opt-in, off by default, because turning it on changes what a shop already synced means (its products' categories
# come from their collections, and the push replaces their custom-collection membership).
SHOPIFY_COLLECTIONS_PLATFORMS = ("shopify",)
_ON = ("on", "true", "yes", "1")
_OFF = ("off", "false", "no", "0")

# What an integration without a stored direction does: pull only, exactly what the project did before.
DEFAULT_DIRECTION = Direction.PULL
# The briefs' rule (last write wins) for content; the SKU is the cross-shop key, so two different SKU edits are
# held for a person rather than letting a timestamp re-key a variant across every shop. Shopify's vendor and product
# type (``SHOPIFY_PRODUCT_FIELDS``) are content like the title: newest.
DEFAULT_POLICIES: dict[str, Policy] = {name: Policy.NEWEST for name in POLICY_FIELDS} | {"sku": Policy.MANUAL}
# Listing rules: KIND:GLOB, matched case-insensitively against the product's handle, a variant's SKU, a tag, a
# category or the product type (the kind, or Shopify's own product type), or (``vendor``) the vendor.
RULE_KINDS = ("handle", "sku", "tag", "category", "type", "vendor")


class SettingsError(ValueError):
    """A sync setting that cannot be used; the message says which and what is accepted."""


def parse_direction(value: str) -> Direction:
    try:
        return Direction(value)
    except ValueError:
        raise SettingsError(
            f"unknown sync direction {value!r}: use one of {', '.join(d.value for d in Direction)}"
        ) from None


def parse_policy(text: str) -> tuple[str, Policy]:
    """``field=policy`` (e.g. ``price=hub``) as a (field, Policy) pair."""
    name, sep, value = text.partition("=")
    name, value = name.strip(), value.strip()
    if not sep or not name or not value:
        raise SettingsError(f"policy {text!r} is not FIELD=POLICY (e.g. price=hub)")
    if name not in POLICY_FIELDS:
        raise SettingsError(f"unknown field {name!r} in policy {text!r}: fields are {', '.join(POLICY_FIELDS)}")
    try:
        return name, Policy(value)
    except ValueError:
        raise SettingsError(
            f"unknown policy {value!r} for {name}: use one of {', '.join(p.value for p in Policy)}"
        ) from None


def parse_rule(text: str) -> str:
    """A listing rule ``KIND:GLOB`` (e.g. ``tag:summer``, ``sku:TS-*``), checked and returned as stored."""
    kind, sep, pattern = text.partition(":")
    if not sep or kind not in RULE_KINDS or not pattern:
        raise SettingsError(
            f"listing rule {text!r} is not KIND:PATTERN with KIND one of {', '.join(RULE_KINDS)} (e.g. tag:summer, "
            "sku:TS-*)"
        )
    return f"{kind}:{pattern}"


@dataclass(frozen=True)
class PriceRule:
    """A shop's price rule: a percentage on the hub price (``+10%``, ``-5%``) or a fixed price (``=12.50``)."""

    text: str
    percent: Decimal | None = None
    fixed: Decimal | None = None

    def apply(self, price: Decimal | None) -> Decimal | None:
        """The price to list in the shop for hub price ``price`` (rounded half up to cents; None stays None)."""
        if self.fixed is not None:
            return self.fixed
        if price is None or self.percent is None:
            return price
        return (price * (Decimal(100) + self.percent) / Decimal(100)).quantize(Decimal("0.01"), ROUND_HALF_UP)


def parse_price_rule(text: str) -> PriceRule:
    """``+10%``, ``-5%``, ``+2.5%`` or ``=12.50``; anything else is refused with the accepted forms."""
    raw = text.strip()
    usage = f"price rule {text!r} is not +N% / -N% (percentage on the hub price) or =AMOUNT (fixed price, e.g. =12.50)"
    try:
        if raw.startswith("=") and len(raw) > 1:
            amount = Decimal(raw[1:])
            if not amount.is_finite() or amount < 0 or amount.as_tuple().exponent < -2:  # type: ignore[operator]
                raise SettingsError(f"{usage}: a fixed price is a non-negative amount with at most 2 decimals")
            return PriceRule(text=raw, fixed=amount)
        if raw[:1] in "+-" and raw.endswith("%") and len(raw) > 2:
            percent = Decimal(raw[:-1])
            if not percent.is_finite() or percent <= -100:
                raise SettingsError(f"{usage}: a percentage must be above -100%")
            return PriceRule(text=raw, percent=percent)
    except InvalidOperation:
        pass
    raise SettingsError(usage)


def parse_bulk_threshold(value: object) -> int | None:
    """A ``bulk_mutation_threshold``: a whole number of writes >= 0 (0: always bulk; a large number: never), or
    ``default`` (None: the writer's default). Strings come from a terminal, ints from ``integrations.settings``."""
    if isinstance(value, str) and value.strip().lower() == "default":
        return None
    usage = (
        f"bulk mutation threshold {value!r} is not a whole number >= 0 (0: always bulk, a large number: never) "
        "or 'default'"
    )
    if isinstance(value, bool):
        raise SettingsError(usage)
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    else:
        raise SettingsError(usage)
    if number < 0:
        raise SettingsError(usage)
    return number


def parse_push_concurrency(value: object) -> int | None:
    """A ``push_concurrency``: a whole number from 1 to MAX_PUSH_CONCURRENCY, or ``default`` (None)."""
    if isinstance(value, str) and value.strip().lower() == "default":
        return None
    text = value.strip() if isinstance(value, str) else value
    number = int(text) if isinstance(text, int) and not isinstance(text, bool) else None
    if isinstance(text, str) and text.isdigit():
        number = int(text)
    if number is None or not 1 <= number <= MAX_PUSH_CONCURRENCY:
        raise SettingsError(
            f"push concurrency {value!r} is not a whole number from 1 (one write at a time) to "
            f"{MAX_PUSH_CONCURRENCY}, or 'default' ({DEFAULT_PUSH_CONCURRENCY})"
        )
    return number


def push_concurrency_of(settings: Mapping[str, Any] | None) -> int:
    """The push concurrency in force for ``integrations.settings``: the stored one or the default."""
    stored = (settings or {}).get(PUSH_CONCURRENCY_KEY)
    return (parse_push_concurrency(stored) if stored is not None else None) or DEFAULT_PUSH_CONCURRENCY


def parse_on_off(name: str, value: object) -> bool:
    """An on/off setting: ``on``/``off`` (or true/false, yes/no, 1/0) from a terminal, a bool from
    ``integrations.settings``; anything else is refused naming the setting."""
    if isinstance(value, bool):
        return value
    text = value.strip().lower() if isinstance(value, str) else None
    if text in _ON:
        return True
    if text in _OFF:
        return False
    raise SettingsError(f"{name} {value!r} is not on or off")


def shopify_collections_of(settings: Mapping[str, Any] | None) -> bool:
    """Whether a Shopify integration's custom collections are its products' categories (default: off)."""
    stored = (settings or {}).get(SHOPIFY_COLLECTIONS_KEY)
    return False if stored is None else parse_on_off("shopify collections", stored)


@dataclass(frozen=True)
class SyncSettings:
    """The sync settings of one integration, with defaults filled in."""

    direction: Direction = DEFAULT_DIRECTION
    policies: Mapping[str, Policy] = field(default_factory=lambda: dict(DEFAULT_POLICIES))
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    price_rule: PriceRule | None = None
    # None: the Shopify writer's default (``DEFAULT_BULK_MUTATION_THRESHOLD``).
    bulk_mutation_threshold: int | None = None
    # None: DEFAULT_PUSH_CONCURRENCY.
    push_concurrency: int | None = None
    # Shopify: custom collections are the products' categories (pull and push); off, as before the feature.
    shopify_collections: bool = False

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any] | None) -> SyncSettings:
        """Read from ``integrations.settings``; absent keys take the defaults (``pull``: the behaviour before)."""
        settings = settings or {}
        direction = parse_direction(settings.get(DIRECTION_KEY) or DEFAULT_DIRECTION.value)
        policies = dict(DEFAULT_POLICIES)
        for name, value in (settings.get(POLICIES_KEY) or {}).items():
            policies.update([parse_policy(f"{name}={value}")])
        rule = settings.get(PRICE_RULE_KEY)
        threshold = settings.get(BULK_THRESHOLD_KEY)
        return cls(
            direction=direction,
            policies=policies,
            include=tuple(settings.get(INCLUDE_KEY) or ()),
            exclude=tuple(settings.get(EXCLUDE_KEY) or ()),
            price_rule=parse_price_rule(rule) if rule else None,
            bulk_mutation_threshold=parse_bulk_threshold(threshold) if threshold is not None else None,
            push_concurrency=push_concurrency_of(settings) if settings.get(PUSH_CONCURRENCY_KEY) is not None else None,
            shopify_collections=shopify_collections_of(settings),
        )

    def changed_policies(self) -> dict[str, str]:
        """The policies that differ from the defaults (what ``status`` shows)."""
        return {k: v.value for k, v in self.policies.items() if DEFAULT_POLICIES.get(k) is not v}


def updated_settings(
    settings: Mapping[str, Any],
    *,
    direction: str | None = None,
    policies: Sequence[str] = (),
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    clear_rules: bool = False,
    price_rule: str | None = None,
    bulk_mutation_threshold: str | int | None = None,
    push_concurrency: str | int | None = None,
    shopify_collections: str | bool | None = None,
) -> dict[str, Any]:
    """A copy of ``settings`` with the given changes, every one validated before anything is changed.

    ``price_rule`` ``none`` removes the rule; ``clear_rules`` empties both listing rule lists before adding;
    ``bulk_mutation_threshold`` ``default`` removes the threshold (the writer's default applies);
    ``shopify_collections`` off removes the key (the default), so a setting never turned on stores nothing.
    """
    result = dict(settings)
    if direction is not None:
        result[DIRECTION_KEY] = parse_direction(direction).value
    if policies:
        stored = dict(result.get(POLICIES_KEY) or {})
        for text in policies:
            name, policy = parse_policy(text)
            stored[name] = policy.value
        result[POLICIES_KEY] = stored
    for key, rules in ((INCLUDE_KEY, include), (EXCLUDE_KEY, exclude)):
        current = [] if clear_rules else list(result.get(key) or [])
        for rule in map(parse_rule, rules):
            if rule not in current:
                current.append(rule)
        if current:
            result[key] = current
        else:
            result.pop(key, None)
    if price_rule is not None:
        if price_rule.strip().lower() == "none":
            result.pop(PRICE_RULE_KEY, None)
        else:
            result[PRICE_RULE_KEY] = parse_price_rule(price_rule).text
    if bulk_mutation_threshold is not None:
        threshold = parse_bulk_threshold(bulk_mutation_threshold)
        if threshold is None:
            result.pop(BULK_THRESHOLD_KEY, None)
        else:
            result[BULK_THRESHOLD_KEY] = threshold
    if push_concurrency is not None:  # ``default`` removes it
        concurrency = parse_push_concurrency(push_concurrency)
        result.pop(PUSH_CONCURRENCY_KEY, None)
        if concurrency is not None:
            result[PUSH_CONCURRENCY_KEY] = concurrency
    if shopify_collections is not None:
        result.pop(SHOPIFY_COLLECTIONS_KEY, None)
        if parse_on_off("shopify collections", shopify_collections):
            result[SHOPIFY_COLLECTIONS_KEY] = True
    return result


def _matches(rule: str, product: Mapping[str, Any], skus: Iterable[str | None]) -> bool:
    kind, _, pattern = rule.partition(":")
    pattern = pattern.lower()
    values: Iterable[Any]
    if kind == "handle":
        values = [product.get("handle")]
    elif kind == "sku":
        values = skus
    elif kind == "tag":
        values = product.get("tags") or ()
    elif kind == "category":
        values = product.get("categories") or ()
    elif kind == "vendor":
        values = [product.get("vendor")]
    else:  # type: the kind (WooCommerce, PrestaShop) or Shopify's product type, whichever the product has
        values = [product.get("product_type"), product.get("shopify_product_type")]
    return any(v is not None and fnmatch.fnmatchcase(str(v).lower(), pattern) for v in values)


def is_listed(settings: SyncSettings, product: Mapping[str, Any], skus: Iterable[str | None]) -> bool:
    """Whether a hub product belongs in this shop: every product when no include rule is set, minus excludes."""
    skus = list(skus)
    if settings.include and not any(_matches(r, product, skus) for r in settings.include):
        return False
    return not any(_matches(r, product, skus) for r in settings.exclude)
