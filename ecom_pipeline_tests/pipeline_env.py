"""The environment a merchant's shell gives the CLI, the Dagster definitions and the webhook receiver, set for one
test (through ``monkeypatch``, so it is undone after the test)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet


def set_pipeline_env(monkeypatch: pytest.MonkeyPatch, *, warehouse_url: str, home: Path, dagster_home: Path) -> None:
    """``ECOM_WAREHOUSE_URL``, ``ECOM_PIPELINE_HOME`` (where the credential key file goes), a fresh
    ``ECOM_SECRET_KEY`` and ``DAGSTER_HOME``: what every end-to-end test sets before the CLI or Dagster runs."""
    monkeypatch.setenv("ECOM_WAREHOUSE_URL", warehouse_url)
    monkeypatch.setenv("ECOM_PIPELINE_HOME", str(home))
    monkeypatch.setenv("ECOM_SECRET_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
