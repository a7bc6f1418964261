"""What the pollers and pushers rely on: paging, shop-local date filters (incl. DST), display variants, XML
writes, order state changes and the silent stock changes. Each test names the client bug it prevents."""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime
from typing import Any

from defusedxml import ElementTree as SafeET

from ecom_pipeline.sandbox.clock import SandboxClock
from ecom_pipeline.sandbox.prestashop.shop import api_key_for, build_shop
from ecom_pipeline.sandbox.prestashop.store import PrestaStore
from ecom_pipeline.sandbox.server import SandboxServer, ShopSpec
from ecom_pipeline_tests.sandbox.prestashop.conftest import ANCHOR, PsClient

XML = {"Content-Type": "application/xml"}


def _ts(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp())


# ---------------------------------------------------------------------------------------------------------- paging


def test_offset_paging_ends_on_a_short_page_without_total_headers(reader: PsClient) -> None:
    """Prevents clients waiting for a total/Link header: paging is limit=offset,count until a short page."""
    seen: list[int] = []
    offset, count = 0, 7
    while True:
        response = reader.get("/products", {"output_format": "JSON", "display": "[id]", "limit": f"{offset},{count}"})
        assert not {"link", "x-total-count", "x-wp-total"} & {h.lower() for h in response.headers}
        items = response.json()["products"] if response.json() else []
        seen += [item["id"] for item in items]
        if len(items) < count:
            break
        offset += count
    assert seen == sorted(reader.shop.store.tables["products"])
    assert len(reader.json("/products", limit="5")["products"]) == 5  # limit=count means offset 0


def test_page_past_the_end_is_an_empty_json_array(reader: PsClient) -> None:
    """Prevents crashes on the empty-list shape: PrestaShop answers [] (not {"products": []}) in JSON."""
    assert reader.json("/products", limit="100000,5") == []
    xml = reader.get("/products", {"limit": "100000,5"}).text
    assert "<products>\n</products>" in xml


def test_id_keyset_filter_and_or_filter(reader: PsClient) -> None:
    """Prevents broken keyset paging (filter[id]=>[N]) and batched child reads (filter[id_product]=[1|2])."""
    ids = [p["id"] for p in reader.json("/products", **{"filter[id]": ">[50]", "sort": "[id_ASC]"})["products"]]
    assert ids == [i for i in sorted(reader.shop.store.tables["products"]) if i > 50]
    rows = reader.json("/stock_availables", display="full", **{"filter[id_product]": "[1|2]"})["stock_availables"]
    assert {r["id_product"] for r in rows} == {"1", "2"}
    assert all(isinstance(r["quantity"], str) for r in rows)


# ---------------------------------------------------------------------------------------------------------- dates


def test_date_filters_compare_shop_local_time_not_utc(reader: PsClient) -> None:
    """Prevents sending UTC cursors: dates are Europe/Paris wall time without offset, and filters compare those."""
    store: PrestaStore = reader.shop.store
    store.tables["products"][3]["date_upd"] = _ts(2026, 7, 1, 10, 0, 0)  # 12:00:00 in Paris (CEST)
    params = {"display": "[id,date_upd]", "date": "1"}
    local = reader.json("/products", **params, **{"filter[date_upd]": "[2026-07-01 12:00:00,2026-07-01 12:00:00]"})
    assert local["products"] == [{"id": 3, "date_upd": "2026-07-01 12:00:00"}]
    utc = reader.json("/products", **params, **{"filter[date_upd]": "[2026-07-01 10:00:00,2026-07-01 10:00:00]"})
    assert utc == []


