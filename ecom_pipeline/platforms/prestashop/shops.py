"""Which ``stock_availables`` rows are the integration's shop's, in a multishop install.

A stock_available carries ``id_shop`` and ``id_shop_group``. A one-shop install has one row per product and
combination (``id_shop`` 1, ``id_shop_group`` 0: every recording under ``prestashop-8.2.1*``). A multishop install
has one row per shop for each of them, or, for the shops of a group that shares its stock, one row for the group
(``id_shop`` 0, ``id_shop_group`` the group). The webservice lists them all, whatever shop context the request
names, so a reader that took every row mixed the shops: the inventory extract staged two quantities for one
variant (the hub kept whichever came last), and the stock push wrote the row listed last, another shop's.

The integration's shop is its ``shop_id`` setting (``connect --shop-id``), else the shop the webservice key works
in without one: the default shop (``PS_SHOP_DEFAULT``, read once and only when the rows name several shops; 1 when
it cannot be read). Per product and combination its rows are: the row of that ``id_shop``; else the group's shared
row (``id_shop`` 0) of the shop's group (``shop_group_id`` setting, else read from ``shops``; when neither is known
and one group only shares that item, that group's); else none (the product is not sold in that shop). When every
row names one shop (a one-shop install) they are taken as they are, at no extra call.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from ecom_pipeline.platforms.errors import ShopApiError
from ecom_pipeline.platforms.prestashop.client import PrestaShopClient

DEFAULT_SHOP = 1
_log = logging.getLogger(__name__)


def _int(value: Any) -> int:
    try:
        return int(str(value).strip() or 0)
    except ValueError:
        return 0


class ShopStock:
    """Picks the integration's shop's rows among listed ``stock_availables`` (module docstring)."""

    def __init__(self, client: PrestaShopClient, settings: Mapping[str, Any]) -> None:
        self.client = client
        shop = settings.get("shop_id")
        group = settings.get("shop_group_id")
        self._shop: int | None = _int(shop) if shop not in (None, "") else None
        self._group: int | None = _int(group) if group not in (None, "") else None
        self._group_read = self._group is not None

    @property
    def shop_id(self) -> int:
        """The integration's ``id_shop``: its setting, else the shop's default (read once), else 1."""
        if self._shop is None:
            value = None
            try:
                value = self.client.configuration("PS_SHOP_DEFAULT")
            except ShopApiError as err:  # a key that may not read configurations: the usual default
                _log.info("PrestaShop PS_SHOP_DEFAULT could not be read (%s): shop %s taken", err, DEFAULT_SHOP)
            self._shop = _int(value) or DEFAULT_SHOP
        return self._shop

    def group_id(self) -> int | None:
        """The shop's ``id_shop_group`` (setting, else ``shops/{id}``); None when it cannot be read."""
        if not self._group_read:
            self._group_read = True
            try:
                rows = self.client.list_by_ids("shops", [self.shop_id], display="[id,id_shop_group]")
                mine = [r for r in rows if _int(r.get("id")) == self.shop_id]
                self._group = _int(mine[0].get("id_shop_group")) if mine else None
            except ShopApiError as err:
                _log.info("PrestaShop shop %s: its group could not be read (%s)", self.shop_id, err)
        return self._group

    def select(self, rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """The rows of the integration's shop, one per (product, combination), in the order listed."""
        listed = [dict(r) for r in rows]
        shops = {_int(r.get("id_shop")) for r in listed if "id_shop" in r}
        if not shops or (len(shops) == 1 and (self._shop is None or shops <= {self._shop, 0})):
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
        groups = {_int(r.get("id_shop_group")) for r in shared}
        if len(groups) > 1 or (shared and self._group is not None):
            group = self.group_id()
            shared = [r for r in shared if group is not None and _int(r.get("id_shop_group")) == group]
        if shared:
            return min(shared, key=lambda r: _int(r.get("id")))
        if candidates:
            _log.debug("PrestaShop stock %s: no row for shop %s among %d", key, self.shop_id, len(candidates))
        return None


__all__ = ["ShopStock"]
