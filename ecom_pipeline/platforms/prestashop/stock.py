"""Stock writes to PrestaShop: ``stock_availables`` read just before writing, then a whole-document PUT (issue 11).

PrestaShop keeps a product's (or a combination's) quantity in its ``stock_available`` row; the webservice has no
compare-and-swap and a PUT replaces the whole row. So for each item the writer reads the row as XML (the read just
before writing), hands that quantity to ``recompute`` (a difference becomes a ledger movement and a new target),
and PUTs the same document with the new ``quantity`` only when it differs. The rows are found once per call by
product (``filter[id_product]=[1|2|...]``, 50 products per list); in a multishop install only the integration's
shop's rows (``shops.ShopStock``: the list holds every shop's). A sale between the read and the PUT is an order
movement in the ledger: the next push corrects the shop's number.
"""

from __future__ import annotations

from collections.abc import Sequence

from ecom_pipeline.platforms.errors import (
    ShopApiError,
    ShopResponseError,
    ShopServerError,
    ShopUnreachableError,
)
from ecom_pipeline.platforms.prestashop.client import PrestaShopClient, set_xml_field
from ecom_pipeline.platforms.prestashop.extract import STOCK_DISPLAY
from ecom_pipeline.platforms.prestashop.shops import ShopStock
from ecom_pipeline.platforms.prestashop.writer import make_client
from ecom_pipeline.stock.writers import Reading, Recompute, Settled, StockOutcome, StockWrite, stock_writer
from ecom_pipeline.warehouse.types import utcnow

PRODUCTS_PER_LIST = 50
# Failures after which the shop may have applied the PUT all the same (no answer, a cut one, a proxy's 5xx).
_NO_ANSWER = (ShopUnreachableError, ShopResponseError, ShopServerError)

__all__ = ["make_client", "write_stock"]


def _rows(client: PrestaShopClient, items: Sequence[StockWrite]) -> dict[str, str]:
    """``product-combination`` -> stock_available id of the integration's shop (multishop: ``shops.ShopStock``;
    the row listed last, another shop's, was written before), for the items' products."""
    products = sorted({i.external_item.split("-")[0] for i in items}, key=int)
    shop = ShopStock(client, getattr(client, "integration_settings", None) or {})
    found: dict[str, str] = {}
    for start in range(0, len(products), PRODUCTS_PER_LIST):
        part = products[start : start + PRODUCTS_PER_LIST]
        params = {"filter[id_product]": "[" + "|".join(part) + "]", "display": STOCK_DISPLAY}
        for row in shop.select(client.list("stock_availables", params)):
            found[f"{int(row['id_product'])}-{int(row['id_product_attribute'])}"] = str(row["id"])
    return found


@stock_writer
def write_stock(client: PrestaShopClient, items: Sequence[StockWrite], recompute: Recompute, out: StockOutcome) -> None:
    """Per item: GET the stock_available document, recompute, PUT it when the number differs (module doc)."""
    rows = _rows(client, items)
    for item in items:
        row_id = rows.get(item.external_item)
        if row_id is None:
            out.failed[item.link_id] = f"the shop has no stock_available for {item.external_item}"
            continue
        try:
            read_at = utcnow()
            tree = client.get_xml("stock_availables", row_id)
            record = next(iter(tree.getroot()))  # type: ignore[arg-type]
            shown = int((record.findtext("quantity") or "0").strip() or 0)
            target = recompute([Reading(item.link_id, shown, read_at)])[item.link_id]
            if target == shown:
                out.settled.append(Settled(item.link_id, shown, read_at, read_at, False))
                continue
            set_xml_field(tree, "quantity", str(target))
            client.put_xml("stock_availables", row_id, tree)
            out.settled.append(Settled(item.link_id, target, read_at, utcnow(), True))
        except ShopApiError as exc:
            out.failed[item.link_id] = str(exc)
            if isinstance(exc, _NO_ANSWER):  # the PUT may have landed: the link keeps it pending
                out.uncertain.add(item.link_id)
