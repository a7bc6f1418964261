"""Apply staged rows to the hub while the extract is still reading the shop (issue 12).

Why: a full sync used to download every page first and only then run the hub steps one after the other (11-15 s of
a 41-55 s WooCommerce sync), while during the products extract the step's main thread sat waiting on the page
prefetch for about half its time. An :class:`ApplyWhileReading` worker is a background thread of the extract step
that applies the entity's staged rows, in the hub step's own batches, as soon as a full batch of them is staged,
so the apply runs during the downloads instead of after them. The hub step then applies only what is left (the
tail of the last batch, tombstones, anything a webhook or another run staged) and still runs its checks.

What keeps it the same apply:

- **Same code, same batches.** It calls :func:`sync.apply.apply_staged` (transform, dedupe, resolve, rejections,
  ``applied_at`` in one transaction per batch) with ``full_batches_only``: the oldest ``batch_size`` pending rows,
  as the hub step would read them, never a short batch. A row is marked applied in the transaction that applies
  it, so a process killed at any line leaves it either applied once or pending for the hub step or the next run.
- **Only entities nothing else must precede.** The extract asset uses it for the entities whose hub asset runs
  after no other hub asset (products, customers: ``assets.hub.APPLIED_WHILE_READING``). Inventory waits for
  products and orders for products and customers (and for the blocking price check of ``hub/products``), so they
  stay with their hub steps.
- **Under the tenant lock, one round at a time.** Each round (the full batches pending now) takes the tenant's
  lock without waiting (``timeout_s=0``) and lets it go after: a webhook apply or another run of the tenant
  waits at most one round, never for the whole read. A round that finds the lock taken is skipped; the rows stay
  pending for whoever holds it or for the hub step, which waits for the lock as before. The lock's fencing applies
  unchanged: the lock is taken in the worker's own thread, so its commits, and only its, are fenced.
- **Only its own shops' rows.** It applies the pending rows of the integrations its extract reads (a webhook's row
  of those shops included: it is pending like any other); other shops' rows are the hub step's.
- **Seen in the UI and ``sync_runs``.** The rounds' counts are one :class:`ApplyReport`: the extract asset puts
  them in its metadata (``applied_*``), a ``sync_runs`` resolve row per shop carries them (opened before the first
  batch, closed when the worker stops), and the hub step adds them to its own (:func:`applied_in_run`), so
  ``hub/<entity>`` shows what the run applied to that entity whichever step did it.
- **Never fails the read.** An apply error (or a lost lock) rolls its batch back and stops the worker; it is
  reported in the extract's metadata and log (the resolve rows keep the counts of the batches committed before
  it); the read goes on and the hub step applies the rest (and fails there, where it belongs, if the error is not
  passing).

SQLite has one writer at a time: a batch's transaction and a page's staging wait for each other (busy timeout),
which costs the read little since the page prefetch keeps downloading meanwhile. PostgreSQL runs them side by side.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.engine import Connection

from ecom_pipeline.sync.apply import ApplyReport, Transform, apply_staged, pending_count
from ecom_pipeline.sync.runs import ResolveRuns, full_refresh_extracts, pending_per_integration
from ecom_pipeline.warehouse.locks import TenantLockTimeout, tenant_lock
from ecom_pipeline.warehouse.schema import sync_runs

# The hub step's batch (apply_staged's default): one transaction of this many staged rows.
DEFAULT_BATCH_ROWS = 500
COUNTS = ("created", "updated", "unchanged", "deleted", "rejected")


@dataclass
class WhileReadingResult:
    """What the worker applied during one extract step, for the asset's metadata and log."""

    report: ApplyReport
    rounds: int = 0
    lock_busy_rounds: int = 0
    error: str | None = None

    def metadata(self) -> dict[str, Any]:
        """Flat ``applied_*`` values (plotted per run in the UI) beside the extract's own."""
        r = self.report
        meta: dict[str, Any] = {
            "applied_rows_read": r.rows_read,
            **{f"applied_{name}": getattr(r, name) for name in COUNTS},
            "applied_batches": r.batches,
            "applied_duration_s": round(r.duration_s, 3),
            "applied_lock_busy_rounds": self.lock_busy_rounds,
        }
        if self.error:
            meta["applied_error"] = self.error
        return meta

    def summary(self, what: str) -> str:
        r = self.report
        line = (
            f"applied {r.rows_read} staged {what} rows to the hub while reading ({r.batches} batches, "
            f"{self.rounds} rounds): created {r.created}, updated {r.updated}, unchanged {r.unchanged}, deleted "
            f"{r.deleted}, rejected {r.rejected} in {r.duration_s:.2f}s"
        )
        if self.lock_busy_rounds:
            line += f"; {self.lock_busy_rounds} rounds skipped, the tenant's lock was held by another apply"
        if self.error:
            line += f"; stopped on an error, the hub step applies the rest: {self.error}"
        return line


