"""PrestaShop client against a replay of the real 8.2.1 shop (no emulator, no mocks of our code).

Each test names the failure it prevents: lost or endless pages, a date filter an hour off, a retried bad request,
an error that tells the user nothing, or a PUT that wipes fields.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

import pytest

from ecom_pipeline.platforms.errors import ShopApiError
from ecom_pipeline.platforms.prestashop.client import PrestaShopClient, set_xml_field
from ecom_pipeline.platforms.prestashop.errors import (
    PrestaShopAuthError,
    PrestaShopBadParameterError,
    PrestaShopJsonIndexError,
    PrestaShopNoCredentialsError,
    PrestaShopNotFoundError,
    PrestaShopPermissionError,
    PrestaShopUnknownResourceError,
)
from ecom_pipeline_tests.platforms.prestashop.replay import PrestaShopReplay, body, ps_json, recorded
from ecom_pipeline_tests.platforms.replay_server import Reply

KEY = "ABCDEFGHIJKLMNOPQRSTUVWXYZ123456"


@pytest.fixture
def server() -> Iterator[PrestaShopReplay]:
    with PrestaShopReplay() as srv:
        yield srv


def client_for(server: PrestaShopReplay, **kw: object) -> PrestaShopClient:
    return PrestaShopClient(server.site_url, KEY, sleep=lambda s: None, timeout=5.0, **kw)  # type: ignore[arg-type]


# -- paging ---------------------------------------------------------------------------------------------------


def test_offset_paging_stops_on_the_short_page_because_there_is_no_total(server: PrestaShopReplay) -> None:
    """Prevents an endless loop or a lost last page: PrestaShop sends no total/next link; a short page ends it."""
    server.add("GET", "products", recorded("products-list-full-limit-0-5.json"), match={"limit": "0,5"})
    server.add("GET", "products", recorded("products-list-full-limit-5-5.json"), match={"limit": "5,5"})
    server.add("GET", "products", ps_json([]), match={"limit": "10,5"})  # PHP renders an empty result as []
    with client_for(server) as client:
        pages = list(client.iter_pages("products", {"display": "full"}, page_size=5))
    assert [len(p.items) for p in pages] == [5, 5, 0]
    assert [p.items[0]["id"] for p in pages[:2]] == [1, 6]
    sent = [r.params for r in server.requests]
    assert [s["limit"] for s in sent] == ["0,5", "5,5", "10,5"]
    assert all(s["output_format"] == "JSON" and s["display"] == "full" for s in sent)


def test_full_scan_pages_by_id_keyset_so_a_deletion_mid_scan_cannot_skip_a_record(server: PrestaShopReplay) -> None:
    """Prevents offset drift: after a full page the next request starts after the last id, not at an offset."""
    page1 = body("products-list-full-limit-0-5.json")
    page2 = body("products-list-full-limit-5-5.json")
    server.add("GET", "products", ps_json(page1), match={"filter[id]": ">[0]"})
    server.add("GET", "products", ps_json(page2), match={"filter[id]": ">[5]"})
    server.add(
        "GET",
        "products",
        ps_json({"products": [{"id": 11, "date_upd": "2026-11-22 01:03:53"}]}),
        match={"filter[id]": ">[10]"},
    )
    with client_for(server, page_size=5) as client:
        ids = [item["id"] for page in client.iter_all("products") for item in page.items]
    assert ids == list(range(1, 12))
    assert [r.params["sort"] for r in server.requests] == ["[id_ASC]"] * 3
    assert [r.params["limit"] for r in server.requests] == ["5"] * 3


def test_id_list_is_one_cheap_call_per_thousand_ids(server: PrestaShopReplay) -> None:
    """Prevents deletion detection from costing a full download: ids only, display=[id]."""
    server.add("GET", "products", recorded("products-list-ids-only.json"), match={"display": "[id]"})
    with client_for(server) as client:
        assert client.list_ids("products") == list(range(1, 20))
    assert len(server.requests) == 1 and server.requests[0].params["limit"] == "1000"


# -- date filters -----------------------------------------------------------------------------------------------


def _modified_filter(server: PrestaShopReplay, since: datetime, zone: str = "Europe/Paris") -> dict[str, str]:
    server.add("GET", "products", recorded("products-filter-date-upd-range.json"))
    with client_for(server) as client:
        list(client.iter_modified("products", since, zone, now=datetime(2026, 11, 22, 12, tzinfo=UTC)))
    return server.requests[-1].params


def test_date_filter_is_sent_in_shop_local_time_not_utc(server: PrestaShopReplay) -> None:
    """Prevents an hour-off window: the recorded shop (Europe/Paris, UTC+1 in November) filters on local time."""
    params = _modified_filter(server, datetime(2026, 11, 22, 0, 13, 16, tzinfo=UTC))
    assert params["filter[date_upd]"] == "[2026-11-22 01:13:16,2026-11-23 13:00:00]"
    assert params["date"] == "1"
    assert params["sort"] == "[date_upd_ASC,id_ASC]"


def test_date_filter_in_another_zone(server: PrestaShopReplay) -> None:
    """Prevents a hard-coded zone: a New York shop's filter is UTC-5 in November."""
    params = _modified_filter(server, datetime(2026, 11, 22, 0, 13, 16, tzinfo=UTC), "America/New_York")
    assert params["filter[date_upd]"].startswith("[2026-11-21 19:13:16,")


