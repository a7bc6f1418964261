"""Push warnings as the report shows them: capped in run metadata, foretold by a PrestaShop dry run (issue 10)."""

from __future__ import annotations

from ecom_pipeline.assets.export import WARNINGS_SHOWN, _metadata
from ecom_pipeline.platforms.prestashop.writer import preview_warnings
from ecom_pipeline.sync.export import ExportPlan, ProductCreate, PushReport, VariantValues, WriteOutcome


def test_the_run_metadata_lists_the_first_warnings_and_counts_the_rest() -> None:
    """Prevents a first push that cleans thousands of titles from putting thousands of lines in the run's metadata
    (or hiding that there were more): the first ``WARNINGS_SHOWN`` are listed, then how many more."""
    outcome = WriteOutcome()
    for i in range(WARNINGS_SHOWN + 3):
        outcome.warn("product", f"p{i}", "title written as 'x'", i)
    outcome.warn("product", "p0", "title written as 'x'", 0)  # the same item twice in one push: once
    report = PushReport(7, "prestashop", ExportPlan(integration_id=7, platform="prestashop", tenant_id="t"), outcome)
    meta = _metadata("t", [report], dry_run=False)
    text = meta["push_warnings"].value
    assert meta["warnings"] == WARNINGS_SHOWN + 3
    assert text.count("\n- **#7** product p") == WARNINGS_SHOWN - 1 and text.startswith("- **#7** product p0: ")
    assert text.endswith("- ... and 3 more (each in the `message` of its push_records row)")


def test_a_prestashop_dry_run_foretells_the_titles_and_handles_it_will_clean_and_nothing_else() -> None:
    """Prevents a dry run silent about a title or handle the push will change (or noisy about clean ones)."""
    plan = ExportPlan(integration_id=1, platform="prestashop", tenant_id="t")
    variant = VariantValues(hub_id=11, sku="A-1", values={"sku": "A-1"}, options={})
    plan.creates = [
        ProductCreate(1, "Pack Deux!", "simple", {"title": "Pack #2"}, (variant,)),
        ProductCreate(2, "clean", "simple", {"title": "Clean"}, (variant,)),
    ]
    lines = [w.line() for w in preview_warnings(plan)]
    assert lines == [
        "product Pack Deux!: title 'Pack #2' written as 'Pack 2' (PrestaShop refuses <>;=#{} in a name)",
        "product Pack Deux!: handle 'Pack Deux!' written as the URL slug 'pack-deux' (PrestaShop takes only ASCII "
        "letters, digits, - and _ in a link_rewrite)",
    ]
