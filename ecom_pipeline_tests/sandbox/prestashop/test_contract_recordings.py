"""Replay every recorded PrestaShop 8.2.1 exchange against the emulator and compare their structure.

Seeded data differs from the recorded demo shop, so ids are mapped to seeded ones and bodies are compared by
shape: status, Content-Type, PrestaShop headers, error codes and messages, JSON keys and JSON types (strings vs
numbers vs null), XML element paths and attributes. A failure here means a client written against the emulator
could break on a real PrestaShop 8.2.1.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from defusedxml import ElementTree as SafeET

from ecom_pipeline.sandbox.prestashop.store import PrestaStore
from ecom_pipeline.sandbox.server import SandboxServer
from ecom_pipeline_tests.sandbox.json_types import json_type
from ecom_pipeline_tests.sandbox.prestashop.conftest import MULTILANG, RECORDED, PsClient

HOP_HEADERS = {"server", "date", "connection", "transfer-encoding", "content-length", "set-cookie"}
# Association lists whose presence depends on the data (a product without images has no "images" key).
DATA_KEYS = {"associations"}


def load(name: str) -> dict[str, Any]:
    return json.loads((RECORDED / f"{name}.json").read_text())


def compare_json(recorded: Any, actual: Any, path: str = "", single: bool = False) -> list[str]:
    """Differences in keys and non-null JSON types. In single-resource objects, falsy fields may come and go."""
    rt, at = json_type(recorded), json_type(actual)
    if "null" not in (rt, at) and rt != at:
        return [f"{path or '<root>'}: recorded {rt}, emulator {at}"]
    problems: list[str] = []
    if isinstance(recorded, dict) and isinstance(actual, dict):
        for key in set(recorded) | set(actual):
            sub = f"{path}.{key}"
            if key not in actual:
                if not (single or key in DATA_KEYS or path.endswith("associations")):
                    problems.append(f"{sub}: missing in emulator")
                continue
            if key not in recorded:
                if single and path and actual[key] in ("", "0", None):
                    problems.append(f"{sub}: falsy value {actual[key]!r} not dropped")
                elif not (single or path.endswith("associations")):
                    problems.append(f"{sub}: not in recording")
                continue
            problems += compare_json(recorded[key], actual[key], sub, single and path == "")
    elif isinstance(recorded, list) and isinstance(actual, list) and recorded and actual:
        problems += compare_json(recorded[0], actual[0], path + "[]", False)
    return problems


def xml_shape(text: str) -> set[str]:
    """Element paths with attribute names (values dropped: URLs and ids differ)."""
    root = SafeET.fromstring(text.encode())
    out: set[str] = set()

    def walk(node: Any, prefix: str) -> None:
        here = f"{prefix}/{node.tag}"
        out.add(here + "@" + ",".join(sorted(node.attrib)))
        for child in node:
            walk(child, here)

    walk(root, "")
    return out


def compare_response(recorded: dict[str, Any], response: Any) -> list[str]:
    rec = recorded["response"]
    problems: list[str] = []
    if response.status_code != rec["status"]:
        problems.append(f"status: recorded {rec['status']}, emulator {response.status_code}")
    rec_headers = {k.lower(): v for k, v in rec["headers"].items()}
    got_headers = {k.lower(): v for k, v in response.headers.items()}
    for name in set(rec_headers) - HOP_HEADERS:
        if name not in got_headers:
            problems.append(f"header {name} missing")
    for name in set(got_headers) - HOP_HEADERS:
        if name not in rec_headers:
            problems.append(f"header {name} not in recording")
    if "content-type" in rec_headers and got_headers.get("content-type") != rec_headers["content-type"]:
        problems.append(f"content-type {got_headers.get('content-type')!r} != {rec_headers['content-type']!r}")
    for name in ("psws-version", "www-authenticate", "x-powered-by"):
        if name in rec_headers and got_headers.get(name) != rec_headers[name]:
            problems.append(f"{name} {got_headers.get(name)!r} != {rec_headers[name]!r}")
    body = rec["body"]
    if isinstance(body, dict | list):
        actual = response.json()
        if isinstance(body, dict) and "errors" in body:
            rec_errors = [(e["code"], e["message"]) for e in body["errors"]]
            got_errors = [(e["code"], e["message"]) for e in actual["errors"]]
            if rec_errors != got_errors:
                problems.append(f"errors {got_errors} != {rec_errors}")
        else:
            single = isinstance(body, dict) and len(body) == 1 and not isinstance(next(iter(body.values())), list)
            problems += compare_json(body, actual, single=single)
    elif body.startswith("<?xml"):
        missing = xml_shape(body) - xml_shape(response.text)
        extra = xml_shape(response.text) - xml_shape(body)
        problems += [f"xml missing {m}" for m in sorted(missing)] + [f"xml extra {e}" for e in sorted(extra)]
    elif response.text != body:
        problems.append(f"body {response.text[:80]!r} != {body[:80]!r}")
    return problems


def _product_with_combinations(store: PrestaStore) -> int:
    return next(pid for pid, c in sorted(store.combinations_of.items()) if len(c) >= 2)


def _simple_product(store: PrestaStore) -> int:
    return next(pid for pid, c in sorted(store.combinations_of.items()) if not c)


IdMap = Callable[[PrestaStore], dict[str, str]]


def _ids(store: PrestaStore) -> dict[str, str]:
    combo_pid = _product_with_combinations(store)
    simple = _simple_product(store)
    first_combo = store.combinations_of[combo_pid][0]
    return {
        "/api/products/1": f"/api/products/{combo_pid}",
        "/api/products/20": f"/api/products/{simple}",
        "/api/combinations/1": f"/api/combinations/{first_combo}",
        "/api/stock_availables/1": f"/api/stock_availables/{store.stock_index[(combo_pid, 0)]}",
        "/api/stock_availables/59": f"/api/stock_availables/{store.stock_index[(simple, 0)]}",
        "/api/customers/3": "/api/customers/3",
        "filter[id_product]=[1]": f"[{combo_pid}]",
        "filter[reference]=[demo_1]": f"[{store.product(combo_pid)['reference']}]",
    }


READ_RECORDINGS = sorted(
    p.stem for p in RECORDED.glob("*.json") if json.loads(p.read_text())["request"]["method"] in ("GET", "HEAD")
)


@pytest.mark.parametrize("name", READ_RECORDINGS)
def test_read_recording_replays_with_the_same_shape(name: str, reader: PsClient, sandbox: SandboxServer) -> None:
    """Every recorded read (incl. errors, schemas, HEAD, index) answers like PrestaShop 8.2.1 in structure."""
    recorded = load(name)
    store: PrestaStore = reader.shop.store
    ids = _ids(store)
    req = recorded["request"]
    path = ids.get(req["url_path"], req["url_path"]).removeprefix("/api")
    params = dict(req["query"])
    for key, value in list(params.items()):
        params[key] = ids.get(f"{key}={value}", value)
        if key == "filter[date_upd]":  # the recorded windows are the recording session's; widen to seeded data
            params[key] = "[2000-01-01 00:00:00,2100-01-01 00:00:00]" if "," in value else ">[2000-01-01 00:00:00]"
    headers = {k: v for k, v in req["headers"].items() if k.lower() == "output-format"}
    key: str | None = ""
    if name.startswith("errors-401-bad-key"):
        key = "BADKEYBADKEYBADKEYBADKEYBADKEY12"
    elif name == "errors-401-no-credentials":
        key = None
    response = reader.request(req["method"], path, params, key=key, headers=headers)
    problems = compare_response(recorded, response)
    assert not problems, "\n".join(problems)


def _sub_ids(body: str, mapping: dict[str, str]) -> str:
    for tag, value in mapping.items():
        body = re.sub(rf"<{tag}>(<!\[CDATA\[)?\d+(\]\]>)?</{tag}>", f"<{tag}>{value}</{tag}>", body)
    return body


def test_write_recordings_replay_in_sequence(writer: PsClient) -> None:
    """POST/PATCH/PUT/DELETE of products, stock PUTs, customer POST and order_history POST, as recorded.

    Replays the recorded bodies (ids mapped) in the recorded order and compares status, headers and XML shape:
    a client's XML writes must be accepted and answered exactly like the real shop does.
    """
    store: PrestaStore = writer.shop.store
    xml = {"Content-Type": "application/xml"}

    def replay(name: str, path: str, mapping: dict[str, str]) -> Any:
        recorded = load(name)
        body = _sub_ids(recorded["request"]["body"] or "", mapping)
        response = writer.request(recorded["request"]["method"], path, data=body.encode(), headers=xml)
        problems = compare_response(recorded, response)
        assert not problems, f"{name}:\n" + "\n".join(problems)
        return response

    created = replay("products-create-xml", "/products", {})
    pid = int(SafeET.fromstring(created.content).find("product/id").text)
    sid = store.stock_index[(pid, 0)]
    replay("products-patch-xml", f"/products/{pid}", {"id": str(pid)})
    replay("stock-availables-put-xml", f"/stock_availables/{sid}", {"id": str(sid), "id_product": str(pid)})
    combo_pid = _product_with_combinations(store)
    combo = store.combinations_of[combo_pid][0]
    combo_sid = store.stock_index[(combo_pid, combo)]
    replay(
        "stock-availables-put-combination-xml",
        f"/stock_availables/{combo_sid}",
        {"id": str(combo_sid), "id_product": str(combo_pid), "id_product_attribute": str(combo)},
    )
    replay("customers-create-xml", "/customers", {})
    replay("order-histories-create-state-change", "/order_histories", {"id_order": "2"})
    replay("products-put-full-xml", f"/products/{pid}", {"id": str(pid)})
    roundtrip = load("products-put-roundtrip-from-get")["request"]["body"].replace("/stock_availables/59", "")
    roundtrip = re.sub(r"<id><!\[CDATA\[20\]\]></id>", f"<id><![CDATA[{pid}]]></id>", roundtrip)
    roundtrip = re.sub(r"<id><!\[CDATA\[59\]\]></id>", f"<id><![CDATA[{sid}]]></id>", roundtrip)
    response = writer.request("PUT", f"/products/{pid}", data=roundtrip.encode(), headers=xml)
    assert not compare_response(load("products-put-roundtrip-from-get"), response)
    second = replay("products-create-xml", "/products", {})
    doomed = int(SafeET.fromstring(second.content).find("product/id").text)
    replay("products-delete", f"/products/{doomed}", {})
    assert writer.get(f"/products/{doomed}").status_code == 404


# --- the two-language store (prestashop-8.2.1-multilang) -----------------------------------------------------------


def load_multi(name: str) -> dict[str, Any]:
    return json.loads((MULTILANG / f"{name}.json").read_text())


def _bare_simple_product(store: PrestaStore) -> int:
    """A product without combinations, images or features, like the recorded product 318."""
    pid = max(pid for pid, c in store.combinations_of.items() if not c and pid in store.tables["products"])
    store.product_images[pid] = []
    store.product_features[pid] = []
    store.product(pid).update(id_manufacturer="0", id_supplier="0", id_default_image="")
    return pid


def _multi_ids(store: PrestaStore) -> dict[str, str]:
    combo_pid = _product_with_combinations(store)
    combos = store.combinations_of[combo_pid]
    simple = _bare_simple_product(store)
    order = min(store.tables["orders"])
    customer = int(store.tables["orders"][order]["id_customer"])
    address = next(a for a, r in sorted(store.tables["addresses"].items()) if r["id_customer"] == str(customer))
    return {
        "/api/products/316": f"/api/products/{combo_pid}",
        "/api/products/318": f"/api/products/{simple}",
        "/api/products/307": "/api/products/999999",
        "/api/orders/6": f"/api/orders/{order}",
        "/api/orders/8": f"/api/orders/{order + 1}",
        "/api/customers/23": f"/api/customers/{customer}",
        "/api/addresses/27": f"/api/addresses/{address}",
        "filter[id_product]=[316]": f"[{combo_pid}]",
        "filter[id_product]=[41]": f"[{combo_pid}]",
        "filter[id_product]=[307]": f"[{combo_pid}]",
        "filter[id_order]=[6]": f"[{order}]",
        "filter[id_customer]=[23]": f"[{customer}]",
        "price[final_combination][product_attribute]=227": str(combos[-1]),
    }


# Recordings that only make sense in their sequence (replayed by the write test below).
MULTI_SEQUENCE = {"stock-availables-orphans-after-product-delete", "errors-404-deleted-product"}
MULTI_READS = sorted(
    p.stem
    for p in MULTILANG.glob("*.json")
    if json.loads(p.read_text())["request"]["method"] in ("GET", "HEAD") and p.stem not in MULTI_SEQUENCE
)


@pytest.mark.parametrize("name", MULTI_READS)
def test_two_language_read_recording_replays_with_the_same_shape(name: str, multi: PsClient) -> None:
    """Every read of the real two-language store answers alike: {id, value} language arrays, language=N strings,
    price[...] fields, order_details, customers, addresses, countries, categories, taxes, specific prices."""
    recorded = load_multi(name)
    ids = _multi_ids(multi.shop.store)
    req = recorded["request"]
    path = ids.get(req["url_path"], req["url_path"]).removeprefix("/api")
    params = {key: ids.get(f"{key}={value}", value) for key, value in req["query"].items()}
    response = multi.request(req["method"], path, params, headers={})
    problems = compare_response(recorded, response)
    assert not problems, "\n".join(problems)


def test_two_language_languages_and_default_language_are_as_recorded(multi: PsClient) -> None:
    """Prevents a client reading the default language from a shop that does not tell it."""
    languages = multi.json("/languages", display="full")["languages"]
    assert [(lang["id"], lang["iso_code"]) for lang in languages] == [(1, "en"), (2, "fr")]
    config = multi.json("/configurations", display="full", **{"filter[name]": "[PS_LANG_DEFAULT]"})
    assert [c["value"] for c in config["configurations"]] == ["1"]
    states = multi.json("/order_states", display="full")["order_states"]
    assert [s["id"] for s in states] == [2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 1, 10]  # not in id order (recorded)
    assert states[2]["name"] == [{"id": "1", "value": "Shipped"}, {"id": "2", "value": "Shipped"}]
    categories = multi.json("/categories", display="[id,name]")["categories"]
    assert [c["id"] for c in categories] == [1, 2, 3, 6, 9, 4, 5, 7, 8]  # level by level, as recorded
    assert categories[2]["name"] == [{"id": "1", "value": "Clothes"}, {"id": "2", "value": "Vêtements"}]
    english = multi.json("/products", display="full", language="1", limit="0,2")["products"]
    assert all(isinstance(p["name"], str) for p in english)


FRENCH_NAME = "Bougie audacieuse \u2013 \u00e9dition d\u2019hiver"


def test_two_language_writes_replay_in_sequence(multi: PsClient) -> None:
    """Specific price POST then the computed prices, a PUT of the French name only, and a product delete that
    leaves the recorded orphan stock row and answers 404 afterwards."""
    store: PrestaStore = multi.shop.store
    xml = {"Content-Type": "application/xml"}
    reduced = {r["id_product"] for r in store.tables["specific_prices"].values()}
    combo_pid = next(p for p, c in sorted(store.combinations_of.items()) if len(c) >= 2 and str(p) not in reduced)

    before = multi.json(f"/products/{combo_pid}", **{"price[final][use_tax]": "1", "price[final_ht][use_tax]": "0"})
    recorded = load_multi("specific-prices-create-xml")
    body = _sub_ids(recorded["request"]["body"], {"id_product": str(combo_pid)})
    created = multi.request("POST", "/specific_prices", data=body.encode(), headers=xml)
    assert not compare_response(recorded, created), compare_response(recorded, created)
    assert SafeET.fromstring(created.content).findtext("specific_price/price") == "-1"  # echoed as sent
    listed = multi.request(
        "GET", "/specific_prices", {"output_format": "JSON", "display": "full", "filter[id_product]": f"[{combo_pid}]"}
    )
    assert not compare_response(load_multi("specific-prices-filter-product-after-create"), listed)
    assert listed.json()["specific_prices"][-1]["price"] == "-1.000000"  # stored, not echoed as sent
    params = {
        "display": "[id,price,final,final_no_reduction]",
        "price[final][use_tax]": "1",
        "price[final_no_reduction][use_tax]": "1",
        "price[final_no_reduction][use_reduction]": "0",
    }
    (after,) = multi.json(f"/products/{combo_pid}", **params)["products"]
    assert Decimal(after["final_no_reduction"]) == Decimal(before["product"]["final"])
    assert Decimal(after["final"]) == (Decimal(before["product"]["final"]) * Decimal("0.9")).quantize(Decimal("0.01"))

    simple = _bare_simple_product(store)
    document = multi.get(f"/products/{simple}").text
    root = SafeET.fromstring(document.encode())
    product = root.find("product")
    for name in ("manufacturer_name", "quantity"):
        product.remove(product.find(name))
    product.find("name/language[@id='2']").text = FRENCH_NAME
    from xml.etree.ElementTree import tostring

    put = multi.request("PUT", f"/products/{simple}", data=tostring(root, encoding="utf-8"), headers=xml)
    assert not compare_response(load_multi("products-put-xml-fr-name-changed"), put)
    name = multi.json(f"/products/{simple}")["product"]["name"]
    english = store.text(store.product(simple)["name"], 1)
    assert name == [{"id": "1", "value": english}, {"id": "2", "value": FRENCH_NAME}]

    stock = {"output_format": "JSON", "display": "full", "filter[id_product]": f"[{combo_pid}]"}
    rows_before = multi.request("GET", "/stock_availables", stock).json()["stock_availables"]
    deleted = multi.request("DELETE", f"/products/{combo_pid}")
    assert not compare_response(load_multi("products-delete-with-combinations"), deleted)
    orphans = multi.request("GET", "/stock_availables", stock)
    assert not compare_response(load_multi("stock-availables-orphans-after-product-delete"), orphans)
    (orphan,) = orphans.json()["stock_availables"]
    assert orphan["id"] > max(r["id"] for r in rows_before)
    assert (orphan["id_product_attribute"], orphan["quantity"], orphan["out_of_stock"]) == ("0", "0", "0")
    gone = multi.get(f"/products/{combo_pid}", {"output_format": "JSON"})
    assert not compare_response(load_multi("errors-404-deleted-product"), gone)
