"""The Celery path: ``sync_job_celery`` runs two tenants' syncs with every step executed by one of two Celery
worker processes (dagster-celery, RabbitMQ on 127.0.0.1), and the hub ends up as an in-process run leaves it.

Why: when one machine is not enough, the steps of a tick are spread over Celery workers on other machines
(docs/deploy.md). That only helps if the work really is shared between workers and a step run far from the run
coordinator writes exactly what it writes in process. Under CI=true RabbitMQ is required (a missing broker fails
the test); elsewhere the test is skipped with the reason when RabbitMQ does not answer or the ``celery`` extra is
not installed.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster._core.definitions.reconstruct import ReconstructableRepository
from sqlalchemy import Table, select

from ecom_pipeline.jobs import tenant_sync_selection
from ecom_pipeline.runner import run_sync, sync_run_config
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import hub_customers, hub_order_lines, hub_orders, hub_products, hub_variants
from ecom_pipeline_tests.conftest import ON_CI
from ecom_pipeline_tests.integration.conftest import SHOP, Env

BROKER_HOST = "127.0.0.1"
BROKER_PORT = 5672
WORKERS = 2
SHOPS = {"a": SHOP, "b": "other-shop"}
# The solo pool runs one step at a time in the worker process (the project is imported once per worker); a
# prefetch of one leaves the next step to whichever worker is free.
WORKER_COMMAND = [
    *(sys.executable, "-m", "celery", "-A", "dagster_celery.app", "worker", "-Q", "dagster"),
    *("--pool", "solo", "--concurrency", "1", "--prefetch-multiplier", "1"),
    *("--loglevel", "INFO", "--without-gossip", "--without-mingle"),
]
HUB_TABLES = (hub_products, hub_variants, hub_orders, hub_order_lines, hub_customers)


def _broker_problem() -> str | None:
    """None when the celery extra is installed and RabbitMQ accepts connections, else why not."""
    try:
        import dagster_celery  # noqa: F401
    except ImportError:
        return "dagster-celery is not installed (pip install -c constraints.txt -e '.[celery]')"
    try:
        with socket.create_connection((BROKER_HOST, BROKER_PORT), timeout=2):
            return None
    except OSError as exc:
        return f"RabbitMQ does not answer on {BROKER_HOST}:{BROKER_PORT}: {exc}"


@pytest.fixture
def celery_workers(env: Env, tmp_path: Path) -> Iterator[list[str]]:
    """WORKERS Celery worker processes (one step at a time each, no prefetching beyond it), named w1, w2, ...

    They load the project once per worker (the solo pool runs steps in the worker process) and reach the same
    warehouse and Dagster instance as the test through the environment the ``env`` fixture set.
    """
    problem = _broker_problem()
    if problem is not None:
        if ON_CI:
            pytest.fail(f"CI=true requires the Celery path: {problem}", pytrace=False)
        pytest.skip(problem)
    worker_env = {**os.environ, "DAGSTER_CELERY_BROKER_HOST": BROKER_HOST}
    tag = f"{os.getpid()}-{time.monotonic_ns() % 10**6}"
    names = [f"w{i}-{tag}@ecomtest" for i in range(1, WORKERS + 1)]
    procs: list[subprocess.Popen[bytes]] = []
    logs = [tmp_path / f"worker{i}.log" for i in range(1, WORKERS + 1)]
    try:
        for name, log in zip(names, logs, strict=True):
            with log.open("wb") as out:
                procs.append(
                    subprocess.Popen(
                        [*WORKER_COMMAND, "-n", name],
                        env=worker_env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
        deadline = time.monotonic() + 60
        while not all(" ready." in log.read_text(errors="replace") for log in logs):
            for proc, log in zip(procs, logs, strict=True):
                if proc.poll() is not None:
                    pytest.fail(f"a Celery worker exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail("the Celery workers were not ready within 60 s")
            time.sleep(0.2)
        yield names
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def _hub_snapshot(warehouse_url: str, tenant: str) -> dict[str, list[tuple[Any, ...]]]:
    """The tenant's hub rows without what differs between two equal syncs (ids, times, the tenant itself)."""
    snapshot: dict[str, list[tuple[Any, ...]]] = {}
    with shared_engine(warehouse_url).connect() as conn:
        for table in HUB_TABLES:
            kept = [c for c in table.columns if _compared(table, c.name)]
            rows = conn.execute(select(*kept).where(table.c.tenant_id == tenant))
            snapshot[table.name] = sorted(tuple(repr(v) for v in row) for row in rows)
    return snapshot