@dataclass
class ApplyWhileReading:
    """A background apply of ``entity`` for ``integration_ids`` of ``tenant_id`` while their extract reads.

    Use: ``start()``, hand :meth:`staged` to the extract context's ``on_staged``, ``stop()`` when the read is
    over (also when it failed). ``stop`` returns after the batch in progress, never in the middle of one.
    """

    engine: Engine
    tenant_id: str
    entity: str
    integration_ids: Sequence[int]
    transforms: Mapping[str, Transform]
    run_id: str | None
    purpose: str
    batch_rows: int = DEFAULT_BATCH_ROWS
    _report: ApplyReport = field(init=False)
    _result: WhileReadingResult = field(init=False)
    _unseen: int = field(default=0, init=False)
    _wake: threading.Event = field(default_factory=threading.Event, init=False)
    _stopping: threading.Event = field(default_factory=threading.Event, init=False)
    _guard: threading.Lock = field(default_factory=threading.Lock, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)
    _runs: ResolveRuns | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self._report = ApplyReport(entity=self.entity, tenant_id=self.tenant_id)
        self._result = WhileReadingResult(self._report)
        self.batch_rows = max(1, int(self.batch_rows))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"ecom-apply-{self.entity}", daemon=True)
        self._thread.start()

    def staged(self, entity: str, rows: int) -> None:
        """The extract committed ``rows`` staged rows of ``entity`` (``ExtractContext.on_staged``)."""
        if entity != self.entity:
            return
        with self._guard:
            self._unseen += rows
            due = self._unseen >= self.batch_rows
        if due:
            self._wake.set()

    def stop(self) -> WhileReadingResult:
        """End the worker (after its current batch) and close its resolve rows; what it applied."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        if self._runs is not None:
            # Closed with what was committed, also after an error: a batch that failed rolled back whole, the ones
            # before it are in the hub, and the hub step adds these counts to its own (applied_in_run).
            self._runs.rows_read = dict(self._report.rows_per_integration)
            self._runs.finish(self._report.per_integration)
        return self._result

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                self._round()
            except Exception as exc:  # reported, never raised into the read: the hub step applies the rest
                self._result.error = f"{type(exc).__name__}: {exc}"
                return

    def _pending(self) -> int:
        with self.engine.connect() as conn:
            return pending_count(
                conn,
                tenant_id=self.tenant_id,
                entity=self.entity,
                integration_ids=self.integration_ids,
                at_most=self.batch_rows,
            )

    def _round(self) -> None:
        """Apply every full batch pending now, under the tenant's lock if it is free."""
        with self._guard:
            self._unseen = 0
        busy = False
        if self._pending() >= self.batch_rows:
            self._result.rounds += 1
            with contextlib.ExitStack() as held:
                try:
                    held.enter_context(tenant_lock(self.engine, self.tenant_id, purpose=self.purpose, timeout_s=0))
                except TenantLockTimeout:
                    # Another apply of the tenant (a webhook, another run) holds it: the rows stay pending for it or
                    # for the hub step. The next page staged tries again (no retry loop on the lock).
                    self._result.lock_busy_rounds += 1
                    busy = True
                else:
                    self._apply_full_batches()
        self._remember_pending(wake=not busy)

    def _apply_full_batches(self) -> None:
        if self._runs is None:
            self._runs = self._open_runs()
        started = time.perf_counter()
        part = apply_staged(
            self.engine,
            tenant_id=self.tenant_id,
            entity=self.entity,
            transforms=self.transforms,
            run_id=self.run_id,
            batch_size=self.batch_rows,
            integration_ids=self.integration_ids,
            full_batches_only=True,
            stop=self._stopping.is_set,
        )
        part.duration_s = time.perf_counter() - started
        self._report.merge(part)

    def _remember_pending(self, *, wake: bool) -> None:
        """Count the rows still pending toward the next wake-up, with those staged since (a row counted twice only
        brings a look at the count forward)."""
        if self._stopping.is_set():
            return
        left = self._pending()
        with self._guard:
            self._unseen += left
            due = self._unseen >= self.batch_rows
        if due and wake:
            self._wake.set()

    def _open_runs(self) -> ResolveRuns:
        """The resolve rows of the shops about to be applied, opened before the first batch (``sync/runs.py``)."""
        with self.engine.begin() as conn:
            pending = pending_per_integration(conn, tenant_id=self.tenant_id, entity=self.entity)
            runs = ResolveRuns(
                engine=self.engine,
                tenant_id=self.tenant_id,
                entity=self.entity,
                run_id=self.run_id,
                rows_read={},
                full_refresh=full_refresh_extracts(conn, run_id=self.run_id, entity=self.entity),
            )
            for integration_id in sorted(set(pending) & set(self.integration_ids)):
                runs.open(conn, integration_id)
        return runs


