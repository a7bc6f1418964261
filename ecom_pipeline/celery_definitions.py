"""The code location for a Celery deployment: the project's definitions plus ``sync_job_celery``.

Why a second module: ``sync_job`` runs its steps in the run worker's own process (in-process executor, see
``jobs``). When one machine is not enough, Dagster's own ``dagster-celery`` executor hands each step to a pool of
Celery workers on other machines through a broker (RabbitMQ): the run coordinator stays small and the workers
scale out. It is an optional extra (``pip install '.[celery]'``), so the default code location
(``ecom_pipeline.definitions``) does not import it; a deployment that uses Celery points its code location at this
module instead (docs/deploy.md), and its workers run ``celery -A dagster_celery.app worker``.

The broker comes from ``ECOM_CELERY_BROKER`` (default RabbitMQ on 127.0.0.1 as guest, which is also what the
workers' ``dagster_celery.app`` uses with ``DAGSTER_CELERY_BROKER_HOST=127.0.0.1``); results come back over the
broker (``rpc://``). The job has the same assets, partitions and per-tenant selection as ``sync_job``: launch it
with the tenant's selection (``jobs.tenant_sync_selection``) as the CLI and the schedule do.
"""

from __future__ import annotations

import os

import dagster as dg
from dagster_celery import celery_executor

from ecom_pipeline import definitions as project
from ecom_pipeline.jobs import sync_job

CELERY_SYNC_JOB_NAME = "sync_job_celery"
DEFAULT_BROKER = "pyamqp://guest@127.0.0.1:5672//"


def broker_url() -> str:
    """The broker the executor submits steps to (must be the one the workers listen on)."""
    return os.environ.get("ECOM_CELERY_BROKER", DEFAULT_BROKER)


sync_job_celery = dg.define_asset_job(
    CELERY_SYNC_JOB_NAME,
    selection=sync_job.selection,
    executor_def=celery_executor.configured({"broker": broker_url(), "backend": "rpc://"}),
    description="sync_job with each step executed by a Celery worker (dagster-celery): for deployments whose "
    "steps must spread over several machines.",
    tags={"ecom/kind": "sync"},
)

# One Definitions object at module scope (the loader refuses two), so the project's is reached through its module.
defs = dg.Definitions.merge(project.defs, dg.Definitions(jobs=[sync_job_celery]))
