"""Running the sync job on a real Dagster instance from scripts (CLI ``sync``, ``demo``, tests, benchmarks).

Runs go through ``DagsterInstance`` like runs launched from the UI, so they appear in the UI's run list with
their metadata, partitions and checks; ``execute_in_process`` only saves the process launch.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg

from ecom_pipeline.jobs import SYNC_JOB_NAME
from ecom_pipeline.partitions import TENANTS_PARTITION_NAME
from ecom_pipeline.warehouse.engine import default_home

REPO_DAGSTER_YAML = Path(__file__).resolve().parent.parent / "dagster.yaml"
FALLBACK_DAGSTER_YAML = "telemetry:\n  enabled: false\n"


def ensure_dagster_home() -> Path:
    """Set ``DAGSTER_HOME`` (default: the embedded home folder) and give it a dagster.yaml if it has none."""
    home = Path(os.environ.get("DAGSTER_HOME") or default_home()).resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        if REPO_DAGSTER_YAML.exists():
            shutil.copyfile(REPO_DAGSTER_YAML, config)
        else:
            config.write_text(FALLBACK_DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def get_instance() -> dg.DagsterInstance:
    ensure_dagster_home()
    return dg.DagsterInstance.get()


@dataclass
class SyncOutcome:
    tenant: str
    run_id: str
    success: bool
    failure: str | None
    materializations: dict[str, dict[str, Any]]


def sync_run_config(
    defs: dg.Definitions, *, full_refresh: bool, lookback_seconds: int | None = None, log_level: str | None = None
) -> dict[str, Any]:
    """Run config that sets the extract assets' options (full refresh, lookback) and the console log level."""
    job = defs.resolve_job_def(SYNC_JOB_NAME)
    ops: dict[str, Any] = {}
    for node in job.graph.node_defs:
        if node.name.startswith("hub__"):
            continue
        config: dict[str, Any] = {"full_refresh": full_refresh}
        if lookback_seconds is not None:
            config["lookback_seconds"] = lookback_seconds
        ops[node.name] = {"config": config}
    run_config: dict[str, Any] = {"ops": ops}
    if log_level:
        run_config["loggers"] = {"console": {"config": {"log_level": log_level}}}
    return run_config


def run_sync(
    tenant: str,
    *,
    instance: dg.DagsterInstance | None = None,
    full_refresh: bool = False,
    lookback_seconds: int | None = None,
    defs: dg.Definitions | None = None,
    log_level: str | None = None,
) -> SyncOutcome:
    """Run ``sync_job`` for one tenant partition and collect each asset's materialization metadata."""
    if defs is None:
        from ecom_pipeline.definitions import defs as default_defs

        defs = default_defs
    instance = instance or get_instance()
    if not instance.has_dynamic_partition(TENANTS_PARTITION_NAME, tenant):
        instance.add_dynamic_partitions(TENANTS_PARTITION_NAME, [tenant])
    job = defs.resolve_job_def(SYNC_JOB_NAME)
    result = job.execute_in_process(
        instance=instance,
        partition_key=tenant,
        run_config=sync_run_config(
            defs, full_refresh=full_refresh, lookback_seconds=lookback_seconds, log_level=log_level
        ),
        raise_on_error=False,
        tags={"ecom/launched_by": "cli"},
    )
    materializations: dict[str, dict[str, Any]] = {}
    for event in result.get_asset_materialization_events():
        mat = event.step_materialization_data.materialization
        materializations[mat.asset_key.to_user_string()] = {k: v.value for k, v in mat.metadata.items()}
    failure = None
    failed_checks = [
        f"{evaluation.asset_check_key.asset_key.to_user_string()}: {evaluation.description}"
        for event in result.all_events
        if event.event_type_value == "ASSET_CHECK_EVALUATION"
        and isinstance(evaluation := event.event_specific_data, dg.AssetCheckEvaluation)
        and not evaluation.passed
        and evaluation.severity == dg.AssetCheckSeverity.ERROR
    ]
    if failed_checks:
        # A shop that could not be read fails its platform's ERROR check rather than the run (the other shops
        # still reach the hub); for scripts, that still means the sync did not fully succeed.
        failure = "\n".join(failed_checks)
    if not result.success:
        messages = [
            str(e.event_specific_data.error.message).strip()  # type: ignore[union-attr]
            for e in result.all_events
            if e.is_step_failure and e.event_specific_data is not None
        ]
        failure = "\n".join([*messages, *failed_checks]) or "the run failed (see the Dagster UI for the logs)"
    return SyncOutcome(tenant, result.run_id, result.success and not failed_checks, failure, materializations)
