"""Which emulator serves which platform. Adding a platform's emulator is one line here plus its folder.

Each entry names a ``build_shop(spec, clock) -> ShopHandle`` function; modules are imported only when a shop of
that platform is asked for, so one platform's emulator never slows down or breaks another's.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from ecom_pipeline.sandbox.clock import SandboxClock
from ecom_pipeline.sandbox.shop import ShopHandle, ShopSpec

EMULATORS: dict[str, str] = {
    "woocommerce": "ecom_pipeline.sandbox.woocommerce.shop:build_shop",
    "shopify": "ecom_pipeline.sandbox.shopify.shop:build_shop",
    "prestashop": "ecom_pipeline.sandbox.prestashop.shop:build_shop",
}


def build_emulated_shop(spec: ShopSpec, clock: SandboxClock) -> ShopHandle:
    """Build a shop with its platform's emulator."""
    target = EMULATORS.get(spec.platform)
    if target is None:
        raise ValueError(f"no emulator for platform {spec.platform!r}; known: {', '.join(sorted(EMULATORS))}")
    module_name, func_name = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ValueError(f"the {spec.platform} emulator is not available: {exc}") from exc
    builder: Callable[[ShopSpec, SandboxClock], ShopHandle] = getattr(module, func_name)
    return builder(spec, clock)
