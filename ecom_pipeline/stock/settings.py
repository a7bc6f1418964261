"""Per-integration stock settings, kept in ``integrations.settings`` like the sync direction.

- ``stock_sync``: whether the hub manages this shop's stock (pushes quantities, reads its changes as movements);
  default off: a shop is brought under the ledger explicitly (``ecom-pipeline stock buffer --integration N
  --manage``), since from then on the hub writes its quantities;
- ``stock_buffer``: units held back from this shop, ``N`` units or ``N%`` of what is available (rounded up);
  default none;
- ``stock_locations``: shop location -> hub location (Shopify location ids; ``default`` elsewhere); default: the
  shop's first location -> ``main``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

DEFAULT_HUB_LOCATION = "main"
ENABLED_KEY = "stock_sync"
BUFFER_KEY = "stock_buffer"
LOCATIONS_KEY = "stock_locations"
_BUFFER_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$")


class StockSettingsError(ValueError):
    """A stock setting that cannot be used (a bad buffer, a location mapped twice)."""


@dataclass(frozen=True)
class Buffer:
    """Units held back from a shop: a fixed number, or a percentage of what is available (rounded up)."""

    units: int = 0
    percent: Decimal | None = None

    @classmethod
    def parse(cls, text: str | None) -> Buffer:
        """``"3"`` -> 3 units, ``"10%"`` -> 10 percent, ``None``/``""``/``"0"`` -> none; anything else is refused."""
        if text is None or str(text).strip() == "":
            return cls()
        match = _BUFFER_RE.match(str(text))
        if match is None:
            raise StockSettingsError(
                f"bad stock buffer {text!r}: use a whole number of units (3) or a percentage (10%)"
            )
        number, pct = match.groups()
        if pct:
            try:
                value = Decimal(number)
            except InvalidOperation as exc:  # pragma: no cover - the regex admits only numbers
                raise StockSettingsError(f"bad stock buffer {text!r}") from exc
            if value > 100:
                raise StockSettingsError(f"bad stock buffer {text!r}: a percentage is at most 100%")
            return cls(percent=value)
        if "." in number:
            raise StockSettingsError(f"bad stock buffer {text!r}: units are a whole number")
        return cls(units=int(number))

    def reserve(self, available: int) -> int:
        """Units to hold back of ``available``: a percentage rounds up (10% of 5 holds back 1, not 0)."""
        if available <= 0:
            return 0
        if self.percent is not None:
            return min(available, math.ceil(available * self.percent / 100))
        return min(available, self.units)

    def __str__(self) -> str:
        return f"{self.percent.normalize():f}%" if self.percent is not None else str(self.units)


@dataclass(frozen=True)
class StockSettings:
    """One shop's stock settings (see the module table)."""

    enabled: bool
    buffer: Buffer = Buffer()
    locations: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any] | None) -> StockSettings:
        settings = settings or {}
        enabled = settings.get(ENABLED_KEY) or False
        locations = {str(k): str(v) for k, v in dict(settings.get(LOCATIONS_KEY) or {}).items()}
        if len(set(locations.values())) != len(locations):
            raise StockSettingsError(
                f"stock_locations maps two shop locations to one hub location: {locations}; a hub location is "
                "written to one shop location, else both would sell the same units"
            )
        return cls(enabled=bool(enabled), buffer=Buffer.parse(settings.get(BUFFER_KEY)), locations=locations)

    def hub_location(self, shop_location: str, all_shop_locations: list[str]) -> str | None:
        """The hub location a shop location draws on, or None when it is not mapped (not managed by the hub).

        Without a mapping the shop's first location (the lowest id: Shopify's primary is usually the oldest;
        ``default`` elsewhere) is the hub's ``main`` and the others are left alone.
        """
        if self.locations:
            return self.locations.get(shop_location)
        first = sorted(all_shop_locations, key=lambda s: (len(s), s))[0] if all_shop_locations else None
        return DEFAULT_HUB_LOCATION if shop_location == first else None
