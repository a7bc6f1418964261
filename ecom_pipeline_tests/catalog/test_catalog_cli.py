"""`ecom-pipeline catalog import|export` through the real CLI entry, on a real warehouse (PostgreSQL or SQLite)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from ecom_pipeline.cli import main as cli_main
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import entity_links, hub_products, hub_variants, rejected_records
from ecom_pipeline.warehouse.store import count_rows
from ecom_pipeline.warehouse.types import utcnow

HEADER = (
    "handle,title,description,status,product_type,tags,categories,sku,variant_title,price,compare_at_price,"
    "currency,weight,options,position"
)
GOOD = [
    "tee,T-Shirt,<p>Soft</p>,active,variable,summer;cotton,Shirts,TEE-S,T-Shirt - S,19.90,24.90,EUR,0.2,"
    "Size=S;Colour=Black,",
    "tee,,,,,,,TEE-M,T-Shirt - M,19.90,,EUR,0.2,Size=M;Colour=Black,",
    "mug,Mug,,draft,simple,,,00123,,8,,EUR,,,",
]


def _csv(path: Path, *lines: str) -> Path:
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return path


def _run(url: str, *argv: str) -> int:
    return cli_main(["--warehouse-url", url, *argv])


def _variants(url: str, tenant: str = "acme") -> dict[str, Any]:
    with shared_engine(url).connect() as conn:
        rows = conn.execute(select(hub_variants).where(hub_variants.c.tenant_id == tenant)).all()
    return {r.sku: r for r in rows}


def _products(url: str, tenant: str = "acme") -> dict[str, Any]:
    with shared_engine(url).connect() as conn:
        rows = conn.execute(select(hub_products).where(hub_products.c.tenant_id == tenant)).all()
    return {r.handle: r for r in rows}


def test_import_creates_products_grouped_by_handle_with_exact_values_and_no_links(
    warehouse_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents an import from splitting a product per row, turning prices into floats, SKU 00123 into 123, or
    inventing shop links for rows no shop has yet."""
    assert _run(warehouse_url, "catalog", "import", str(_csv(tmp_path / "c.csv", *GOOD)), "--tenant", "acme") == 0
    assert "products: created 2" in capsys.readouterr().out
    products, variants = _products(warehouse_url), _variants(warehouse_url)
    assert set(products) == {"tee", "mug"}
    tee = products["tee"]
    assert (tee.title, tee.status, tee.tags, tee.categories) == ("T-Shirt", "active", ["summer", "cotton"], ["Shirts"])
    assert variants["TEE-S"].product_id == variants["TEE-M"].product_id == tee.id
    assert variants["TEE-S"].price == Decimal("19.90") and isinstance(variants["TEE-S"].price, Decimal)
    assert variants["TEE-S"].compare_at_price == Decimal("24.90")
    assert variants["TEE-M"].options == {"Size": "M", "Colour": "Black"}
    assert [variants["TEE-S"].position, variants["TEE-M"].position] == [1, 2]
    assert "00123" in variants and variants["00123"].price == Decimal("8")
    with shared_engine(warehouse_url).connect() as conn:
        assert count_rows(conn, entity_links) == 0


BAD_ROWS = {
    "price-3-decimals": ("tee,T-Shirt,,active,,,,TEE-S,,19.999,,EUR,,,", 2, "price", "more than 2 decimals for EUR"),
    "price-text": ("tee,T-Shirt,,active,,,,TEE-S,,abc,,EUR,,,", 2, "price", "not a decimal amount"),
    "price-negative": ("tee,T-Shirt,,active,,,,TEE-S,,-1,,EUR,,,", 2, "price", "negative"),
    "status": ("tee,T-Shirt,,live,,,,TEE-S,,1,,EUR,,,", 2, "status", "'live' is not a status"),
    "weight": ("tee,T-Shirt,,active,,,,TEE-S,,1,,EUR,heavy,,", 2, "weight", "not a number"),
    "options": ("tee,T-Shirt,,active,,,,TEE-S,,1,,EUR,,Size,", 2, "options", "'Size' is not Name=Value"),
    "currency": ("tee,T-Shirt,,active,,,,TEE-S,,1,,euro,,,", 2, "currency", "not an ISO 4217 code"),
    "no-sku": ("tee,T-Shirt,,active,,,,,,1,,EUR,,,", 2, "sku", "every variant needs a SKU"),
    "no-title": ("tee,,,active,,,,TEE-S,,1,,EUR,,,", 2, "title", "needs a title"),
}


