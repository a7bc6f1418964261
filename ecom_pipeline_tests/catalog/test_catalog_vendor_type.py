"""The catalogue's ``vendor`` and ``shopify_product_type`` columns (migration 0014), through the real CLI entry on a
real warehouse (PostgreSQL or SQLite): validated with row, column and reason, kept whole, round-tripped, and kept
by an older file without the columns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import select

from ecom_pipeline.cli import main as cli_main
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import hub_products

OLD_HEADER = (
    "handle,title,description,status,product_type,tags,categories,sku,variant_title,price,compare_at_price,"
    "currency,weight,options,position"
)
HEADER = f"{OLD_HEADER},vendor,shopify_product_type"
LONG_TYPE = "Outdoor Equipment > Camping Cookware > Enamel Travel Mugs"  # 57 characters


def _csv(path: Path, *lines: str, header: str = HEADER) -> Path:
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


def _run(url: str, *argv: str) -> int:
    return cli_main(["--warehouse-url", url, *argv])


def _products(url: str) -> dict[str, Any]:
    with shared_engine(url).connect() as conn:
        return {r.handle: r for r in conn.execute(select(hub_products).where(hub_products.c.tenant_id == "acme"))}


def test_vendor_and_a_long_shopify_type_import_export_and_import_back_unchanged(
    warehouse_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents the columns missing from the file (no way to edit them but SQL), a Shopify type over 32 characters
    being refused or cut, and export/import disagreeing on them (a change on every round trip would be pushed)."""
    seed = _csv(
        tmp_path / "seed.csv",
        f"mug,Mug,,active,simple,,,MUG-1,,8.00,,EUR,,,,Acme Pottery,{LONG_TYPE}",
        "cup,Cup,,active,simple,,,CUP-1,,6.00,,EUR,,,,,",
    )
    assert _run(warehouse_url, "catalog", "import", str(seed), "--tenant", "acme") == 0
    products = _products(warehouse_url)
    assert (products["mug"].vendor, products["mug"].shopify_product_type) == ("Acme Pottery", LONG_TYPE)
    assert products["mug"].product_type == "simple"
    assert (products["cup"].vendor, products["cup"].shopify_product_type) == (None, None)

    exported = tmp_path / "export.csv"
    assert _run(warehouse_url, "catalog", "export", "--tenant", "acme", str(exported)) == 0
    frame = pd.read_csv(exported, dtype=str, keep_default_na=False)
    by_handle = frame.set_index("handle")
    assert (by_handle.loc["mug", "vendor"], by_handle.loc["mug", "shopify_product_type"]) == ("Acme Pottery", LONG_TYPE)
    assert (by_handle.loc["cup", "vendor"], by_handle.loc["cup", "shopify_product_type"]) == ("", "")
    capsys.readouterr()
    assert _run(warehouse_url, "catalog", "import", str(exported), "--tenant", "acme") == 0
    assert "products: created 0, updated 0, unchanged 2" in capsys.readouterr().out

    frame.loc[frame["handle"] == "cup", "vendor"] = "Northwind"
    frame.loc[frame["handle"] == "mug", "shopify_product_type"] = "Mugs"
    edited = tmp_path / "edited.csv"
    frame.to_csv(edited, index=False)
    assert _run(warehouse_url, "catalog", "import", str(edited), "--tenant", "acme") == 0
    products = _products(warehouse_url)
    assert (products["cup"].vendor, products["mug"].shopify_product_type) == ("Northwind", "Mugs")
    again = tmp_path / "again.csv"
    assert _run(warehouse_url, "catalog", "export", "--tenant", "acme", str(again)) == 0
    pd.testing.assert_frame_equal(pd.read_csv(again, dtype=str, keep_default_na=False), frame)


def test_a_file_without_the_columns_keeps_the_hubs_vendor_and_type(
    warehouse_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents an export made before migration 0014, imported again, from clearing every vendor and type."""
    seed = _csv(tmp_path / "seed.csv", "mug,Mug,,active,simple,,,MUG-1,,8.00,,EUR,,,,Acme Pottery,Mugs")
    assert _run(warehouse_url, "catalog", "import", str(seed), "--tenant", "acme") == 0
    old = _csv(tmp_path / "old.csv", "mug,Big Mug,,active,simple,,,MUG-1,,8.00,,EUR,,,", header=OLD_HEADER)
    assert _run(warehouse_url, "catalog", "import", str(old), "--tenant", "acme") == 0
    mug = _products(warehouse_url)["mug"]
    assert (mug.title, mug.vendor, mug.shopify_product_type) == ("Big Mug", "Acme Pottery", "Mugs")


def test_too_long_values_are_refused_with_row_column_and_reason(
    warehouse_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents a value the hub column cannot hold from failing the write (PostgreSQL) or being cut: refused before
    anything is written, naming the row, the column and the limit; a Shopify type put in the kind column is told
    where it belongs."""
    path = _csv(
        tmp_path / "bad.csv",
        f"mug,Mug,,active,simple,,,MUG-1,,8.00,,EUR,,,,{'v' * 256},",
        f"cup,Cup,,active,simple,,,CUP-1,,6.00,,EUR,,,,,{'t' * 256}",
        f"pot,Pot,,active,{LONG_TYPE},,,POT-1,,6.00,,EUR,,,,,",
    )
    capsys.readouterr()
    assert _run(warehouse_url, "catalog", "import", str(path), "--tenant", "acme") == 1
    out = capsys.readouterr()
    text = out.out + out.err
    assert "row 2" in text and "vendor" in text and "longer than 255 characters" in text
    assert "row 3" in text and "shopify_product_type" in text
    assert "row 4" in text and "longer than 32 characters" in text and "goes in shopify_product_type" in text
    assert _products(warehouse_url) == {}
