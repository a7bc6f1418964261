"""Migration 0016: staged payloads are stored as their text (``json`` on PostgreSQL), not parsed into ``jsonb``."""

from __future__ import annotations

import hashlib
from typing import Any

from alembic import command
from sqlalchemy import insert, inspect, select, text

from ecom_pipeline.warehouse import migrate, store
from ecom_pipeline.warehouse.engine import make_engine
from ecom_pipeline.warehouse.schema import integrations, staging_records
from ecom_pipeline.warehouse.store import StagedRecord
from ecom_pipeline.warehouse.types import utcnow

# Keys out of order, nested values, text that jsonb would print otherwise (spacing, key order).
PAYLOAD: dict[str, Any] = {"zeta": 1, "alpha": {"b": [1, 2.5, None], "a": "x y"}, "name": "Tee \u00e9", "ok": True}


def _to(url: str, revision: str, *, down: bool) -> None:
    cfg = migrate.alembic_config()
    engine = make_engine(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, revision)
    engine.dispose()


def _stage(url: str, external_id: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        iid = conn.execute(select(integrations.c.id)).scalar()
        if iid is None:
            now = utcnow()
            iid = conn.execute(
                insert(integrations)
                .values(tenant_id="t", platform="woocommerce", name="w", base_url="https://w.example",
                        credentials_encrypted="x", settings={}, status="active", created_at=now, updated_at=now,
                        counts={})
                .returning(integrations.c.id)
            ).scalar_one()  # fmt: skip
        record = StagedRecord("t", int(iid), "woocommerce", "product", external_id, PAYLOAD)
        store.stage_records(conn, [record], run_id=None)
    engine.dispose()


def _stored(url: str) -> dict[str, tuple[str, str, Any]]:
    """external_id -> (the payload's stored text, payload_hash, the payload as read)."""
    engine = make_engine(url)
    with engine.connect() as conn:
        as_text = "payload::text" if conn.dialect.name == "postgresql" else "payload"
        texts = {r[0]: r[1] for r in conn.execute(text(f"SELECT external_id, {as_text} FROM staging_records"))}
        rows = {r.external_id: r for r in conn.execute(select(staging_records))}
    engine.dispose()
    return {k: (texts[k], rows[k].payload_hash, rows[k].payload) for k in rows}


def _payload_type(url: str) -> str:
    engine = make_engine(url)
    with engine.connect() as conn:
        column = {c["name"]: c for c in inspect(conn).get_columns("staging_records")}["payload"]
    engine.dispose()
    return type(column["type"]).__name__.upper()


def test_staged_text_is_stored_as_sent_so_its_hash_is_the_stored_texts(backend_url: str) -> None:
    """Prevents PostgreSQL from parsing every staged payload into jsonb and printing it back (CPU on the sync's
    cores for a value nothing in the database looks into): the stored text is the very text staged, whose SHA-256
    is ``payload_hash``; it reads back as the same value."""
    _stage(backend_url, "1")
    stored_text, digest, value = _stored(backend_url)["1"]
    assert stored_text == store.payload_text(PAYLOAD)
    assert hashlib.sha256(stored_text.encode()).hexdigest() == digest
    assert value == PAYLOAD


def test_upgrade_keeps_rows_staged_before_and_downgrade_gives_jsonb_back(backend_url: str) -> None:
    """Prevents the type change from losing or altering rows staged before it, and the downgrade from leaving a
    column the 0015 code (which cast payloads to jsonb) does not expect."""
    url = backend_url
    postgres = make_engine(url).dialect.name == "postgresql"
    _to(url, "0015", down=True)
    if postgres:
        assert _payload_type(url) == "JSONB"
    _stage(url, "before")
    migrate.upgrade(url)
    assert migrate.current(url) == migrate.head_revision()
    assert _payload_type(url) == "JSON"
    _stage(url, "after")
    rows = _stored(url)
    assert rows["before"][2] == rows["after"][2] == PAYLOAD
    _to(url, "0015", down=True)
    if postgres:
        assert _payload_type(url) == "JSONB"
    assert {k: v[2] for k, v in _stored(url).items()} == {"before": PAYLOAD, "after": PAYLOAD}
    migrate.upgrade(url)
