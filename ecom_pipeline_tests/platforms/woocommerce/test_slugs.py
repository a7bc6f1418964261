"""WordPress's product slugs (``slugs.py``), pinned on WordPress's own expectations and on real WooCommerce answers.

The cases of ``test_wordpress_*`` are those of WordPress's unit tests
(``tests/phpunit/tests/formatting/sanitizeTitleWithDashes.php``); the ``recorded`` one is a real WooCommerce
10.0.2 answer (``shared/fixtures/recorded/woocommerce-10.0.2/products-list-page1.json``: the product named
``Crème brûlée Tasse – 250 ml`` holds ``creme-brulee-tasse-250-ml``). The emulator's create and ``?slug=`` filter
are checked to use them, and the writer's create slug (``create_slug``) to be what the shop saves.
"""

# ruff: noqa: RUF001, RUF002  (WordPress's cases are about these look-alike characters)
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ecom_pipeline.platforms.woocommerce import slugs
from ecom_pipeline.platforms.woocommerce.writer import _create_payload, create_slug
from ecom_pipeline.sandbox.faults import FaultSwitches
from ecom_pipeline.sandbox.woocommerce.api import WooShopApi
from ecom_pipeline.sandbox.woocommerce.auth import WooAuthenticator
from ecom_pipeline.sandbox.woocommerce.store import WooStore
from ecom_pipeline.sandbox.woocommerce.webhooks import WooWebhooks
from ecom_pipeline.sync.export import ProductCreate, VariantValues

SAVE = [
    ("One &amp; Two", "one-two"),
    ("One &#123; Two;", "one-two"),
    ("One Two™;", "one-two"),
    ("One &&amp; Two;", "one-two"),
    ("One&Two", "onetwo"),
    ("don't\u00a0break\u00a0the\u00a0space", "dont-break-the-space"),
    ("don't&nbsp;break&#160;the&nbsp;space", "dont-break-the-space"),
    ("Do – the Dash", "do-the-dash"),
    ("Do the — Dash", "do-the-dash"),
    ("Do &ndash; the &#8211; Dash", "do-the-dash"),
    ("Do &mdash; the &#8212; Dash", "do-the-dash"),
    ("Just ¡a Slug", "just-a-slug"),
    ("Just a Slug¿", "just-a-slug"),
    ("‹Just a Slug›", "just-a-slug"),
    ("«Just a Slug»", "just-a-slug"),
    ("Hey its “Curly Joe”", "hey-its-curly-joe"),
    ("Hey its ‘Curly Joe’", "hey-its-curly-joe"),
    ("Hey its „Curly Joe“", "hey-its-curly-joe"),
    ("Hey its ‚Curly Joe‛", "hey-its-curly-joe"),
    ("Fancy Title • Amazing", "fancy-title-amazing"),
    ("Just © a Slug", "just-a-slug"),
    ("® Just a Slug", "just-a-slug"),
    ("Just a ° Slug", "just-a-slug"),
    ("Just ™ a Slug", "just-a-slug"),
    ("songs by Lennon/McCartney", "songs-by-lennon-mccartney"),
    ("songs by Lennon///McCartney", "songs-by-lennon-mccartney"),
    ("songs by Lennon/-McCartney", "songs-by-lennon-mccartney"),
    ("//songs by Lennon/McCartney", "songs-by-lennon-mccartney"),
    ("6×7 is 42", "6x7-is-42"),
    ("a\u0304a\u0301a\u030ca\u0300", "aaaa"),  # standalone diacritics (ticket 20772)
    ("a\u0301a\u0341a\u00b4a\u02ca", "aaaa"),  # acute accents (ticket 22395)
    ("%e2%80%8bNonvisible at start of title", "nonvisible-at-start-of-title"),
    (
        "Nonvisible%ef%bb%bf %e2%80%aerandomly %e2%80%8ein the %e2%80%8e title%e2%80%8e",
        "nonvisible-randomly-in-the-title",
    ),
    ("Nonvisible at end of title %e2%80%81 %e2%80%af", "nonvisible-at-end-of-title"),
]  # fmt: skip

DISPLAY = [
    ("Captain <strong>Awesome</strong>", "captain-awesome"),
    ("fran%c3%a7%ois", "fran%c3%a7ois"),
    ("ABC", "abc"),
    ("a          t", "a-t"),
    ("a    \n\n\nt", "a-t"),
    ("a----t----t----", "a-t-t"),
    ("penn & teller bull", "penn-teller-bull"),
    ("No &nbsp; Entities &ndash; Here &amp;", "no-entities-here"),
    ("Nonvisible %ef%bb%bfin middle of title", "nonvisible-%ef%bb%bfin-middle-of-title"),
    ("Nonvisible at end of title %e2%80%81", "nonvisible-at-end-of-title-%e2%80%81"),
]


@pytest.mark.parametrize(("title", "expected"), SAVE)
def test_wordpress_save_context(title: str, expected: str) -> None:
    assert slugs.sanitize_title_with_dashes(title, "save") == expected


@pytest.mark.parametrize(("title", "expected"), DISPLAY)
def test_wordpress_display_context(title: str, expected: str) -> None:
    assert slugs.sanitize_title_with_dashes(title) == expected


