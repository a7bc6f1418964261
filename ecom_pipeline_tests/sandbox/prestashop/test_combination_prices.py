"""``price[NAME][...]`` virtual fields on ``combinations`` rows, as PrestaShop 8's webservice computes them.

Source (PrestaShop/PrestaShop, classes/webservice/WebserviceRequest.php): ``fetch`` registers
``setVirtualField($this, 'specificPriceForCombination', 'combinations', $urlFragments['price'])`` next to the
products' ``specificPriceForProduct``; ``specificPriceForCombination`` sets ``object_id`` to the row's
``id_product`` and ``product_attribute`` to the row's own id before ``Product::priceCalculation``;
``setFieldsToDisplay`` accepts any ``display`` name that is a ``price[NAME]`` parameter, on any resource, and
``WebserviceOutputBuilder::renderEntity`` appends the virtual fields after the entity's own fields. The pull and
the push's read-back price 100s of combinations per call this way instead of one call per product.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from defusedxml import ElementTree as SafeET

from ecom_pipeline_tests.sandbox.prestashop.conftest import PsClient

PRICES = {
    "price[final][use_tax]": "1",
    "price[final_ht][use_tax]": "0",
    "price[final_no_reduction][use_tax]": "1",
    "price[final_no_reduction][use_reduction]": "0",
}
FIELDS = ("final", "final_ht", "final_no_reduction")


def _products_with_combinations(client: PsClient, count: int) -> list[int]:
    store = client.shop.store
    return [pid for pid, combos in sorted(store.combinations_of.items()) if combos and pid in store.tables["products"]][
        :count
    ]


def _product_prices(client: PsClient, pid: int, cid: int) -> dict[str, Any]:
    """The same prices read the recorded way: the product, with ``product_attribute`` = the combination."""
    params = {**PRICES, **{f"price[{name}][product_attribute]": str(cid) for name in FIELDS}}
    item = client.json(f"/products/{pid}", display="[id," + ",".join(FIELDS) + "]", **params)["products"][0]
    return {name: item[name] for name in FIELDS}


def test_combination_rows_carry_the_price_of_their_own_product_and_combination(reader: PsClient) -> None:
    """Prevents a pull or read-back pricing combinations through ``combinations`` (100s a call) from storing
    other prices than the recorded per-product ``price[..][product_attribute]`` read gives: each row is priced
    with its own product and itself, combination impact and tax included, in the display's order."""
    pids = _products_with_combinations(reader, 3)
    display = "[id,id_product,final,final_ht,final_no_reduction]"
    rows = reader.json(
        "/combinations", display=display, **PRICES, **{"filter[id_product]": "[" + "|".join(map(str, pids)) + "]"}
    )["combinations"]
    assert {int(r["id_product"]) for r in rows} == set(pids)
    assert len(rows) == sum(len(reader.shop.store.combinations_of[p]) for p in pids)
    impacts = set()
    for row in rows:
        assert list(row) == ["id", "id_product", *FIELDS]
        assert {name: row[name] for name in FIELDS} == _product_prices(reader, int(row["id_product"]), row["id"])
        assert all(isinstance(row[name], str) and len(row[name].split(".")[1]) == 6 for name in FIELDS)
        impacts.add(reader.shop.store.tables["combinations"][row["id"]]["price"])
    assert len(impacts) > 1, "the seeded combinations should not all have the same impact"


def test_a_combination_ignores_the_product_attribute_asked_and_honours_its_specific_price(writer: PsClient) -> None:
    """Prevents trusting ``price[..][product_attribute]`` on combinations: the shop forces it to the row's id,
    so a request naming another combination still gets each row's own price; a specific price of one combination
    changes that row only (``final`` reduced, ``final_no_reduction`` not)."""
    store = writer.shop.store
    discounted = {row["id_product"] for row in store.tables["specific_prices"].values()}
    pid = next(p for p in _products_with_combinations(writer, 100) if str(p) not in discounted)
    combos = store.combinations_of[pid]
    first, other = combos[0], combos[-1]
    with store.lock:  # a key allowed ``specific_prices`` would POST it; the price computed is what is tested
        sid = max(store.tables["specific_prices"], default=0) + 1
        store.tables["specific_prices"][sid] = {
            "id": sid, "id_product": str(pid), "id_product_attribute": str(other), "price": "-1.000000",
            "reduction": "0.250000", "reduction_tax": "1", "reduction_type": "percentage",
            "from": "0000-00-00 00:00:00", "to": "0000-00-00 00:00:00",
        }  # fmt: skip
    asked = {**PRICES, **{f"price[{name}][product_attribute]": str(first) for name in FIELDS}}
    rows = {
        r["id"]: r
        for r in writer.json(
            "/combinations", display="[id,final,final_no_reduction]", **asked, **{"filter[id_product]": f"[{pid}]"}
        )["combinations"]
    }
    for cid in combos:
        expected = _product_prices(writer, pid, cid)
        assert rows[cid]["final"] == expected["final"]
        assert rows[cid]["final_no_reduction"] == expected["final_no_reduction"]
    reduced, full = Decimal(rows[other]["final"]), Decimal(rows[other]["final_no_reduction"])
    assert reduced == (full * Decimal("0.75")).quantize(Decimal("0.01"))
    assert rows[first]["final"] == rows[first]["final_no_reduction"]


def test_full_views_append_the_virtual_fields_after_the_combinations_own_fields(reader: PsClient) -> None:
    """Prevents a parser keyed on position or on a closed field list: ``display=full`` and the single view put
    the computed fields after the last own field (before associations), in JSON and in XML."""
    pid = _products_with_combinations(reader, 1)[0]
    cid = reader.shop.store.combinations_of[pid][0]
    plain = reader.json(f"/combinations/{cid}")["combination"]
    single = reader.json(f"/combinations/{cid}", **PRICES)["combination"]
    own = [k for k in plain if k != "associations"]
    assert [k for k in single if k != "associations"] == [*own, *FIELDS]
    assert list(single)[-1] == "associations"
    listed = reader.json("/combinations", display="full", **PRICES, **{"filter[id]": f"[{cid}]"})["combinations"][0]
    assert {k: listed[k] for k in FIELDS} == {k: single[k] for k in FIELDS} == _product_prices(reader, pid, cid)
    xml = reader.get(f"/combinations/{cid}", PRICES)
    assert xml.status_code == 200
    node = SafeET.fromstring(xml.content).find("combination")
    assert node is not None
    tags = [child.tag for child in node]
    assert tags[-4:] == [*FIELDS, "associations"]
    assert node.findtext("final") == single["final"]


def test_price_names_are_displayable_everywhere_but_printed_on_products_and_combinations_only(
    reader: PsClient,
) -> None:
    """Prevents asking a resource for a computed field it never prints: ``display=[id,final]`` is accepted on any
    resource with a ``price[final]`` parameter (no error 35), and only products and combinations print it."""
    customers = reader.json("/customers", display="[id,final]", limit="0,2", **PRICES)["customers"]
    assert customers and all(list(c) == ["id"] for c in customers)
    refused = reader.get("/combinations", {"output_format": "JSON", "display": "[id,final]", "limit": "0,2"})
    assert refused.status_code in (400, 500)
    assert 35 in [e["code"] for e in refused.json()["errors"]]