def test_autumn_dst_hour_repeats_local_times(reader: PsClient) -> None:
    """Prevents losing updates at the October clock change: two instants an hour apart print the same local time,
    a later instant can sort before an earlier one, and a strict '>' cursor on the repeated time skips both."""
    store: PrestaStore = reader.shop.store
    store.tables["products"][4]["date_upd"] = _ts(2026, 10, 25, 0, 50, 0)  # 02:50:00 CEST
    store.tables["products"][5]["date_upd"] = _ts(2026, 10, 25, 1, 10, 0)  # 02:10:00 CET, 20 minutes later
    store.tables["products"][6]["date_upd"] = _ts(2026, 10, 25, 1, 50, 0)  # 02:50:00 CET, one hour after #4
    window = {"filter[date_upd]": "[2026-10-25 02:00:00,2026-10-25 02:59:59]", "filter[id]": "[4|5|6]"}
    rows = reader.json("/products", display="[id,date_upd]", date="1", sort="[date_upd_ASC,id_ASC]", **window)
    assert rows["products"] == [
        {"id": 5, "date_upd": "2026-10-25 02:10:00"},
        {"id": 4, "date_upd": "2026-10-25 02:50:00"},
        {"id": 6, "date_upd": "2026-10-25 02:50:00"},
    ]
    after = reader.json("/products", display="[id]", date="1", **{"filter[date_upd]": ">[2026-10-25 02:10:00]"})
    assert {4, 6} <= {p["id"] for p in after["products"]}


def test_spring_dst_gap_never_appears(reader: PsClient) -> None:
    """Prevents parsing errors on non-existent local times: at the March change 02:xx is skipped (01:59 -> 03:00)."""
    store: PrestaStore = reader.shop.store
    store.tables["products"][7]["date_upd"] = _ts(2026, 3, 29, 1, 0, 30)
    row = reader.json("/products/7", display="[id,date_upd]")["products"][0]
    assert row["date_upd"] == "2026-03-29 03:00:30"


def test_date_filter_needs_date_1(reader: PsClient) -> None:
    """Prevents clients forgetting date=1 (every recorded date filter/sort sends it)."""
    response = reader.get("/products", {"output_format": "JSON", "filter[date_upd]": ">[2026-01-01 00:00:00]"})
    assert response.status_code == 400


# ---------------------------------------------------------------------------------------------------------- display


def test_display_variants(reader: PsClient) -> None:
    """Prevents relying on key order or on associations in partial displays: fields come in definition order,
    ids are numbers and everything else strings, display=full adds associations, no display gives ids only."""
    partial = reader.json("/products", display="[price,id,reference]", limit="1")["products"][0]
    assert list(partial) == ["id", "reference", "price"]
    assert isinstance(partial["id"], int) and re.fullmatch(r"\d+\.\d{6}", partial["price"])
    full = reader.json("/products", display="full", limit="1")["products"][0]
    assert "associations" in full and full["quantity"] == "0" and full["new"] is None
    assert reader.json("/products", limit="2") == {"products": [{"id": 1}, {"id": 2}]}
    xml = reader.get("/products", {"limit": "1"}).text
    assert re.search(r'<product id="1" xlink:href="http://[^"]+/ps-read/api/products/1"/>', xml)
    single = reader.json("/products/1")["product"]
    assert all(v not in ("", "0", None) for k, v in single.items() if k not in ("id", "associations"))


def test_ws_key_query_parameter_authenticates(reader: PsClient) -> None:
    """Prevents auth regressions for clients that pass the key as ?ws_key= instead of Basic auth."""
    key = reader.shop.credentials["api_key"]
    assert re.fullmatch(r"[A-Z0-9]{32}", key) and key == api_key_for("ps-read", 3)
    response = reader.get("/products", {"ws_key": key, "output_format": "JSON", "limit": "1"}, key=None)
    assert response.status_code == 200


def test_malformed_products_are_served_broken(reader: PsClient) -> None:
    """Lets the pipeline's payload validation be tested: a faulted product has price "abc" and no reference."""
    reader.shop.faults.malformed_product_ids = [2]
    try:
        broken = reader.json("/products/2")["product"]
        assert broken["price"] == "abc" and "reference" not in broken
        assert reader.json("/products/1")["product"]["price"] != "abc"
    finally:
        reader.shop.faults.reset()


# ---------------------------------------------------------------------------------------------------------- writes