@pytest.mark.parametrize(
    ("handle", "saved"),
    [
        ("Crème brûlée Tasse – 250 ml", "creme-brulee-tasse-250-ml"),  # recorded
        ("tee.shirt", "tee-shirt"),
        ("Tee", "tee"),
        ("tee_shirt", "tee_shirt"),
        ("Æsir Øl", "aesir-ol"),
        ("日本", "%e6%97%a5%e6%9c%ac"),
        ("x" * 250, "x" * 200),
    ],
)
def test_sanitize_title_saves_a_slug_as_wordpress(handle: str, saved: str) -> None:
    """``sanitize_title`` (save): accents removed, lower-cased, ``.`` a dash, other unicode percent-encoded, 200
    characters at most; and a saved slug asked for with ``?slug=`` (query context) is itself."""
    assert slugs.sanitize_title(handle) == saved
    assert slugs.sanitize_title(saved, "query") == saved


def test_query_context_keeps_accents_and_skips_the_save_replacements() -> None:
    """``WP_Query`` sanitises ``name`` without ``remove_accents``: asking for ``crème`` never finds ``creme``."""
    assert slugs.sanitize_title("Crème – x", "query") == "cr%c3%a8me-%e2%80%93-x"


def test_suffixed_slug_cuts_like_wp_unique_post_slug() -> None:
    assert slugs.suffixed_slug("tee-shirt", 2) == "tee-shirt-2"
    assert slugs.suffixed_slug("a" * 200, 2) == "a" * 198 + "-2"
    assert slugs.suffixed_slug("a" * 197 + "-bc", 12) == "a" * 197 + "-12"  # the cut's trailing dash dropped
    # Whole encoded characters only (six characters each):
    assert slugs.suffixed_slug("%c3%a9" * 33, 2) == "%c3%a9" * 33 + "-2"  # 198 characters fit 200 - len("-2")
    assert slugs.suffixed_slug("%c3%a9" * 33, 12) == "%c3%a9" * 32 + "-12"  # 197 do not: 32 whole ones


def _create(
    handle: str | None, kind: str = "variable", title: str = "T-Shirt", hub_id: int = 42, sku: str | None = None
) -> ProductCreate:
    values = {"title": title, "status": "active"}
    variants = (VariantValues(hub_id * 10, sku, {}, {}),) if sku is not None else ()
    return ProductCreate(hub_id=hub_id, handle=handle, kind=kind, values=values, variants=variants)


def test_create_slug_is_the_saved_form_of_the_handle() -> None:
    assert create_slug(_create("tee.shirt")) == "tee-shirt"
    assert create_slug(_create("Tee")) == "tee"


def test_a_variable_create_without_handle_gets_a_deterministic_slug() -> None:
    """The rerun after a kill or a lost answer must ask for the slug the first try sent: the title's and the hub
    id, the same on every push; a handle leaving nothing falls back to it too."""
    assert create_slug(_create(None)) == "t-shirt-h42"
    assert create_slug(_create(None, title="Crème brûlée")) == "creme-brulee-h42"
    assert create_slug(_create("!!", title="")) == "product-h42"
    long = create_slug(_create(None, title="x" * 300, hub_id=123456))
    assert long is not None and len(long) == 200 and long.endswith("x-h123456")
    assert create_slug(_create(None, kind="simple", sku="MUG-1")) is None  # found again by its SKU; WordPress names it
    # Without a SKU, nothing else finds a simple product again: it is made like a variable parent's.
    assert create_slug(_create(None, kind="simple", sku="")) == "t-shirt-h42"
    assert _create_payload(_create(None))["slug"] == "t-shirt-h42"


def test_the_emulator_saves_a_given_slug_as_wordpress_and_filters_by_the_query_form() -> None:
    """Like ``wp_insert_post``: ``tee.shirt`` is saved ``tee-shirt`` (``Tee.Shirt`` then ``tee-shirt-2``), a slug
    leaving nothing takes the title's; like ``WP_Query``'s ``name``: ``?slug=Tee.Shirt`` finds ``tee-shirt``,
    ``?slug=crème`` (query context: accents kept, percent-encoded) does not find ``creme``."""
    store = WooStore("s", seed=1, products=0, orders=0, customers=0, anchor=datetime(2026, 11, 1, tzinfo=UTC))
    first = store.create_product({"name": "T-Shirt", "type": "variable", "slug": "tee.shirt"})
    second = store.create_product({"name": "T-Shirt", "type": "variable", "slug": "Tee.Shirt"})
    accented = store.create_product({"name": "Crème", "type": "simple"})
    nothing = store.create_product({"name": "Mug!", "type": "simple", "slug": "!!"})
    assert (first.slug, second.slug, accented.slug, nothing.slug) == ("tee-shirt", "tee-shirt-2", "creme", "mug")
    api = WooShopApi(store, WooAuthenticator("ck", "cs"), FaultSwitches(), WooWebhooks(store))

    def ids(slug: str) -> list[int]:
        query = {"slug": slug, "status": "any"}
        reply = api.list_products(query=query, query_pairs=list(query.items()), site="http://x", authenticated=True)
        return [int(p["id"]) for p in reply.body]

    assert ids("Tee.Shirt") == [first.id]
    assert ids("tee-shirt-2") == [second.id]
    assert ids("crème") == []
    assert ids("creme") == [accented.id]