def _compared(table: Table, column: str) -> bool:
    return not (column in ("id", "tenant_id") or column.endswith(("_id", "_at")))


def _celery_run(env: Env, tenant: str) -> dg.ExecutionResult | Any:
    """One tenant's sync through ``sync_job_celery``, launched the way the CLI launches ``sync_job``."""
    from ecom_pipeline.celery_definitions import CELERY_SYNC_JOB_NAME, defs

    if not env.instance.has_dynamic_partition("tenants", tenant):
        env.instance.add_dynamic_partitions("tenants", [tenant])
    with shared_engine(env.warehouse_url).connect() as conn:
        selection = tenant_sync_selection(conn, tenant)
    recon = ReconstructableRepository.for_module(
        "ecom_pipeline.celery_definitions", "defs", working_directory=os.getcwd()
    ).get_reconstructable_job(CELERY_SYNC_JOB_NAME)
    return dg.execute_job(
        recon,
        instance=env.instance,
        run_config=sync_run_config(defs, full_refresh=False, asset_selection=selection),
        tags={"dagster/partition": tenant},
        asset_selection=selection,
    )


# dagster-celery registers its step task again for every step it submits; Celery warns each time (harmless).
@pytest.mark.filterwarnings("ignore:Task name 'execute_plan' is already registered")
def test_a_tick_on_two_celery_workers_is_shared_between_them_and_equals_an_in_process_run(
    env: Env, celery_workers: list[str]
) -> None:
    """Prevents a Celery deployment that runs every step on one worker (no scale-out) or whose steps write
    something else than the in-process sync: two tenants' runs go through two workers, both workers execute
    steps, and each tenant's hub equals that of a twin tenant synced in process from the same shop."""
    for key, shop in SHOPS.items():
        assert env.connect(f"celery-{key}", shop) == 0
        assert env.connect(f"local-{key}", shop) == 0

    started = time.monotonic()
    results = {key: _celery_run(env, f"celery-{key}") for key in SHOPS}
    celery_seconds = time.monotonic() - started
    for key, result in results.items():
        assert result.success, f"celery run of tenant celery-{key} failed"

    # Which worker executed each step: dagster-celery reports it in an engine event per step.
    executed_by: dict[str, str] = {}
    for result in results.values():
        for record in env.instance.all_logs(result.run_id):
            event = record.dagster_event
            if event is None or event.event_type_value != "ENGINE_EVENT" or event.step_key is None:
                continue
            data = event.engine_event_data
            worker = data.metadata.get("Celery worker") if data is not None else None
            if worker is not None:
                executed_by[f"{result.run_id[:8]}:{event.step_key}"] = str(worker.value)
    steps = sum(
        1
        for result in results.values()
        for record in env.instance.all_logs(result.run_id, of_type=dg.DagsterEventType.STEP_SUCCESS)
    )
    assert steps > 0 and len(executed_by) == steps, (steps, executed_by)
    assert set(executed_by.values()) == set(celery_workers), executed_by
    print(f"celery: {steps} steps in {celery_seconds:.1f} s; per worker: ", end="")
    print({w: list(executed_by.values()).count(w) for w in celery_workers})

    for key in SHOPS:
        outcome = run_sync(f"local-{key}", instance=env.instance)
        assert outcome.success, outcome.failure
        celery_hub = _hub_snapshot(env.warehouse_url, f"celery-{key}")
        assert all(celery_hub[table.name] for table in (hub_products, hub_variants, hub_orders))
        assert celery_hub == _hub_snapshot(env.warehouse_url, f"local-{key}")


def test_the_celery_code_location_loads(tmp_path: Path) -> None:
    """Prevents shipping a Celery code location that the webserver or daemon cannot load (e.g. two Definitions
    objects at module scope, which Dagster's loader refuses): ``dagster definitions validate`` on it passes."""
    if not ON_CI:  # under CI the dev extra brings dagster-celery, and a missing one fails below
        pytest.importorskip("dagster_celery", reason="the celery extra is not installed")
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    dagster = Path(sys.executable).with_name("dagster")
    done = subprocess.run(
        [str(dagster), "definitions", "validate", "-m", "ecom_pipeline.celery_definitions"],
        env={**os.environ, "DAGSTER_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
