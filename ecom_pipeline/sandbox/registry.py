"""Which emulator serves which platform: each platform's registration names it (``PlatformSpec.emulator``).

Each names a ``build_shop(spec, clock) -> ShopHandle`` function; modules are imported only when a shop of that
platform is asked for, so one platform's emulator never slows down or breaks another's.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from ecom_pipeline.sandbox.clock import SandboxClock
from ecom_pipeline.sandbox.shop import ShopHandle, ShopSpec


def emulators() -> dict[str, str]:
    """platform -> ``module:function`` of its emulator, for every registered platform that has one."""
    from ecom_pipeline.platforms.registry import platforms

    return {name: spec.emulator for name, spec in platforms().items() if spec.emulator}


def default_platform() -> str:
    """The platform of a sandbox shop given without one: the first registered platform with an emulator."""
    return next(iter(emulators()))


def build_emulated_shop(spec: ShopSpec, clock: SandboxClock) -> ShopHandle:
    """Build a shop with its platform's emulator."""
    known = emulators()
    target = known.get(spec.platform)
    if target is None:
        raise ValueError(f"no emulator for platform {spec.platform!r}; known: {', '.join(sorted(known))}")
    module_name, _, func_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ValueError(f"the {spec.platform} emulator is not available: {exc}") from exc
    builder: Callable[[ShopSpec, SandboxClock], ShopHandle] = getattr(module, func_name)
    return builder(spec, clock)