def test_date_filter_before_autumn_change_reaches_back_to_the_repeated_hour(server: PrestaShopReplay) -> None:
    """Prevents missing changes after the clocks go back: 02:30 CEST is followed by 02:00-02:59 CET again.

    Cursor 2026-10-25 00:30 UTC = 02:30 CEST; at 01:00 UTC (03:00 CEST) Paris returns to 02:00 CET, so a record
    changed at 01:10 UTC reads "02:10" locally. A filter from 02:30 would hide it; the floor must be 02:00.
    """
    params = _modified_filter(server, datetime(2026, 10, 25, 0, 30, tzinfo=UTC))
    assert params["filter[date_upd]"].startswith("[2026-10-25 02:00:00,")


def test_date_filter_across_spring_change_is_the_plain_local_time(server: PrestaShopReplay) -> None:
    """Prevents an over-correction in spring: after the gap wall time only moves forward."""
    params = _modified_filter(server, datetime(2026, 3, 29, 0, 30, tzinfo=UTC))  # 01:30 CET, gap at 02:00
    assert params["filter[date_upd]"].startswith("[2026-03-29 01:30:00,")


def test_modified_scan_advances_by_keyset_and_drops_boundary_repeats(server: PrestaShopReplay) -> None:
    """Prevents skipped or duplicated records: the next window starts at the last date_upd (inclusive)."""
    first = {"products": [{"id": 1, "date_upd": "2026-11-22 01:00:00"}, {"id": 2, "date_upd": "2026-11-22 01:00:05"}]}
    second = {"products": [{"id": 2, "date_upd": "2026-11-22 01:00:05"}, {"id": 3, "date_upd": "2026-11-22 01:00:07"}]}
    server.add(
        "GET",
        "products",
        ps_json(first),
        match={"limit": "0,2", "filter[date_upd]": "[2026-11-22 00:59:00,2026-11-23 13:00:00]"},
    )
    server.add(
        "GET",
        "products",
        ps_json(second),
        match={"limit": "0,2", "filter[date_upd]": "[2026-11-22 01:00:05,2026-11-23 13:00:00]"},
    )
    server.add(
        "GET",
        "products",
        ps_json({"products": [{"id": 3, "date_upd": "2026-11-22 01:00:07"}]}),
        match={"filter[date_upd]": "[2026-11-22 01:00:07,2026-11-23 13:00:00]"},
    )
    with client_for(server, page_size=2) as client:
        pages = list(
            client.iter_modified(
                "products",
                datetime(2026, 11, 21, 23, 59, tzinfo=UTC),
                "Europe/Paris",
                now=datetime(2026, 11, 22, 12, tzinfo=UTC),
            )
        )
    seen = [item["id"] for page in pages for item in page.items]
    assert seen == [1, 2, 3]