def test_a_barcode_field_the_shop_validates_is_refused_with_error_85(writer: PsClient) -> None:
    """Prevents the emulator accepting what PrestaShop refuses: ``ean13`` holds up to 13 digits, ``upc`` 12,
    ``isbn`` digits and hyphens (ObjectModel::validateFields, webservice error 85)."""
    pid = 4
    document = re.sub(r"\t<(manufacturer_name|quantity)[^\n]*\n", "", writer.get(f"/products/{pid}").text)
    bad = re.sub(r"<isbn><!\[CDATA\[[^\]]*\]\]></isbn>", "<isbn><![CDATA[ISBN-X]]></isbn>", document)
    refused = writer.request("PUT", f"/products/{pid}", data=bad.encode(), headers=XML)
    assert refused.status_code == 400 and "Property Product->isbn is not valid" in refused.text, refused.text
    good = re.sub(r"<ean13><!\[CDATA\[[^\]]*\]\]></ean13>", "<ean13><![CDATA[4006381333931]]></ean13>", document)
    assert writer.request("PUT", f"/products/{pid}", data=good.encode(), headers=XML).status_code == 200
    assert writer.json(f"/products/{pid}", display="[id,ean13]")["products"][0]["ean13"] == "4006381333931"


def test_xml_get_modify_put_round_trip(writer: PsClient, sandbox: SandboxServer) -> None:
    """Prevents lost fields on update: PUT replaces the whole product, so clients GET the XML, drop the read-only
    manufacturer_name/quantity, change what they need and PUT it all back; date_add survives, date_upd moves."""
    pid = 5
    before = writer.json(f"/products/{pid}", display="[id,price,date_add,date_upd,name]")["products"][0]
    document = writer.get(f"/products/{pid}").text
    sandbox.clock.advance(3)
    refused = writer.request("PUT", f"/products/{pid}", data=document.encode(), headers=XML)
    assert refused.status_code == 400 and "not writable" in refused.text
    edited = re.sub(r"\t<(manufacturer_name|quantity)[^\n]*\n", "", document)
    edited = re.sub(r"<price><!\[CDATA\[[^\]]*\]\]></price>", "<price><![CDATA[15.000000]]></price>", edited)
    response = writer.request("PUT", f"/products/{pid}", data=edited.encode(), headers=XML)
    assert response.status_code == 200, response.text
    after = writer.json(f"/products/{pid}", display="[id,price,date_add,date_upd,name]")["products"][0]
    assert after["price"] == "15.000000" and after["name"] == before["name"]
    assert after["date_add"] == before["date_add"] and after["date_upd"] > before["date_upd"]


