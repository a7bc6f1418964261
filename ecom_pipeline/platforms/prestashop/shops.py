"""Which ``stock_availables`` rows are the integration's shop's, in a multishop install.

A stock_available carries ``id_shop`` and ``id_shop_group``. A one-shop install has one row per product and
combination (``id_shop`` 1, ``id_shop_group`` 0: every recording under ``prestashop-8.2.1*``). A multishop install
has one row per shop for each of them, or, for the shops of a group that shares its stock, one row for the group
(``id_shop`` 0, ``id_shop_group`` the group). The webservice lists them all, whatever shop context the request
names, so a reader that took every row mixed the shops: the inventory extract staged two quantities for one
variant (the hub kept whichever came last), and the stock push wrote the row listed last, another shop's.

The integration's shop is its ``shop_id`` setting (``connect --shop-id``), else the shop the webservice key works
in without one: the default shop (``PS_SHOP_DEFAULT``, read once and only when the rows are a multishop listing).
When it cannot be read there, the read is refused (:class:`ShopUnknownError`: connect with ``--shop-id``): taking
shop 1 (what it did) read or wrote another shop's stock without a word. Per product and combination its rows are:
the row of that ``id_shop``; else the shared row (``id_shop`` 0) of the shop's group (``shop_group_id`` setting,
else read once from the ``shops`` resource, refused like the shop when it cannot be read); else none (the product is
not sold in that shop). A shared row is never taken without knowing the shop's group: the only shared row of an
item may be another group's (shop 1 got product 2's group-2 quantity). When every row names one and the same shop
(a one-shop install) they are taken as they are, at no extra call; rows that are all shared (``id_shop`` 0, one or
several groups sharing their stock) are chosen by group (every group's rows were taken).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from ecom_pipeline.platforms.errors import ShopApiError
from ecom_pipeline.platforms.prestashop.client import PrestaShopClient

_log = logging.getLogger(__name__)


def _int(value: Any) -> int:
    try:
        return int(str(value).strip() or 0)
    except ValueError:
        return 0


class ShopUnknownError(ShopApiError):
    """A multishop listing of stock rows, and the integration's shop (or its group) cannot be told: refused rather
    than guessed (the wrong shop's quantities read into the hub, or ours written into another shop)."""

    kind = "PrestaShop multishop: the integration's shop is unknown"
    default_hint = (
        "Reconnect naming the shop: `ecom-pipeline connect prestashop --shop-id N ...` (its id under Advanced "
        "Parameters > Multistore), or give the webservice key GET on configurations and shops."
    )


class ShopStock:
    """Picks the integration's shop's rows among listed ``stock_availables`` (module docstring)."""

    def __init__(self, client: PrestaShopClient, settings: Mapping[str, Any]) -> None:
        self.client = client
        shop = settings.get("shop_id")
        group = settings.get("shop_group_id")
        self._shop: int | None = _int(shop) if shop not in (None, "") else None
        self._group: int | None = _int(group) if group not in (None, "") else None
        self._group_read = self._group is not None
        self._why = ""  # why the group could not be read (``group_id``)

    @property
    def shop_id(self) -> int:
        """The integration's ``id_shop``: its setting, else the shop's default (``PS_SHOP_DEFAULT``, read once);
        :class:`ShopUnknownError` when neither is known (asked only of a multishop listing)."""
        if self._shop is None:
            value = None
            why = "PS_SHOP_DEFAULT is not readable with this key"
            try:
                value = self.client.configuration("PS_SHOP_DEFAULT")
            except ShopApiError as err:
                why = f"PS_SHOP_DEFAULT could not be read ({err.message})"
            if not _int(value):
                raise ShopUnknownError(
                    f"the stock rows are of several shops and the default shop is unknown: {why}", platform="prestashop"
                )
            self._shop = _int(value)
        return self._shop

    def group_id(self) -> int:
        """The shop's ``id_shop_group`` (setting, else ``shops/{id}``, read once); :class:`ShopUnknownError` when it
        cannot be read (a shared row is never taken without it)."""
        if not self._group_read:
            self._group_read = True
            why = "the shops resource does not list it"
            try:
                rows = self.client.list_by_ids("shops", [self.shop_id], display="[id,id_shop_group]")
                mine = [r for r in rows if _int(r.get("id")) == self.shop_id]
                self._group = _int(mine[0].get("id_shop_group")) if mine else None
            except ShopApiError as err:
                why = f"it could not be read ({err.message})"
            if not self._group:
                self._group = None
                self._why = why
        if self._group is None:
            raise ShopUnknownError(
                f"shop {self.shop_id}'s group, needed to choose among the stock rows its group shares: {self._why}",
                platform="prestashop",
                hint="Give the webservice key GET on shops (Advanced Parameters > Webservice), or reconnect with "
                "`--shop-id` of a shop that has its own stock.",
            )
        return self._group

    def select(self, rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """The rows of the integration's shop, one per (product, combination), in the order listed."""
        listed = [dict(r) for r in rows]
        shops = {_int(r.get("id_shop")) for r in listed if "id_shop" in r}
        if not shops or (len(shops) == 1 and 0 not in shops and (self._shop is None or shops == {self._shop})):
            return listed  # one shop's rows (a one-shop install), or rows that do not say: nothing to choose
        items: dict[tuple[int, int], list[dict[str, Any]]] = {}
        for row in listed:
            items.setdefault((_int(row.get("id_product")), _int(row.get("id_product_attribute"))), []).append(row)
        chosen: list[dict[str, Any]] = []
        for key, candidates in items.items():
            picked = self._pick(key, candidates)
            if picked is not None:
                chosen.append(picked)
        order = {id(r): i for i, r in enumerate(listed)}
        return sorted(chosen, key=lambda r: order[id(r)])

    def _pick(self, key: tuple[int, int], candidates: list[dict[str, Any]]) -> dict[str, Any] | None:
        own = [r for r in candidates if _int(r.get("id_shop")) == self.shop_id]
        if own:
            return min(own, key=lambda r: _int(r.get("id")))
        shared = [r for r in candidates if _int(r.get("id_shop")) == 0]
        if shared:  # only our group's: the only shared row of an item may be another group's
            group = self.group_id()
            shared = [r for r in shared if _int(r.get("id_shop_group")) == group]
        if shared:
            return min(shared, key=lambda r: _int(r.get("id")))
        if candidates:
            _log.debug("PrestaShop stock %s: no row for shop %s among %d", key, self.shop_id, len(candidates))
        return None


__all__ = ["ShopStock", "ShopUnknownError"]