# -- errors -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("recording", "resource", "expected", "code"),
    [
        ("errors-401-bad-key-json.json", "products", PrestaShopAuthError, "20"),
        ("errors-401-bad-key-xml.json", "products", PrestaShopAuthError, "20"),
        ("errors-401-no-credentials.json", "products", PrestaShopNoCredentialsError, None),
        ("errors-401-resource-not-allowed-for-key.json", "employees", PrestaShopPermissionError, "26"),
        ("errors-400-unknown-resource.json", "bogusresource", PrestaShopUnknownResourceError, "27"),
        ("errors-bad-display-field.json", "products", PrestaShopBadParameterError, "35"),
        ("errors-bad-sort.json", "products", PrestaShopBadParameterError, "37"),
    ],
)
def test_each_recorded_error_form_becomes_an_actionable_error(
    server: PrestaShopReplay, recording: str, resource: str, expected: type[ShopApiError], code: str | None
) -> None:
    """Prevents "HTTP 401"/"HTTP 500" with no advice, and 400s promoted to 500 by PHP warnings being retried."""
    server.add("GET", resource, recorded(recording))
    with client_for(server) as client, pytest.raises(expected) as info:
        client.list(resource, {"display": "full"})
    err = info.value
    assert err.code == code
    assert len(server.requests) == 1, "a deterministic error must not be retried"
    text = str(err)
    assert (KEY not in text and "Advanced Parameters" in text) or expected in (
        PrestaShopUnknownResourceError,
        PrestaShopBadParameterError,
        PrestaShopNoCredentialsError,
    )
    if code == "37":
        assert "sort" in err.message and "PHP warnings" in err.message


def test_an_xml_error_body_keeps_the_shops_own_message(server: PrestaShopReplay) -> None:
    """Prevents "non-JSON error body: <?xml ..." in place of what the shop said (an XML write is refused in XML)."""
    refusal = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<prestashop xmlns:xlink="http://www.w3.org/1999/xlink">\n<errors>\n'
        "<error>\n<code><![CDATA[85]]></code>\n"
        '<message><![CDATA[Validation error: "Property AttributeGroup->public_name is empty."]]></message>\n'
        "</error>\n</errors>\n</prestashop>\n"
    )
    server.add("POST", "product_options", Reply.text(400, refusal, "text/xml;charset=utf-8"))
    with client_for(server) as client, pytest.raises(ShopApiError) as info:
        client.post_xml("product_options", ET.fromstring("<prestashop><product_option/></prestashop>"))
    err = info.value
    assert err.code == "85"
    assert err.message == 'Validation error: "Property AttributeGroup->public_name is empty."'
    assert "non-JSON" not in str(err) and "AttributeGroup->public_name is empty" in str(err)


def test_unknown_id_is_a_not_found_error_despite_the_empty_body(server: PrestaShopReplay) -> None:
    """Prevents "empty body where JSON was expected" retries: 404 without body or Content-Type means gone."""
    server.add("GET", "products/99999", recorded("errors-404-unknown-product-json.json"))
    with client_for(server) as client, pytest.raises(PrestaShopNotFoundError) as info:
        client.get("products", 99999)
    assert "deleted" in str(info.value)
    assert len(server.requests) == 1


def test_json_resource_index_500_is_named_as_the_known_bug(server: PrestaShopReplay) -> None:
    """Prevents a misleading "server down": GET /api/?output_format=JSON is PrestaShop#34794."""
    server.add("GET", "", recorded("api-index-json-500.json"))
    with client_for(server, max_retries=0) as client, pytest.raises(PrestaShopJsonIndexError):
        client.request("GET", "")


def test_permissions_come_from_the_xml_index(server: PrestaShopReplay) -> None:
    """Prevents a connect that cannot say which resources the key lacks (the JSON index is broken)."""
    server.add("GET", "", recorded("api-index-xml.json"))
    with client_for(server) as client:
        permissions = client.resource_permissions()
    assert permissions["products"]["get"] is True
    assert "employees" not in permissions
    assert "output_format" not in server.requests[0].params