def test_put_without_date_add_restamps_it(writer: PsClient) -> None:
    """Prevents trusting date_add after partial PUTs: PrestaShop re-stamps date_add when the body omits it."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?><prestashop><product><id>6</id><price>9.5</price>'
        '<name><language id="1">Renamed</language></name></product></prestashop>'
    )
    response = writer.request("PUT", "/products/6", data=body.encode(), headers=XML)
    assert response.status_code == 200
    row = writer.json("/products/6", display="[id,price,date_add,date_upd,name]")["products"][0]
    assert row["date_add"] == row["date_upd"] and row["price"] == "9.500000" and row["name"] == "Renamed"


def test_patch_changes_only_given_fields(writer: PsClient) -> None:
    """Prevents over-writing with PATCH: only <price> changes, everything else keeps its value."""
    before = writer.json("/products/7")["product"]
    body = "<prestashop><product><id>7</id><price>13.900000</price></product></prestashop>"
    assert writer.request("PATCH", "/products/7", data=body.encode(), headers=XML).status_code == 200
    after = writer.json("/products/7")["product"]
    assert after["price"] == "13.900000"
    assert {k: v for k, v in after.items() if k not in ("price", "date_upd")} == {
        k: v for k, v in before.items() if k not in ("price", "date_upd")
    }


def test_json_body_is_refused(writer: PsClient) -> None:
    """Prevents JSON writes: the webservice parses XML only (error 127, HTTP 500)."""
    response = writer.request(
        "POST", "/customers", params={"output_format": "JSON"}, json={"customer": {"email": "a@b.c"}}
    )
    assert response.status_code == 500 and response.json()["errors"][0]["code"] == 127


def test_order_state_change_through_order_histories(writer: PsClient, sandbox: SandboxServer) -> None:
    """Prevents missing status changes: POST order_histories sets current_state and bumps the order's date_upd,
    so a date_upd poller sees the order again."""
    before = writer.json("/orders/3", display="[id,current_state,date_upd]")["orders"][0]
    sandbox.clock.advance(2)
    body = (
        "<prestashop><order_history><id_order>3</id_order><id_order_state>5</id_order_state></order_history>"
        "</prestashop>"
    )
    created = writer.request("POST", "/order_histories", data=body.encode(), headers=XML)
    assert created.status_code == 201
    history_id = SafeET.fromstring(created.content).find("order_history/id").text
    after = writer.json("/orders/3", display="[id,current_state,date_upd]")["orders"][0]
    assert after["current_state"] == "5" and after["date_upd"] > before["date_upd"]
    newer = writer.json("/orders", display="[id]", date="1", **{"filter[date_upd]": f">[{before['date_upd']}]"})
    assert {"id": 3} in newer["orders"]
    histories = writer.json("/order_histories", display="full", **{"filter[id_order]": "[3]"})["order_histories"]
    assert histories[-1]["id"] == int(history_id) and histories[-1]["id_order_state"] == "5"
    writer.shop.store.change_order_state(3, 4)
    assert writer.json("/orders/3")["order"]["current_state"] == "4"


# ---------------------------------------------------------------------------------------------------------- stock


def test_stock_put_touches_no_date(writer: PsClient, sandbox: SandboxServer) -> None:
    """Prevents pollers trusting product date_upd for stock: a stock_available PUT changes only quantity; the
    product's date_upd and its "quantity" field stay; the product-level row becomes the combinations' sum."""
    store: PrestaStore = writer.shop.store
    pid = next(p for p, c in sorted(store.combinations_of.items()) if len(c) >= 2)
    combo = store.combinations_of[pid][0]
    before = writer.json(f"/products/{pid}", display="[id,date_upd,quantity]")["products"][0]
    sid = store.stock_index[(pid, combo)]
    sandbox.clock.advance(2)
    document = writer.get(f"/stock_availables/{sid}").text
    document = re.sub(r"<quantity><!\[CDATA\[\d+\]\]></quantity>", "<quantity>5</quantity>", document)
    assert writer.request("PUT", f"/stock_availables/{sid}", data=document.encode(), headers=XML).status_code == 200
    assert writer.json(f"/products/{pid}", display="[id,date_upd,quantity]")["products"][0] == before
    rows = writer.json("/stock_availables", display="full", **{"filter[id_product]": f"[{pid}]"})["stock_availables"]
    by_ipa = {r["id_product_attribute"]: int(r["quantity"]) for r in rows}
    assert by_ipa[str(combo)] == 5
    assert by_ipa["0"] == sum(q for ipa, q in by_ipa.items() if ipa != "0")
    store.set_stock(pid, 9, combo)
    assert writer.json(f"/products/{pid}", display="[id,date_upd,quantity]")["products"][0] == before


def test_order_from_store_decrements_stock_silently(writer: PsClient) -> None:
    """Prevents assuming a sale moves product dates: only stock rows and the new order change."""
    store: PrestaStore = writer.shop.store
    pid = next(p for p, c in sorted(store.combinations_of.items()) if not c)
    store.set_stock(pid, 10)
    before = dict(store.product(pid))
    order = store.add_order(lines=[(pid, 0, 3)], customer_id=1)
    assert int(store.stock_row(pid)["quantity"]) == 7 and store.product(pid) == before
    assert writer.json(f"/orders/{order.id}")["order"]["associations"]["order_rows"][0]["product_quantity"] == "3"


def test_deleted_product_is_404_everywhere(writer: PsClient) -> None:
    """Prevents keeping ghosts: a deleted product, its combinations and stock rows are gone (404, empty body)."""
    store: PrestaStore = writer.shop.store
    pid = next(p for p, c in sorted(store.combinations_of.items(), reverse=True) if c)
    combo, sid = store.combinations_of[pid][0], store.stock_index[(pid, 0)]
    store.delete_product(pid)
    for path in (f"/products/{pid}", f"/combinations/{combo}", f"/stock_availables/{sid}"):
        response = writer.get(path, {"output_format": "JSON"})
        assert response.status_code == 404 and response.content == b"" and "content-type" not in response.headers


# ---------------------------------------------------------------------------------------------------------- seeding


def _build_counting_steps(spec: ShopSpec) -> tuple[Any, int]:
    """Build a shop and count the Python lines it executed (with calls and returns): a measure of the work done
    that, unlike a stopwatch, the machine's load can't change."""
    steps = 0

    def count(_frame: Any, _event: str, _arg: Any) -> Any:
        nonlocal steps
        steps += 1
        return count

    sys.settrace(count)
    try:
        shop = build_shop(spec, SandboxClock())
    finally:
        sys.settrace(None)
    return shop, steps


def test_large_seeded_shop_builds_in_linear_work_and_deterministically() -> None:
    """Prevents slow test setups: seeding does work linear in the shop's size (10x the rows, at most 11x the executed
    lines; a quadratic step would give ~100x) and builds identically per seed. Counted, not timed: wall-clock
    limits fail under load (the speed itself is for benchmarks/)."""

    def spec(products: int) -> ShopSpec:
        return ShopSpec(
            name="big",
            platform="prestashop",
            seed=9,
            products=products,
            orders=products // 10,
            customers=products // 50,
            anchor=ANCHOR,
        )

    build_shop(spec(50), SandboxClock())  # first-use work (imports, caches) is not the shop's
    _, small = _build_counting_steps(spec(200))
    first, large = _build_counting_steps(spec(2000))
    assert large <= 11 * small, f"{large} lines run for 2,000 products vs {small} for 200"
    second = build_shop(spec(2000), SandboxClock())
    assert first.store.tables["products"] == second.store.tables["products"]
    assert first.store.tables["combinations"] == second.store.tables["combinations"]
    assert len(first.store.tables["combinations"]) > 1000
    assert first.credentials == second.credentials and first.api_path == "/api"


# ------------------------------------------------------------------------------------------------------ categories


def _category_xml(parent: str, names: dict[int, str], slugs: dict[int, str]) -> bytes:
    name = "".join(f'<language id="{lid}">{text}</language>' for lid, text in names.items())
    slug = "".join(f'<language id="{lid}">{text}</language>' for lid, text in slugs.items())
    body = f"<prestashop><category><id_parent>{parent}</id_parent><active>1</active><name>{name}</name>"
    return (body + f"<link_rewrite>{slug}</link_rewrite></category></prestashop>").encode()


def test_a_posted_category_is_listed_under_its_parent_in_every_language_or_refused_as_prestashop_does(
    multi: PsClient,
) -> None:
    """Prevents a push that names a product's categories by name from passing against an emulator that lets no
    category be created, or that takes a name PrestaShop refuses (Validate::isCatalogName: ``#``, error 85) or a
    non-ASCII link_rewrite (isLinkRewrite with accented URLs off)."""
    kids = _category_xml("3", {1: "Kids", 2: "Enfants"}, {1: "kids", 2: "enfants"})
    created = multi.request("POST", "/categories", data=kids, headers=XML)
    assert created.status_code == 201, created.text
    cid = int(SafeET.fromstring(created.content).find("category/id").text or 0)
    rows = multi.json("/categories", display="[id,id_parent,name]")["categories"]
    [row] = [r for r in rows if r["id"] == cid]
    assert row["id_parent"] == "3"
    assert row["name"] == [{"id": "1", "value": "Kids"}, {"id": "2", "value": "Enfants"}]
    single = multi.json(f"/categories/{cid}")["category"]
    assert single["level_depth"] == "3" and single["active"] == "1"
    # A language not sent takes the default language's value (ObjectModel::getFieldsLang).
    only_en = multi.request("POST", "/categories", data=_category_xml("2", {1: "Toys"}, {1: "toys"}), headers=XML)
    assert only_en.status_code == 201
    tid = int(SafeET.fromstring(only_en.content).find("category/id").text or 0)
    assert multi.json(f"/categories/{tid}")["category"]["name"][1] == {"id": "2", "value": "Toys"}

    before = len(multi.shop.store.tables["categories"])
    bad_name = _category_xml("2", {1: "Best #1", 2: "Best"}, {1: "best", 2: "best"})
    refused = multi.request("POST", "/categories", data=bad_name, headers=XML)
    assert refused.status_code == 400
    assert "Property Category->name is not valid" in refused.text
    assert "<code><![CDATA[85]]></code>" in refused.text
    bad_slug = _category_xml("2", {1: "Eté", 2: "Eté"}, {1: "eté", 2: "eté"})
    accented = multi.request("POST", "/categories", data=bad_slug, headers=XML)
    assert accented.status_code == 400 and "link_rewrite is not valid" in accented.text
    assert len(multi.shop.store.tables["categories"]) == before
