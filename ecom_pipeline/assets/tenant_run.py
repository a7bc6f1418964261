"""What every tenant-partitioned asset run that writes takes: the tenant's lock, and the shops' credentials.

The hub, export and stock assets and the webhook apply each hold the tenant's lock (``warehouse/locks.py``) so that
two runs never apply to one tenant at once; a run that waits for it says so in its log, naming the holder, so a run
that sits still says why. One place builds that lock and its message, so every asset names itself the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from sqlalchemy import Engine

from ecom_pipeline.resources import CredentialStoreResource
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.locks import TenantLock, tenant_lock


@contextmanager
def run_lock(
    context: dg.AssetExecutionContext, engine: Engine, what: str, *, wait: bool = True
) -> Iterator[TenantLock]:
    """Hold the lock of the run's tenant (its partition) for the ``with`` block, as ``<what> run <run id>``.

    ``wait=False``: take it only if it is free now, else raise ``TenantLockTimeout`` at once (and log no wait), for
    work that someone else does anyway when it cannot run now (the early hub apply of an extract step)."""
    tenant = context.partition_key
    with tenant_lock(
        engine,
        tenant,
        purpose=f"{what} run {context.run.run_id[:8]}",
        timeout_s=None if wait else 0.0,
        on_wait=(
            (lambda holder: context.log.warning(f"waiting for the lock of tenant {tenant}, held by {holder}"))
            if wait
            else None
        ),
    ) as lock:
        yield lock


def credentials_loader(credentials: CredentialStoreResource) -> store.CredentialsLoader:
    """The shops' decrypted credentials, by integration; the key is read now, so a missing key fails the run before
    any shop is called."""
    cipher = credentials.cipher()
    return store.credentials_loader(lambda: cipher)