def start_apply_while_reading(
    engine: Engine,
    *,
    tenant_id: str,
    entity: str,
    integration_ids: Sequence[int],
    transforms: Mapping[str, Transform],
    run_id: str | None,
    purpose: str,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> ApplyWhileReading:
    """A started :class:`ApplyWhileReading` (see the module docstring)."""
    worker = ApplyWhileReading(
        engine,
        tenant_id,
        entity,
        list(integration_ids),
        transforms,
        run_id,
        purpose,
        batch_rows=batch_rows,
    )
    worker.start()
    return worker


def applied_in_run(conn: Connection, *, tenant_id: str, entity: str, run_id: str | None) -> dict[str, int]:
    """What earlier steps of Dagster run ``run_id`` (its extract steps' apply workers) applied to ``entity``:
    the counts of its closed ``sync_runs`` resolve rows, named like :class:`ApplyReport`'s (``rows_read``, and
    ``rejected`` for the column ``failed``). The hub step reads it before it opens its own resolve rows."""
    totals = dict.fromkeys(("rows_read", *COUNTS), 0)
    if run_id is None:
        return totals
    columns = {
        "rows_read": sync_runs.c.rows_fetched,
        "created": sync_runs.c.created,
        "updated": sync_runs.c.updated,
        "unchanged": sync_runs.c.unchanged,
        "deleted": sync_runs.c.deleted,
        "rejected": sync_runs.c.failed,
    }
    row = conn.execute(
        select(*(func.coalesce(func.sum(c), 0).label(name) for name, c in columns.items())).where(
            sync_runs.c.dagster_run_id == run_id,
            sync_runs.c.tenant_id == tenant_id,
            sync_runs.c.entity == entity,
            sync_runs.c.stage == "resolve",
            sync_runs.c.status == "success",
        )
    ).one()
    return {name: int(getattr(row, name)) for name in columns}


__all__ = [
    "DEFAULT_BATCH_ROWS",
    "ApplyWhileReading",
    "WhileReadingResult",
    "applied_in_run",
    "start_apply_while_reading",
]