def test_key_is_the_basic_auth_user_with_an_empty_password(server: PrestaShopReplay) -> None:
    """Prevents a 401 "no credentials": PrestaShop reads the key from the Basic user name."""
    server.add("GET", "products", recorded("products-list-ids-only.json"))
    with client_for(server) as client:
        client.check_credentials()
    sent = server.requests[0].headers["Authorization"]
    assert sent == "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()
    assert repr(client.http._session.auth) == "PrestaShopBasicAuth(<redacted>)"


def test_multishop_id_is_sent_on_every_call(server: PrestaShopReplay) -> None:
    """Prevents syncing the default shop's data for an integration connected to another shop."""
    server.add("GET", "products", recorded("products-list-ids-only.json"))
    with client_for(server, shop_id=2) as client:
        client.list_ids("products")
    assert server.requests[0].params["id_shop"] == "2"


# -- XML writes --------------------------------------------------------------------------------------------------


def test_xml_get_modify_put_round_trip_keeps_every_field(server: PrestaShopReplay) -> None:
    """Prevents a PUT that wipes fields or sends read-only ones: the whole document goes back, changed."""
    server.add("GET", "products/20", recorded("products-put-roundtrip-from-get.json"))  # any product XML
    server.add("PUT", "products/20", recorded("products-put-roundtrip-from-get.json"))
    with client_for(server) as client:
        tree = client.get_xml("products", 20)
        set_xml_field(tree, "price", "15.000000")
        result = client.put_xml("products", 20, tree)
    method, _, sent = server.bodies[-1]
    assert method == "PUT"
    assert "<price>15.000000</price>" in sent
    assert not re.search(r"<(manufacturer_name|quantity)[ >/]", sent), "read-only fields must not be PUT"
    assert "<date_add>" in sent and "<reference>" in sent
    assert server.requests[-1].headers["Content-Type"].startswith("text/xml")
    assert "output_format" not in server.requests[-1].params
    product = result.getroot().find("product")
    assert product is not None and product.findtext("id") == "20"
    assert product.findtext("price") == "15.000000"


def test_xml_parser_refuses_entity_expansion(server: PrestaShopReplay) -> None:
    """Prevents a billion-laughs document from a hostile shop exhausting memory (defusedxml)."""
    from ecom_pipeline.platforms.errors import ShopResponseError

    bomb = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><prestashop><product>&a;</product></prestashop>'
    server.add("GET", "products/1", Reply.text(200, bomb, "text/xml"))
    with client_for(server) as client, pytest.raises(ShopResponseError):
        client.get_xml("products", 1)


def test_a_put_whose_answer_is_not_read_checks_it_without_building_its_tree(
    server: PrestaShopReplay, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prevents the push's 1,000 combination PUTs parsing each answer whole (defusedxml) only to drop it, and the
    cheaper check accepting an answer ``put_xml`` refuses: a broken or entity-bearing answer fails the same way."""
    import defusedxml.ElementTree as SafeET

    from ecom_pipeline.platforms.errors import ShopResponseError

    good = recorded("products-put-roundtrip-from-get.json")
    bomb = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><prestashop><product>&a;</product></prestashop>'
    bad = [
        Reply.text(200, bomb, "text/xml"),
        Reply.text(200, "<prestashop><product><id>20</id></product>", "text/xml"),  # cut off
        Reply.text(200, "<prestashop><product>&undefined;</product></prestashop>", "text/xml"),
        Reply.text(200, "not xml", "text/xml"),
    ]
    server.add("GET", "products/20", good)
    server.add("PUT", "products/20", good, *[reply for reply in bad for _ in (1, 2)])  # each: checked, then full
    parsed: list[int] = []
    real = SafeET.fromstring
    monkeypatch.setattr(SafeET, "fromstring", lambda text, **kw: parsed.append(1) or real(text, **kw))
    with client_for(server) as client:
        tree = client.get_xml("products", 20)
        parsed.clear()
        assert client.put_xml_checked("products", 20, tree) is None
        assert parsed == []  # a well-formed answer is not built into a tree
        for _ in bad:
            with pytest.raises(ShopResponseError) as checked:
                client.put_xml_checked("products", 20, tree)
            with pytest.raises(ShopResponseError) as full:
                client.put_xml("products", 20, tree)
            assert str(checked.value) == str(full.value)
