"""Catalogue import defects found in review, through the real CLI entry on a real warehouse (PostgreSQL or SQLite):
a file's missing columns, ``--partial`` rows, values the hub cannot hold, SKU spaces, sale prices, French/Excel
files, import rejections in ``status``, and row numbering."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from ecom_pipeline.cli import main as cli_main
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import hub_products, hub_variants, rejected_records

FULL = (
    "handle,title,description,status,product_type,vendor,shopify_product_type,tags,categories,sku,variant_title,"
    "price,compare_at_price,sale_price,currency,barcode,weight,options,position"
)
SEED = [
    "tee,T-Shirt,<p>Soft</p>,active,variable,Acme,Shirts,summer;cotton,Clothing,TEE-S,Small,19.90,24.90,,EUR,"
    "4006381333931,0.25,Size=S,1",
    "tee,,,,,,,,,TEE-M,Medium,19.90,24.90,,EUR,,0.3,Size=M,2",
]


def _write(path: Path, header: str, *lines: str, encoding: str = "utf-8") -> Path:
    path.write_text("\n".join([header, *lines]) + "\n", encoding=encoding)
    return path


def _run(url: str, *argv: str) -> int:
    return cli_main(["--warehouse-url", url, *argv])


def _import(url: str, path: Path, *flags: str) -> int:
    return _run(url, "catalog", "import", str(path), "--tenant", "acme", *flags)


def _variants(url: str) -> dict[str, Any]:
    with shared_engine(url).connect() as conn:
        return {r.sku: r for r in conn.execute(select(hub_variants).where(hub_variants.c.tenant_id == "acme"))}


def _products(url: str) -> dict[str, Any]:
    with shared_engine(url).connect() as conn:
        return {r.handle: r for r in conn.execute(select(hub_products).where(hub_products.c.tenant_id == "acme"))}


def _seed(url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _import(url, _write(tmp_path / "seed.csv", FULL, *SEED)) == 0
    capsys.readouterr()


def test_a_file_without_the_optional_columns_keeps_the_hubs_values(
    warehouse_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents a price-update file (handle,title,status,sku,price) from clearing descriptions, tags, categories,
    compare-at prices, currencies, weights and options in the hub, and so in every shop at the next push; a new
    variant in such a file gets the defaults, and an empty cell in a column the file has still clears."""
    _seed(warehouse_url, tmp_path, capsys)
    before_p, before_v = _products(warehouse_url)["tee"], _variants(warehouse_url)
    update = _write(
        tmp_path / "prices.csv", "handle,title,status,sku,price", "tee,T-Shirt,active,TEE-S,18.00",
        "tee,,,TEE-M,18.00", "tee,,,TEE-L,18.00",
    )  # fmt: skip
    assert _import(warehouse_url, update, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "products: created 0, updated 0, unchanged 1" in out and "None" not in out and "[]" not in out
    assert _import(warehouse_url, update) == 0
    tee, variants = _products(warehouse_url)["tee"], _variants(warehouse_url)
    for name in ("description", "product_type", "vendor", "shopify_product_type", "tags", "categories"):
        assert getattr(tee, name) == getattr(before_p, name), name
    assert tee.synced_at == before_p.synced_at
    for sku in ("TEE-S", "TEE-M"):
        new, old = variants[sku], before_v[sku]
        assert new.price == Decimal("18.00")
        for name in ("title", "compare_at_price", "currency", "barcode", "weight", "options", "position"):
            assert getattr(new, name) == getattr(old, name), (sku, name)
    created = variants["TEE-L"]
    assert (created.title, created.compare_at_price, created.currency, created.weight) == (None, None, None, None)
    assert created.options in ({}, None) and created.position == 3

    cleared = _write(tmp_path / "clear.csv", "handle,title,status,sku,price,description,options",
                     "tee,T-Shirt,active,TEE-S,18.00,,")  # fmt: skip
    assert _import(warehouse_url, cleared) == 0
    assert _products(warehouse_url)["tee"].description is None
    assert _variants(warehouse_url)["TEE-S"].options in ({}, None)
    assert _variants(warehouse_url)["TEE-M"].options == {"Size": "M"}


def test_import_help_says_what_a_missing_column_means(capsys: pytest.CaptureFixture[str]) -> None:
    """Prevents the merchant from having to guess whether leaving a column out clears it."""
    with pytest.raises(SystemExit):
        cli_main(["catalog", "import", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "An optional column left out of the file keeps the hub's values" in out


def test_partial_a_rejected_row_contributes_no_product_value(
    warehouse_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents --partial from writing the product columns of a row it rejects (a bad row's title, description,
    vendor and tags reaching the hub through the product's valid rows), and from creating a new product whose
    title only a rejected row gave."""
    _seed(warehouse_url, tmp_path, capsys)
    before = _products(warehouse_url)["tee"]
    path = _write(
        tmp_path / "partial.csv", FULL,
        "tee,NEW TITLE FROM BAD ROW,wiped,archived,simple,Other,Pants,x;y,Sale,TEE-S,Small,abc,,,EUR,,,Size=S,1",
        "tee,,,,,,,,,TEE-M,Medium,17.00,24.90,,EUR,,0.3,Size=M,2",
        "cap,Cap,,active,,,,,,CAP-1,,abc,,,EUR,,,,",
        "cap,,,,,,,,,CAP-2,,5.00,,,EUR,,,,",
    )  # fmt: skip
    assert _import(warehouse_url, path, "--partial") == 1
    captured = capsys.readouterr()
    assert "3 rows rejected" in captured.out
    assert "row 5, column title: new product 'cap' takes its title from row 4, which has an error" in captured.err
    tee = _products(warehouse_url)["tee"]
    for name in ("title", "description", "status", "product_type", "vendor", "shopify_product_type", "tags",
                 "categories", "synced_at"):  # fmt: skip
        assert getattr(tee, name) == getattr(before, name), name
    variants = _variants(warehouse_url)
    assert variants["TEE-M"].price == Decimal("17.00") and variants["TEE-S"].price == Decimal("19.90")
    assert "cap" not in _products(warehouse_url) and "CAP-2" not in variants
    with shared_engine(warehouse_url).connect() as conn:
        rejected = conn.execute(select(rejected_records.c.external_id).order_by(rejected_records.c.id)).scalars().all()
    assert rejected == ["TEE-S", "CAP-1", "CAP-2"]


OUT_OF_RANGE = [
    ("big,Big,,active,,,,BIG-1,,123456789012345.00,,EUR,,,", 3, "price", "is too large"),
    ("far,Far,,active,,,,FAR-1,,5.00,,EUR,,,99999999999", 4, "position", "is too large"),
    ("nul,Bad\x00Title,,active,,,,NUL-1,,5.00,,EUR,,,", 5, "title", "contains a NUL character"),
    ("sup,Sup,,active,,,,SUP-1,,5.00,,EUR,,,\u00b2", 6, "position", "'²' is not a whole number"),
]
SHORT = "handle,title,description,status,product_type,tags,categories,sku,variant_title,price,compare_at_price,"
SHORT += "currency,weight,options,position"


@pytest.mark.parametrize("flags", [(), ("--dry-run",), ("--partial",)])
def test_values_the_hub_cannot_hold_are_refused_with_row_and_column_never_a_traceback(
    flags: tuple[str, ...], warehouse_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents a file that passes the checks (and --dry-run) from crashing the real import with a database
    traceback (numeric overflow, integer out of range, a NUL byte in text), or a dry run from crashing on '²'."""
    lines = ["ok,Ok,,active,,,,OK-1,,5.00,,EUR,,,", *(line for line, *_ in OUT_OF_RANGE)]
    path = _write(tmp_path / "range.csv", SHORT, *lines)
    assert _import(warehouse_url, path, *flags) == 1
    err = capsys.readouterr().err
    for _, row, column, reason in OUT_OF_RANGE:
        assert f"row {row}, column {column}: " in err and reason in err, (row, column, err)
    if flags == ("--partial",):
        assert set(_variants(warehouse_url)) == {"OK-1"}
        with shared_engine(warehouse_url).connect() as conn:
            rejected = conn.execute(select(rejected_records).order_by(rejected_records.c.id)).all()
        assert [r.external_id for r in rejected] == ["BIG-1", "FAR-1", "NUL-1", "SUP-1"]
        assert rejected[2].payload["values"]["title"] == "Bad\\x00Title"
    else:
        assert _variants(warehouse_url) == {}


def test_skus_and_handles_are_trimmed_as_sync_compares_them(
    warehouse_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents 'TEE-S ' from importing as a new variant beside 'TEE-S' (sync compares SKUs trimmed, so the two
    would then fight over one shop variant), a hub SKU a shop gave with a trailing space from being missed, and
    two rows whose SKUs differ only by spaces from both being accepted."""
    _seed(warehouse_url, tmp_path, capsys)
    with shared_engine(warehouse_url).begin() as conn:
        conn.execute(hub_variants.update().where(hub_variants.c.sku == "TEE-M").values(sku="TEE-M "))
    path = _write(tmp_path / "spaces.csv", "handle,title,status,sku,price", " tee ,T-Shirt,active,TEE-S ,18.00",
                  "tee,,,TEE-M,17.00")  # fmt: skip
    assert _import(warehouse_url, path) == 0
    assert "variants: created 0, updated 2, unchanged 0" in capsys.readouterr().out
    variants = _variants(warehouse_url)
    assert set(variants) == {"TEE-S", "TEE-M "}
    assert (variants["TEE-S"].price, variants["TEE-M "].price) == (Decimal("18.00"), Decimal("17.00"))
    assert set(_products(warehouse_url)) == {"tee"}

    twice = _write(tmp_path / "twice.csv", "handle,title,status,sku,price", "cap,Cap,active,CAP-1,5.00",
                   "cap,,,  CAP-1,5.00")  # fmt: skip
    assert _import(warehouse_url, twice) == 1
    err = capsys.readouterr().err
    assert "row 3, column sku: '  CAP-1' is already on row 2: SKUs are unique (SKUs compare without" in err
    assert "cap" not in _products(warehouse_url)


def test_a_file_without_sale_price_cannot_lower_the_price_below_the_kept_sale_price(
    warehouse_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents a price-update file from setting a price below the sale price the hub keeps (the file has no
    sale_price column): the shops would get a sale price above the price. Unchanged rows are not refused."""
    lines = [line.replace(",24.90,,EUR", ",24.90,19.90,EUR") for line in SEED]  # a sale in force: sale == price
    assert _import(warehouse_url, _write(tmp_path / "seed.csv", FULL, *lines)) == 0
    capsys.readouterr()
    lower = _write(tmp_path / "lower.csv", "handle,title,status,sku,price", "tee,T-Shirt,active,TEE-S,15.00",
                   "tee,,,TEE-M,19.90")  # fmt: skip
    assert _import(warehouse_url, lower) == 1
    err = capsys.readouterr().err
    assert "row 2, column price: the hub's sale price is kept (the file has no sale_price column)" in err
    assert "row 3" not in err
    assert _variants(warehouse_url)["TEE-S"].price == Decimal("19.90")
    with_sale = _write(tmp_path / "sale.csv", "handle,title,status,sku,price,sale_price",
                       "tee,T-Shirt,active,TEE-S,15.00,15.00")  # fmt: skip
    assert _import(warehouse_url, with_sale) == 0
    assert _variants(warehouse_url)["TEE-S"].sale_price == Decimal("15.00")


def test_a_french_excel_file_semicolons_and_cp1252_imports_with_a_note(
    warehouse_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents a file saved by French Excel (";" between columns, Windows-1252 text) from being refused with
    "required column is missing" for every column, or with a UTF-8 decode error, and a decimal comma from being
    reported as a mere non-amount."""
    path = tmp_path / "fr.csv"
    _write(path, "handle;title;status;sku;price", "the;Thé vert, bio;active;THE-1;4.50", encoding="cp1252")
    assert _import(warehouse_url, path) == 0
    out = capsys.readouterr().out
    assert "read as Windows-1252 (cp1252)" in out and "columns separated by semicolons" in out
    assert _products(warehouse_url)["the"].title == "Thé vert, bio"
    _write(path, "handle;title;status;sku;price", "the;Thé vert, bio;active;THE-1;4,90")
    assert _import(warehouse_url, path) == 1
    assert "row 2, column price: '4,90' has a decimal comma: write '4.90'" in capsys.readouterr().err
    _write(path, "handle\ttitle\tstatus\tsku\tprice", "the\tThé vert, bio\tactive\tTHE-1\t4.90")
    assert _import(warehouse_url, path) == 0
    assert _variants(warehouse_url)["THE-1"].price == Decimal("4.90")


def test_csv_export_has_a_utf8_bom_and_imports_back_unchanged(
    warehouse_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents Excel from opening an export as ANSI (no BOM) and saving mojibake back (Thé as ThÃ©), and the
    import from reading a BOM as part of the first column's name."""
    path = _write(tmp_path / "seed.csv", "handle,title,status,sku,price", "mug,Mug 日本 thé,active,MUG-1,8.00")
    assert _import(warehouse_url, path) == 0
    exported = tmp_path / "export.csv"
    assert _run(warehouse_url, "catalog", "export", "--tenant", "acme", str(exported)) == 0
    data = exported.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfhandle,") and "Mug 日本 thé".encode() in data
    capsys.readouterr()
    assert _import(warehouse_url, exported) == 0
    assert "products: created 0, updated 0, unchanged 1; variants: created 0, updated 0, unchanged 1" in (
        capsys.readouterr().out
    )


def test_import_rejections_show_in_status_and_close_when_the_row_is_imported(
    warehouse_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents --partial's rejected rows from being invisible (they belong to no shop, and `status` listed
    rejections per shop) and from staying open for ever after the corrected row was imported."""
    header = "handle,title,status,sku,price"
    bad = _write(tmp_path / "bad.csv", header, "tee,T,active,TEE-S,abc", ",Cap,active,CAP-1,5", "mug,M,active,MUG,1")
    assert _import(warehouse_url, bad, "--partial") == 1
    assert _run(warehouse_url, "catalog", "import", str(bad), "--tenant", "other", "--partial") == 1
    capsys.readouterr()
    assert _run(warehouse_url, "status", "--tenant", "acme") == 0
    out = capsys.readouterr().out
    assert "Catalogue import rows not applied" in out
    lines = [line.split() for line in out.splitlines()]
    assert ["acme", "2"] in [line[:2] for line in lines] and "other" not in out

    fixed = _write(tmp_path / "fixed.csv", header, "tee,T,active,TEE-S ,9.00")
    assert _import(warehouse_url, fixed) == 0
    with shared_engine(warehouse_url).connect() as conn:
        rows = conn.execute(select(rejected_records).order_by(rejected_records.c.id)).all()
    state = {(r.tenant_id, r.external_id): r.resolved_at is not None for r in rows}
    assert state == {("acme", "TEE-S"): True, ("acme", "CAP-1"): False, ("other", "TEE-S"): False,
                     ("other", "CAP-1"): False}  # fmt: skip
    capsys.readouterr()
    assert _run(warehouse_url, "status") == 0
    lines = [line.split()[:2] for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert ["acme", "1"] in lines and ["other", "2"] in lines


def test_blank_and_trailing_empty_rows_duplicated_columns_and_trailing_zeros(
    warehouse_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents a blank line from shifting the row numbers of the errors after it (the merchant fixes the wrong
    row), Excel's trailing ',,,,' rows from being refused as "handle is empty", a duplicated column from being
    reported as an unknown 'price.1', and a spreadsheet's 12.5000 from being refused although it is 12.50."""
    header = "handle,title,status,sku,price"
    blank = tmp_path / "blank.csv"
    blank.write_text(f"{header}\na,A,active,A-1,1.00\n\nb,B,active,B-1,x\n,,,,\n,,,,\n", encoding="utf-8")
    assert _import(warehouse_url, blank) == 1
    err = capsys.readouterr().err
    assert "row 4, column price: 'x' is not a decimal amount" in err and "handle" not in err
    assert "1 of 2 rows have errors" in err

    dup = _write(tmp_path / "dup.csv", f"{header},price", "a,A,active,A-1,1.00,2.00")
    assert _import(warehouse_url, dup) == 1
    err = capsys.readouterr().err
    assert "file, column price: is duplicated" in err and "price.1" not in err

    zeros = tmp_path / "zeros.csv"
    zeros.write_text(f"{header},compare_at_price\na,A,active,A-1,12.5000,20.000000\n,,,,,\n", encoding="utf-8")
    assert _import(warehouse_url, zeros) == 0
    assert (_variants(warehouse_url)["A-1"].price, _variants(warehouse_url)["A-1"].compare_at_price) == (
        Decimal("12.50"), Decimal("20.00"),
    )  # fmt: skip
    capsys.readouterr()
    assert _import(warehouse_url, zeros) == 0
    assert "variants: created 0, updated 0, unchanged 1" in capsys.readouterr().out


def test_a_stray_quote_is_refused_naming_the_line(
    sqlite_warehouse_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents a malformed quote ('"A"x') from being read as some other value, and its error from being vague."""
    path = tmp_path / "quote.csv"
    path.write_text('handle,title,status,sku,price\na,"A"x,active,A-1,1\n', encoding="utf-8")
    assert _import(sqlite_warehouse_url, path) == 1
    err = capsys.readouterr().err
    assert "cannot be read as csv (line 2)" in err and err.count("cannot be read") == 1
