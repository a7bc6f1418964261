"""Builds one emulated PrestaShop 8.2.1 shop: seeded tables, the webservice, its API key and fault switches.

``ShopSpec.options`` keys read here:

- ``empty_json_list``: ``"array"`` (default: an empty JSON list answers ``[]``, as PrestaShop does, see
  PrestaShop#10172 / #22760) or ``"object"`` (``{"products": []}``, for clients that want the other shape).
- ``languages``: ISO codes of the shop's languages, the first being the default (``PS_LANG_DEFAULT`` 1); default
  ``["en"]``. ``["en", "fr"]`` plays the recorded two-language store: multilingual fields are JSON arrays of
  ``{"id", "value"}``, products have a French name (the English one plus " FR"), categories French names, and the
  key may also use ``specific_prices`` and ``tax_rules``.
- ``key_resources``: resources the webservice key may use beyond the recorded key's (e.g. ``["tags"]``, which a
  merchant grants for the push of product tags); they show in the ``/api/`` index too.
- ``api_rewrite``: False plays a shop whose web server does not route ``/api/`` to the webservice (friendly URLs
  off / .htaccess missing): every ``/api/`` URL answers the shop's HTML 404 page.
"""

from __future__ import annotations

import hashlib

from ecom_pipeline.sandbox.clock import SandboxClock
from ecom_pipeline.sandbox.faults import FaultSwitches
from ecom_pipeline.sandbox.prestashop.api import PrestaShopApi
from ecom_pipeline.sandbox.prestashop.resources import EXTRA_KEY_RESOURCES, KEY_RESOURCES, MULTILANG_KEY_RESOURCES
from ecom_pipeline.sandbox.prestashop.store import PrestaStore
from ecom_pipeline.sandbox.shop import ShopHandle, ShopSpec

KEY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def api_key_for(name: str, seed: int) -> str:
    """A webservice key like the back office generates (32 uppercase alphanumerics), deterministic per shop."""
    digest = hashlib.sha256(f"prestashop-key:{name}:{seed}".encode()).digest()
    return "".join(KEY_ALPHABET[b % len(KEY_ALPHABET)] for b in digest[:32])


def _key_resources(spec: ShopSpec, multilingual: bool) -> dict[str, str]:
    """The resources the shop's key may use: the recorded key's, plus the ``key_resources`` option's."""
    granted = dict(MULTILANG_KEY_RESOURCES if multilingual else KEY_RESOURCES)
    for name in spec.options.get("key_resources") or ():
        if name not in EXTRA_KEY_RESOURCES:
            raise ValueError(f"key_resources: {name!r} is not one of {sorted(EXTRA_KEY_RESOURCES)}")
        granted[name] = EXTRA_KEY_RESOURCES[name]
    return dict(sorted(granted.items()))


def build_shop(spec: ShopSpec, clock: SandboxClock) -> ShopHandle:
    """Generate the shop's data and wire its webservice (no network)."""
    store = PrestaStore(
        spec.name,
        **spec.catalogue(),
        timezone=spec.timezone,
        clock=clock,
        languages=tuple(spec.options.get("languages") or ("en",)),
    )
    key = api_key_for(spec.name, spec.seed)
    faults = FaultSwitches()
    api = PrestaShopApi(
        store,
        key,
        faults,
        empty_json_list=str(spec.options.get("empty_json_list", "array")),
        key_resources=_key_resources(spec, store.multilingual),
        api_rewrite=bool(spec.options.get("api_rewrite", True)),
    )
    return ShopHandle(
        spec=spec,
        store=store,
        faults=faults,
        api=api,
        credentials={"api_key": key},
        api_path="/api",
    )
