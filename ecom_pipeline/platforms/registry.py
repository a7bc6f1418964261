"""The platform registry: everything the rest of the code needs to know about each platform, in one place.

A platform is its folder (``platforms/<name>/``, its emulator under ``sandbox/<name>/``) plus one registration: a
provider (``"module:function"`` returning a :class:`PlatformSpec`) listed in :data:`PLATFORM_PROVIDERS`, or in
``$ECOM_PLATFORM_PROVIDERS`` (comma-separated) for a platform that lives outside this package, or a
:func:`register` call. Assets, hub steps, jobs, the webhook receiver, the inbox, the sandbox, the demo and the CLI
all iterate over :func:`platforms`; none keeps a list of platform names or branches on one.

A provider that cannot be imported, or returns something that is not a valid spec, is an error naming the
provider: a platform never silently goes missing.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ecom_pipeline.platforms.connect import ConnectResult
from ecom_pipeline.sync.extract import ExtractContext, ExtractReport
from ecom_pipeline.sync.reconcile import ReconcileSpec

if TYPE_CHECKING:
    from ecom_pipeline.warehouse.store import IntegrationRecord, StagedRecord
    from ecom_pipeline.webhooks.inbox import Delivery

# The registered platforms, in display order: one provider per platform.
PLATFORM_PROVIDERS: tuple[str, ...] = (
    "ecom_pipeline.platforms.woocommerce.spec:platform_spec",
    "ecom_pipeline.platforms.shopify.spec:platform_spec",
    "ecom_pipeline.platforms.prestashop.spec:platform_spec",
)
ENV_PROVIDERS = "ECOM_PLATFORM_PROVIDERS"
# Names the webhook receiver keeps for itself (``/webhooks/generic/<id>``, ``/webhooks/health``).
RESERVED_NAMES = ("generic", "health", "hub", "webhooks")
NAME_RULE = re.compile(r"^[a-z][a-z0-9_]{1,31}$")


class PlatformRegistrationError(RuntimeError):
    """A platform provider that cannot be loaded, or a spec that is not valid: says which, and why."""


class DeliveryFormat(Protocol):
    """How one platform's webhook deliveries are signed and what they are: its ``platforms/<p>/deliveries.py``
    module, or any object with these names.

    The receiver answers ``is_ping`` bodies without storing them, refuses what ``verify`` refuses (401) and stores
    what ``parse`` makes of the rest; ``parse`` raises ``webhooks.inbox.DeliveryRefused`` for a signed body its
    unsigned headers contradict (422). The rules every parser follows are in ``webhooks/inbox.py``.
    """

    # The platform's documented headers (kept first with a stored delivery); any other with HEADER_PREFIX is kept.
    KNOWN_HEADERS: tuple[str, ...]
    HEADER_PREFIX: str
    # staging entity -> inbox topic prefixes of that entity (for sync_runs.missed_by_webhooks).
    TOPIC_ENTITIES: Mapping[str, tuple[str, ...]]

    def is_ping(self, headers: Mapping[str, str], body: bytes) -> bool:
        """True for an unsigned liveness ping (answered 200, never stored)."""
        ...

    def verify(self, secret: str | None, headers: Mapping[str, str], body: bytes, now: float) -> str | None:
        """None when the signature holds, else why not."""
        ...

    def parse(self, integration_id: int, headers: dict[str, str], body: bytes, now: float) -> Delivery:
        """The delivery to store (headers lower-cased)."""
        ...

    def sent_topic(self, headers: Mapping[str, str]) -> str:
        """The topic the sender claimed (a header), to log when the stored topic differs."""
        ...


@dataclass(frozen=True)
class WebhookSpec:
    """How a platform's shops deliver webhooks, and what a delivery stands for.

    The receiver serves ``POST /webhooks/<platform>/<integration id>`` for every platform with a ``WebhookSpec``,
    checking and parsing deliveries with ``deliveries`` and the integration's signing secret (``secret_keys``,
    first present wins). The apply step turns a stored delivery into staged records with ``staged_from_delivery``
    (re-reading the shop through ``client_for`` when the body is not enough), re-reads with ``reread`` a body that
    ties with the hub's modification time but differs (``webhooks.same_second``), and confirms every deletion with
    ``confirm_deleted``.
    """

    # Credential keys holding the signing secret, in order of preference.
    secret_keys: tuple[str, ...]
    deliveries: DeliveryFormat
    # (integration=, topic=, body_text=, resource_id=, client=) -> staged records (the pull's own format).
    staged_from_delivery: Callable[..., list[StagedRecord]]
    # (integration, credentials) -> the API client staged_from_delivery and confirm_deleted read the shop with.
    client_for: Callable[[IntegrationRecord, Mapping[str, Any]], Any]
    # (integration=, entity=, external_id=, client=) -> the record as the shop has it now, staged as the pull stages
    # it (a tombstone when gone); None: no re-read, so a body tying with the hub's time is applied as it came.
    reread: Callable[..., list[StagedRecord]] | None = None
    # (client, entity, external id) -> None when the shop confirms the deletion, else what it shows instead;
    # None: deletions from webhooks are not applied (left to the scheduled reconciliation).
    confirm_deleted: Callable[[Any, str, str], str | None] | None = None
    # (engine, integration id, receiver base URL, cipher, timeout=) -> a report with summary(): registers the
    # shop's webhooks at connect (--webhook-url); None: the platform's shops cannot be told where to deliver.
    register: Callable[..., Any] | None = None
    # (engine, cipher, clock, options) -> extra receiver routes (Shopify: its OAuth install flow); ``options`` is
    # what create_app was given for this platform (None: the routes configure themselves from the environment).
    routes: Callable[[Any, Any, Callable[[], float], Any], list[Any]] | None = None


@dataclass(frozen=True)
class DemoShop:
    """One emulated shop the demo serves and connects."""

    tenant: str
    shop: str
    # The emulated data's seed: a fixed number per shop, so the demo shows the same catalogue every time.
    seed: int
    transport: str = "http"  # "https": connected over TLS with the sandbox's CA
    options: Mapping[str, Any] = field(default_factory=dict)  # emulator options (a plan, languages)
    webhooks: bool = False  # the demo registers its webhooks and follows a change into the hub


@dataclass(frozen=True)
class DemoSpec:
    """The demo's shops of one platform, and how the demo connects them."""

    shops: tuple[DemoShop, ...]
    # (the shop's sandbox info: URLs and credentials) -> extra ``connect`` arguments (never secrets).
    connect_args: Callable[[Mapping[str, Any]], list[str]]
    # (the shop's sandbox info) -> secrets, passed to ``connect`` through the environment (never argv).
    connect_env: Callable[[Mapping[str, Any]], dict[str, str]]
    # (the shop's sandbox info) -> (SKU, what was done): changes a price through the shop's API, for the
    # webhook part of the demo. None: the platform's shops are not used for it.
    touch_product: Callable[[Mapping[str, Any]], tuple[str, str]] | None = None