@pytest.mark.parametrize("case", list(BAD_ROWS))
def test_one_bad_row_writes_nothing_and_names_row_column_and_reason(
    case: str, sqlite_warehouse_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents a half-applied import, and an error the merchant cannot locate in the file."""
    line, row, column, reason = BAD_ROWS[case]
    path = _csv(tmp_path / "c.csv", GOOD[2], line)  # the good row is row 2, the bad one row 3
    assert _run(sqlite_warehouse_url, "catalog", "import", str(path), "--tenant", "acme") == 1
    err = capsys.readouterr().err
    assert f"row {row + 1}, column {column}: " in err and reason in err
    assert "Nothing was written" in err
    assert _products(sqlite_warehouse_url) == {}


def test_sku_unique_in_the_file_and_in_the_tenant(
    warehouse_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents one SKU from naming two variants (it is the key across shops), in the file or against the hub,
    while another tenant's identical SKU stays allowed."""
    assert _run(warehouse_url, "catalog", "import", str(_csv(tmp_path / "a.csv", *GOOD)), "--tenant", "acme") == 0
    capsys.readouterr()
    twice = _csv(tmp_path / "b.csv", "cap,Cap,,active,,,,CAP-1,,5,,EUR,,,", "cap,,,,,,,CAP-1,,5,,EUR,,,")
    assert _run(warehouse_url, "catalog", "import", str(twice), "--tenant", "acme") == 1
    assert "row 3, column sku: 'CAP-1' is already on row 2: SKUs are unique" in capsys.readouterr().err
    moved = _csv(tmp_path / "c.csv", "cap,Cap,,active,,,,TEE-S,,5,,EUR,,,")
    assert _run(warehouse_url, "catalog", "import", str(moved), "--tenant", "acme") == 1
    assert "'TEE-S' belongs to hub product" in capsys.readouterr().err
    assert "cap" not in _products(warehouse_url)
    assert _run(warehouse_url, "catalog", "import", str(moved), "--tenant", "other") == 0
    assert _variants(warehouse_url, "other")["TEE-S"].price == Decimal("5")


def test_partial_writes_the_good_rows_and_rejects_the_bad_ones_with_stage_import(
    warehouse_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents --partial from dropping bad rows silently: each is in rejected_records with its reason."""
    path = _csv(
        tmp_path / "c.csv", GOOD[2], "tee,T-Shirt,,active,,,,TEE-S,,1.234,,EUR,,,", ",Cap,,active,,,,CAP-1,,5,,EUR,,,"
    )
    assert _run(warehouse_url, "catalog", "import", str(path), "--tenant", "acme", "--partial") == 1
    out = capsys.readouterr().out
    assert "2 rows rejected to rejected_records" in out
    assert set(_variants(warehouse_url)) == {"00123"}
    with shared_engine(warehouse_url).connect() as conn:
        rejected = conn.execute(select(rejected_records).order_by(rejected_records.c.id)).all()
    assert [(r.stage, r.external_id, r.tenant_id) for r in rejected] == [
        ("import", "TEE-S", "acme"),
        ("import", "CAP-1", "acme"),
    ]
    assert "row 3, column price: '1.234' has more than 2 decimals" in rejected[0].reason
    assert rejected[0].payload["row"] == 3 and rejected[0].payload["values"]["price"] == "1.234"
    assert "row 4, column handle: is empty" in rejected[1].reason and rejected[1].payload["values"]["title"] == "Cap"


def test_dry_run_shows_the_changes_and_writes_nothing(
    warehouse_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents --dry-run from writing, or from hiding what an import would change."""
    path = _csv(tmp_path / "c.csv", *GOOD)
    assert _run(warehouse_url, "catalog", "import", str(path), "--tenant", "acme") == 0
    edited = _csv(tmp_path / "d.csv", *GOOD[:2], "mug,Mug,,draft,simple,,,00123,,9.50,,EUR,,,")
    capsys.readouterr()
    assert _run(warehouse_url, "catalog", "import", str(edited), "--tenant", "acme", "--dry-run") == 0
    out = capsys.readouterr().out
    assert "Dry run, nothing written" in out and "variants: created 0, updated 1, unchanged 2" in out
    assert "mug/00123: price '8' -> '9.50'" in out or "mug/00123: price '8.000000' -> '9.50'" in out
    assert _variants(warehouse_url)["00123"].price == Decimal("8")


def test_file_with_missing_or_unknown_columns_is_refused_even_with_partial(
    sqlite_warehouse_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents a typo in a column name (prcie) from importing every row without a price."""
    path = tmp_path / "c.csv"
    path.write_text("handle,title,status,sku,prcie\ntee,T,active,TEE-S,10\n")
    assert _run(sqlite_warehouse_url, "catalog", "import", str(path), "--tenant", "acme", "--partial") == 1
    err = capsys.readouterr().err
    assert "file, column price: required column is missing" in err
    assert "file, column prcie: unknown column" in err
    assert _products(sqlite_warehouse_url) == {}


def test_float_money_in_parquet_is_refused(
    sqlite_warehouse_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents a Parquet float price (0.1 + 0.2 = 0.30000000000000004) from entering the hub as money."""
    path = tmp_path / "c.parquet"
    table = pa.table({"handle": ["tee"], "title": ["T"], "status": ["active"], "sku": ["TEE-S"], "price": [19.9]})
    pq.write_table(table, path)
    assert _run(sqlite_warehouse_url, "catalog", "import", str(path), "--tenant", "acme") == 1
    assert "row 2, column price: is a floating-point number" in capsys.readouterr().err
    decimals = pa.table(
        {"handle": ["tee"], "title": ["T"], "status": ["active"], "sku": ["TEE-S"],
         "price": pa.array([Decimal("19.90")], pa.decimal128(10, 2))}
    )  # fmt: skip
    pq.write_table(decimals, path)
    assert _run(sqlite_warehouse_url, "catalog", "import", str(path), "--tenant", "acme") == 0
    assert _variants(sqlite_warehouse_url)["TEE-S"].price == Decimal("19.90")


def _read_strings(path: Path) -> pd.DataFrame:
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    return pd.read_parquet(path).fillna("")


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_export_edit_import_round_trips_exactly(
    suffix: str, warehouse_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents export and import from disagreeing on a column (a value that changes on every round trip would
    be pushed to every shop), and a no-change re-import from touching synced_at (the `newest` policy's clock)."""
    assert _run(warehouse_url, "catalog", "import", str(_csv(tmp_path / "seed.csv", *GOOD)), "--tenant", "acme") == 0
    # A shop-computed price with more decimals than the currency (PrestaShop's tax-included final price).
    with shared_engine(warehouse_url).begin() as conn:
        conn.execute(hub_variants.update().where(hub_variants.c.sku == "TEE-M").values(price=Decimal("23.976")))
    before = _variants(warehouse_url)
    exported = tmp_path / f"export{suffix}"
    assert _run(warehouse_url, "catalog", "export", "--tenant", "acme", str(exported)) == 0
    frame = _read_strings(exported)
    assert list(frame["sku"]) == ["00123", "TEE-S", "TEE-M"]
    assert list(frame["price"]) == ["8.00", "19.90", "23.976"]
    assert _run(warehouse_url, "catalog", "import", str(exported), "--tenant", "acme") == 0
    assert "variants: created 0, updated 0, unchanged 3" in capsys.readouterr().out
    assert {k: v.synced_at for k, v in _variants(warehouse_url).items()} == {k: v.synced_at for k, v in before.items()}
    # Edit: a price, a title, an option; then import and export again: the file comes back as edited.
    frame.loc[frame["sku"] == "TEE-S", "price"] = "17.50"
    frame.loc[frame["handle"] == "tee", "title"] = "T-Shirt Organic"
    frame.loc[frame["sku"] == "TEE-M", "options"] = "Size=M;Colour=White"
    edited = tmp_path / f"edited{suffix}"
    if suffix == ".csv":
        frame.to_csv(edited, index=False)
    else:
        frame.astype("string").to_parquet(edited, index=False)
    started = utcnow()
    assert _run(warehouse_url, "catalog", "import", str(edited), "--tenant", "acme") == 0
    variants = _variants(warehouse_url)
    assert variants["TEE-S"].price == Decimal("17.50") and variants["TEE-S"].synced_at >= started
    assert variants["TEE-M"].options == {"Size": "M", "Colour": "White"}
    assert variants["00123"].synced_at == before["00123"].synced_at
    assert _products(warehouse_url)["tee"].title == "T-Shirt Organic"
    again = tmp_path / f"again{suffix}"
    assert _run(warehouse_url, "catalog", "export", "--tenant", "acme", str(again)) == 0
    pd.testing.assert_frame_equal(_read_strings(again), _read_strings(edited), check_dtype=False)


def test_an_integer_sku_column_in_parquet_matches_the_hub_sku(
    sqlite_warehouse_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents a Parquet file whose SKU column is typed integer from missing the hub's SKU "123" and crashing on
    the unique SKU constraint instead of updating that variant."""
    path = _csv(tmp_path / "a.csv", "mug,Mug,,draft,,,,123,,8,,EUR,,,")
    assert _run(sqlite_warehouse_url, "catalog", "import", str(path), "--tenant", "acme") == 0
    table = pa.table({"handle": ["mug"], "title": ["Mug"], "status": ["draft"], "sku": [123], "price": ["9"]})
    pq.write_table(table, tmp_path / "b.parquet")
    capsys.readouterr()
    assert _run(sqlite_warehouse_url, "catalog", "import", str(tmp_path / "b.parquet"), "--tenant", "acme") == 0
    assert "variants: created 0, updated 1, unchanged 0" in capsys.readouterr().out
    assert _variants(sqlite_warehouse_url)["123"].price == Decimal("9")


def test_an_import_waits_for_the_tenants_lock_and_times_out_with_nothing_written(
    warehouse_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prevents an import from writing hub rows while a sync's apply holds the tenant (a deadlock on PostgreSQL, or
    the import overwriting what the apply wrote after the import's read): it waits for the lock like every hub
    writer, says so, and when the lock is not freed in time writes nothing and says what to do. A dry run writes
    nothing, so it does not wait."""
    import threading

    from ecom_pipeline.warehouse.locks import ENV_LOCK_TIMEOUT, tenant_lock

    path = _csv(tmp_path / "c.csv", *GOOD)
    engine = shared_engine(warehouse_url)
    monkeypatch.setenv(ENV_LOCK_TIMEOUT, "0.5")
    with tenant_lock(engine, "acme", purpose="a test's apply"):
        assert _run(warehouse_url, "catalog", "import", str(path), "--tenant", "acme", "--dry-run") == 0
        assert _run(warehouse_url, "catalog", "import", str(path), "--tenant", "acme") == 1
    err = capsys.readouterr().err
    assert "waiting for it to finish" in err and "Nothing was written" in err
    assert _products(warehouse_url) == {}

    monkeypatch.setenv(ENV_LOCK_TIMEOUT, "30")
    released = threading.Event()

    def hold() -> None:
        with tenant_lock(engine, "acme", purpose="a test's apply"):
            held.set()
            released.wait(10)

    held = threading.Event()
    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    threading.Timer(1.0, released.set).start()
    assert _run(warehouse_url, "catalog", "import", str(path), "--tenant", "acme") == 0
    holder.join()
    assert set(_products(warehouse_url)) == {"tee", "mug"}
    assert "waiting for it to finish" in capsys.readouterr().err
