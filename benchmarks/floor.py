"""The floor: download exactly the pages a full sync reads, with plain ``requests``, and do nothing else.

Same auth as the pipeline (``auth_for``: OAuth 1.0a over plain HTTP), same ``per_page=100`` and ordering
(``orderby=id&order=asc``): the product pages, the variations of each page's variable products as the sync reads
them (``wc-analytics/variations?parent=<ids>``, parents grouped as ``extract.VariationFetcher`` groups them), the
order pages and the customer pages, one keep-alive session, one process. JSON is decoded (the product pages must
be, to know which products are variable); the time spent decoding is reported apart. Given the shop's pid, it also
reads the CPU the shop's process and this client spent over the same window as the wall (``benchmarks.cpu``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import requests

from benchmarks import cpu
from ecom_pipeline.platforms.woocommerce.auth import auth_for
from ecom_pipeline.platforms.woocommerce.extract import _listing_groups


@dataclass
class FloorResult:
    wall_s: float = 0.0
    json_s: float = 0.0
    calls: int = 0
    bytes: int = 0
    products: int = 0
    variable_products: int = 0
    variations: int = 0
    orders: int = 0
    order_lines: int = 0
    customers: int = 0
    calls_by_entity: dict[str, int] = field(default_factory=dict)
    shop_cpu_s: float | None = None  # the emulator's process during the pass (None: no pid given)
    client_cpu_s: float = 0.0  # this process during the pass: requests, OAuth signing, JSON decoding
    shop_wait_s: float | None = None  # the shop's threads waited for a core (schedstat)
    client_wait_s: float | None = None  # this process's threads waited for a core

    @property
    def expected_variants(self) -> int:
        """hub_variants rows a correct sync creates: each variation, plus one per non-variable product."""
        return self.variations + (self.products - self.variable_products)

    @property
    def rows(self) -> int:
        return self.products + self.variations + self.orders + self.customers


def download(
    site_url: str, consumer_key: str, consumer_secret: str, per_page: int = 100, shop_pid: int | None = None
) -> FloorResult:
    api = site_url.rstrip("/") + "/wp-json/wc/v3"
    res = FloorResult()
    session = requests.Session()
    session.auth = auth_for(site_url, consumer_key, consumer_secret)

    def get(path: str, params: dict, entity: str) -> list:
        r = session.get(path if path.startswith("http") else f"{api}/{path}", params=params, timeout=60)
        r.raise_for_status()
        res.calls += 1
        res.calls_by_entity[entity] = res.calls_by_entity.get(entity, 0) + 1
        res.bytes += len(r.content)
        t = time.perf_counter()
        items = r.json()
        res.json_s += time.perf_counter() - t
        return items

    def pages(path: str, entity: str) -> Iterator[list]:
        page = 1
        while True:
            items = get(path, {"per_page": per_page, "orderby": "id", "order": "asc", "page": page}, entity)
            yield items
            if len(items) < per_page:
                return
            page += 1

    before = cpu.read(shop_pid, None)
    t0 = time.perf_counter()
    for items in pages("products", "product"):
        res.products += len(items)
        variable = {int(item["id"]): item for item in items if item.get("type") == "variable"}
        res.variable_products += len(variable)
        for group in _listing_groups(variable):
            parent = ",".join(str(i) for i in group)
            listed = sum(len(variable[i].get("variations") or []) for i in group)
            page = 1
            while True:
                variations = get(
                    f"{site_url.rstrip('/')}/wp-json/wc-analytics/variations",
                    {"parent": parent, "per_page": 100, "orderby": "id", "order": "asc", "page": page},
                    "variation",
                )
                res.variations += len(variations)
                if len(variations) < 100 or page * 100 >= listed:  # the sync stops at X-WP-TotalPages
                    break
                page += 1
    for items in pages("orders", "order"):
        res.orders += len(items)
        res.order_lines += sum(len(o.get("line_items") or []) for o in items)
    for items in pages("customers", "customer"):
        res.customers += len(items)
    res.wall_s = time.perf_counter() - t0
    spent = cpu.window(before, cpu.read_after(shop_pid, None))
    res.shop_cpu_s = spent["shop_cpu_s"]
    res.client_cpu_s = spent["self_cpu_s"] or 0.0
    res.shop_wait_s = spent["shop_wait_s"]
    res.client_wait_s = spent["self_wait_s"]
    session.close()
    return res