@dataclass(frozen=True)
class ReportCheck:
    """An extra asset check of a platform's extract assets, computed from the step's reports (one per shop)."""

    name: str
    description: str
    # [(shop label, report)] -> dg.AssetCheckResult
    evaluate: Callable[[Sequence[tuple[str, ExtractReport]]], Any]


@dataclass(frozen=True)
class CliSpec:
    """What a platform adds to ``ecom-pipeline``: commands of its own, and lines in ``status``."""

    # (the CLI's subparsers) -> None: adds the platform's commands (each sets ``func``).
    add_commands: Callable[[Any], None] | None = None
    # (the platform's integrations being shown) -> None: prints the platform's own status section.
    print_status: Callable[[Sequence[IntegrationRecord]], None] | None = None


@dataclass(frozen=True)
class PlatformSpec:
    """One platform: everything the pipeline, the receiver, the sandbox, the demo and the CLI use of it."""

    name: str
    title: str
    # asset name -> staging entity, in dependency order (inventory reads what products staged).
    extract_entities: Mapping[str, str]
    # staging entity -> callable(payload) -> canonical record(s)
    transforms: Mapping[str, Callable[[dict[str, Any]], Any]]
    extract: Callable[[ExtractContext, str], ExtractReport]
    # asset name -> asset names of this platform it must run after
    extract_deps: Mapping[str, tuple[str, ...]]
    # CLI/UI connect: platform-specific arguments, and the check that returns what to store.
    add_connect_arguments: Callable[[argparse.ArgumentParser], None]
    connect: Callable[[argparse.Namespace], ConnectResult]
    # Optional URL and webhook-delivery rules at connect (BARE_HOST_SCHEME, delivery_problem,
    # suggested_webhook_url; see platforms/connect.py).
    connect_rules: Any = None
    # Id-only listings that find deletes nobody announces (sync/reconcile.py); None: not reconciled.
    reconcile: ReconcileSpec | None = None
    # Webhooks; None: the shops are kept fresh by polling (what they post to /webhooks/generic/<id> is stored, and
    # dead-lettered at its first apply: no planner turns it into records yet).
    webhooks: WebhookSpec | None = None
    # The emulator: "module:function" building a sandbox shop, ``build_shop(ShopSpec, SandboxClock) -> ShopHandle``
    # (imported only when a shop of the platform is served).
    emulator: str | None = None
    demo: DemoSpec | None = None
    # Extra checks on the extract assets (Shopify: the API version is neither retiring nor retired).
    report_checks: tuple[ReportCheck, ...] = ()
    cli: CliSpec | None = None
    # The push path (sync/export.py): the module of the platform's catalogue writer, which offers
    # ``make_client(integration, secrets)`` and ``apply_plan(client, plan, on_links) -> WriteOutcome`` (creates,
    # field updates and deletes of products and variants, in the shop's batch form). Imported only when pushing;
    # None: the platform's shops are pull-only.
    writer: str | None = None
    # Multichannel stock (stock/push.py): the module of the platform's stock writer, which offers
    # ``make_client(integration, secrets)`` and ``write_stock``, and, when the platform's orders record the units a
    # refund gave back, ``restocked_lines(order payload)`` (stock/refunds.py). Imported only when stock is pushed;
    # None: the hub does not manage the platform's stock.
    stock: str | None = None


