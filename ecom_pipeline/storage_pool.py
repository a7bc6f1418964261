"""Pooled connections to Dagster's PostgreSQL storage, for processes that make many storage calls in a row.

dagster-postgres opens a new connection for every storage call (NullPool, so idle processes hold none): a tenant's
no-change sync makes ~385 of them, and each is a PostgreSQL backend forked and torn down. Measured in one process by
benchmarks/storage_pool_bench.py (8 tenants' no-change syncs in a row; docs/benchmarks.md): per tenant 3.2 s wall,
0.8 s of our CPU and 2.2 s of PostgreSQL's with that default; 0.7 s, 0.45 s and 0.2 s with pooled storage engines.
Dagster's webserver pools the same way for the same reason (``optimize_for_webserver``).

Who pools: a batch run (``sync_batch_job``, many tenants in one process) always; a run launched by the run launcher
(the daemon's and the UI's runs: a run worker process of the code server, which exits when its run ends) from its
resources' set-up, see :func:`pool_if_dedicated_run_process`. Not a long-lived process that runs many in-process
runs on instances it then drops (a test session, a script): ``DagsterInstance.dispose()`` does not dispose
dagster-postgres engines, so each dropped instance would keep its pooled connections until garbage collection.
"""

from __future__ import annotations

import multiprocessing
import os

import dagster as dg

# "off" keeps Dagster's default (a connection per storage call) in launched runs, for a deployment that would
# rather hold fewer connections (three per running run when pooled) than save the CPU; batch runs always pool.
POOL_ENV = "ECOM_POOL_RUN_STORAGE"
STORAGE_POOL_RECYCLE_S = 3600
STORAGE_POOL_MAX_OVERFLOW = 4
_POOLED_ATTR = "_ecom_pooled_storage"


def pool_instance_storage(instance: dg.DagsterInstance) -> bool:
    """Hold pooled connections to the instance's PostgreSQL storage for the rest of this process; True if done.

    ``optimize_for_webserver`` is the public DagsterInstance method the webserver uses: one connection per storage
    kept open (plus up to ``STORAGE_POOL_MAX_OVERFLOW`` for other threads), recycled hourly. The statement timeout
    stays off (0), as for any run; the webserver's 15 s would cut a long write. On SQLite storage it does nothing.
    Once per instance: calling it again would replace the pools.
    """
    if getattr(instance, _POOLED_ATTR, False):
        return False
    instance.optimize_for_webserver(
        statement_timeout=0, pool_recycle=STORAGE_POOL_RECYCLE_S, max_overflow=STORAGE_POOL_MAX_OVERFLOW
    )
    setattr(instance, _POOLED_ATTR, True)
    return True


def in_dedicated_run_process() -> bool:
    """True in a process started by ``multiprocessing`` for one piece of work and gone when it ends.

    Dagster's code server starts every launched run in such a process (a ``spawn`` child running
    ``start_run_in_subprocess``), and so does the multiprocess executor for each step. A CLI, a test session, the
    daemon, the code server itself and Celery's workers (billiard, not ``multiprocessing``) are not: there an instance
    may be one of many, and pooling it would keep connections after the instance is dropped.
    """
    return multiprocessing.parent_process() is not None


def pool_if_dedicated_run_process(instance: dg.DagsterInstance | None) -> bool:
    """Pool ``instance``'s storage when this process exists for one run (see :func:`in_dedicated_run_process`),
    unless ``ECOM_POOL_RUN_STORAGE`` is off."""
    if instance is None or not in_dedicated_run_process():
        return False
    if os.environ.get(POOL_ENV, "on").strip().lower() in {"off", "0", "false", "no"}:
        return False
    return pool_instance_storage(instance)
