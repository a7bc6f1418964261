"""The seeded WooCommerce products' slugs, as WordPress would have saved them (issue 10, review).

The emulator's seed made slugs with an ASCII fold of its own and never made them unique, so two seeded products
named ``Wool Mug`` both held ``wool-mug``, which no WordPress shop has (``wp_unique_post_slug`` gives the second
``wool-mug-2``), and the writer's look-up of a lost create by slug reads the shop's slugs as WordPress makes them.
"""

from __future__ import annotations

from collections import Counter

from ecom_pipeline.platforms.woocommerce import slugs
from ecom_pipeline.sandbox.woocommerce.store import WooStore


def test_seeded_published_products_hold_unique_wordpress_slugs() -> None:
    """Prevents two seeded products from holding one slug (and slugs WordPress would not make)."""
    store = WooStore("seed-slugs", seed=3, products=50, orders=0, customers=0)
    published = [p for p in store.products.values() if p.status == "publish"]
    names = Counter(p.name for p in published)
    assert any(n > 1 for n in names.values()), "the seed must repeat a name for this test to mean anything"
    held = Counter(p.slug for p in published)
    assert [s for s, n in held.items() if n > 1] == []
    for p in published:
        wanted = slugs.sanitize_title(p.name)
        assert p.slug == wanted or any(p.slug == slugs.suffixed_slug(wanted, n) for n in range(2, 10)), p
    assert not held.keys() & slugs.RESERVED_FLAT_SLUGS