def _check(spec: Any, origin: str) -> PlatformSpec:
    if not isinstance(spec, PlatformSpec):
        raise PlatformRegistrationError(f"{origin} returned {type(spec).__name__}, not a PlatformSpec")
    if not NAME_RULE.match(spec.name) or spec.name in RESERVED_NAMES:
        raise PlatformRegistrationError(
            f"{origin}: platform name {spec.name!r} must be 2-32 lowercase letters, digits or '_' starting with a "
            f"letter, and not one of {', '.join(RESERVED_NAMES)} (it is an asset group, a route and a CLI word)"
        )
    unknown = {d for deps in spec.extract_deps.values() for d in deps} - set(spec.extract_entities)
    if unknown:
        raise PlatformRegistrationError(f"{origin}: extract_deps names assets it does not have: {sorted(unknown)}")
    missing = set(spec.extract_entities.values()) - set(spec.transforms)
    if missing:
        raise PlatformRegistrationError(f"{origin}: no transform for staged entities {sorted(missing)}")
    return spec


def load_provider(target: str) -> PlatformSpec:
    """Import ``module:function`` and call it; any failure is a :class:`PlatformRegistrationError` naming it."""
    module_name, sep, func_name = target.strip().partition(":")
    if not sep or not module_name or not func_name:
        raise PlatformRegistrationError(f"platform provider {target!r} is not written as 'package.module:function'")
    try:
        provider = getattr(importlib.import_module(module_name), func_name)
    except (ImportError, AttributeError) as exc:
        raise PlatformRegistrationError(
            f"platform provider {target!r} cannot be loaded: {type(exc).__name__}: {exc}"
        ) from exc
    return _check(provider(), f"platform provider {target!r}")


_lock = threading.RLock()
_loaded: dict[str, PlatformSpec] | None = None
_registered: dict[str, PlatformSpec] = {}


def _providers() -> list[str]:
    extra = [p.strip() for p in os.environ.get(ENV_PROVIDERS, "").split(",") if p.strip()]
    return [*PLATFORM_PROVIDERS, *extra]


def _add(known: dict[str, PlatformSpec], spec: PlatformSpec, origin: str) -> None:
    if spec.name in known:
        raise PlatformRegistrationError(f"{origin}: platform {spec.name!r} is registered twice")
    known[spec.name] = spec


def platforms() -> dict[str, PlatformSpec]:
    """Every registered platform by name, in registration order (loaded once per process)."""
    global _loaded
    with _lock:
        if _loaded is None:
            loaded: dict[str, PlatformSpec] = {}
            for target in _providers():
                _add(loaded, load_provider(target), f"platform provider {target!r}")
            _loaded = loaded
        known = dict(_loaded)
        for spec in _registered.values():
            _add(known, spec, "register()")
        return known


def register(spec: PlatformSpec) -> PlatformSpec:
    """Register a platform at run time (a plugin, a test); definitions built afterwards include it."""
    _check(spec, f"register({spec.name!r})" if isinstance(spec, PlatformSpec) else "register()")
    with _lock:
        if spec.name in _registered or spec.name in platforms():
            raise PlatformRegistrationError(f"register(): platform {spec.name!r} is registered already")
        _registered[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Undo :func:`register` (tests clean up after themselves)."""
    with _lock:
        _registered.pop(name, None)


def get_platform(name: str) -> PlatformSpec:
    known = platforms()
    if name not in known:
        raise KeyError(f"unknown platform {name!r}; known platforms: {', '.join(sorted(known))}")
    return known[name]


def webhook_platforms() -> dict[str, PlatformSpec]:
    """The platforms whose shops deliver webhooks of their own (each has its own receiver route)."""
    return {name: spec for name, spec in platforms().items() if spec.webhooks is not None}
