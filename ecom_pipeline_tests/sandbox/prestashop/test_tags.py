"""The emulated PrestaShop's product tags (``/api/tags`` and a product's ``associations/tags``), as PrestaShop 8.2.1's
webservice serves them: a tag per language, refused names (error 85), the product's list replaced by a write, and a
key that may not use ``tags`` (the recorded key's case) refused with error 26.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from defusedxml import ElementTree as SafeET

from ecom_pipeline.sandbox.server import SandboxServer, ShopSpec
from ecom_pipeline_tests.sandbox.prestashop.conftest import ANCHOR, PsClient

XML = {"Content-Type": "application/xml"}


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    common = {"platform": "prestashop", "seed": 4, "products": 3, "orders": 0, "customers": 0, "anchor": ANCHOR}
    specs = [
        ShopSpec(name="ps-tags", options={"languages": ["en", "fr"], "key_resources": ["tags"]}, **common),
        ShopSpec(name="ps-recorded-key", **common),
    ]
    with SandboxServer(shops=specs, cert_dir=tmp_path_factory.mktemp("certs")) as sb:
        yield sb


def _tag(lang: str, name: str) -> bytes:
    return f"<prestashop><tag><id_lang>{lang}</id_lang><name>{name}</name></tag></prestashop>".encode()


def test_tags_are_created_per_language_and_refused_as_prestashop_refuses_them(sandbox: SandboxServer) -> None:
    """Prevents a tag push passing against an emulator that takes what PrestaShop refuses: a name over 32
    characters, one with ``<>={}`` (Validate::isGenericName), no language (error 85); a name is not unique (a
    second POST is a second tag), and a tag is one language's."""
    client = PsClient(sandbox.shop("ps-tags"))
    gift = client.request("POST", "/tags", data=_tag("1", "gift"), headers=XML)
    assert gift.status_code == 201, gift.text
    gift_id = int(SafeET.fromstring(gift.content).find("tag/id").text or 0)
    again = client.request("POST", "/tags", data=_tag("1", "gift"), headers=XML)
    cadeau = client.request("POST", "/tags", data=_tag("2", "cadeau"), headers=XML)
    assert again.status_code == cadeau.status_code == 201
    rows = client.json("/tags", display="[id,id_lang,name]")["tags"]
    assert [(r["id_lang"], r["name"]) for r in rows] == [("1", "gift"), ("1", "gift"), ("2", "cadeau")]
    assert client.json(f"/tags/{gift_id}")["tag"] == {"id": gift_id, "id_lang": "1", "name": "gift"}

    before = len(client.shop.store.tables["tags"])
    for body, message in (
        (_tag("1", "x" * 33), "Property Tag->name length (33) must be between 0 and 32"),
        (_tag("1", "a=b"), "Property Tag->name is not valid"),
        (_tag("", "gift"), "Property Tag->id_lang is empty."),
        (_tag("1", ""), "Property Tag->name is empty."),
    ):
        refused = client.request("POST", "/tags", data=body, headers=XML)
        assert refused.status_code == 400 and message in refused.text, refused.text
        assert "<code><![CDATA[85]]></code>" in refused.text
    assert len(client.shop.store.tables["tags"]) == before


def test_a_products_tags_are_the_whole_list_a_write_sends(sandbox: SandboxServer) -> None:
    """Prevents an emulator that drops a product's tags association (PrestaShop's recorded product shows
    ``<tags nodeType="tag" api="tags"/>``): a PUT replaces the list (Product::setWsTags), a PUT without the node
    keeps it, and the product lists the tags of every language."""
    client = PsClient(sandbox.shop("ps-tags"))
    store = client.shop.store
    pid = min(store.tables["products"])
    document = client.get(f"/products/{pid}")
    assert document.status_code == 200
    root = SafeET.fromstring(document.content)
    product = root.find("product")
    assert product is not None
    for name in ("manufacturer_name", "quantity"):
        node = product.find(name)
        if node is not None:
            product.remove(node)
    tags = product.find("associations/tags")
    assert tags is not None and list(tags) == []
    for tid in ("1", "3"):
        tag = SafeET.fromstring(f"<tag><id>{tid}</id></tag>")
        tags.append(tag)
    put = client.request("PUT", f"/products/{pid}", data=SafeET.tostring(root), headers=XML)
    assert put.status_code == 200, put.text
    assert client.json(f"/products/{pid}")["product"]["associations"]["tags"] == [{"id": "1"}, {"id": "3"}]
    assert store.product_tags[pid] == ["1", "3"]


def test_a_key_without_tags_is_refused_as_the_recorded_key_is(sandbox: SandboxServer) -> None:
    """Prevents a push that needs ``tags`` from passing only because the emulator's key may use every resource:
    the recorded key's index has no ``tags`` and PrestaShop answers 401 with error 26."""
    client = PsClient(sandbox.shop("ps-recorded-key"))
    refused = client.get("/tags")
    assert refused.status_code == 401
    assert 'Resource of type "tags" is not allowed with this authentication key' in refused.text
    granted = PsClient(sandbox.shop("ps-tags")).get("/")
    assert b'<tags xlink:href="' in granted.content and b"The Products tags" in granted.content
