"""The extract step's early hub/products apply (``assets.hub.apply_early``) never waits for the tenant's lock: when
another holder has it (a webhook apply, another run of the tenant), the step reads on and leaves the rows to the hub
step, instead of holding its platform's pool slot through the lock timeout and then making the hub step wait the
timeout once more (review 2 of h-psoverlap; its repro)."""

from __future__ import annotations

import threading

import pytest

from ecom_pipeline.runner import run_sync
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.locks import tenant_lock
from ecom_pipeline_tests.integration.conftest import Env

TIMEOUT_S = 3


def _step_durations(env: Env, run_id: str) -> dict[str, float]:
    steps: dict[str, float] = {}
    for record in env.instance.all_logs(run_id):
        event = record.dagster_event
        if event is not None and event.event_type_value == "STEP_START":
            steps[str(event.step_key)] = -record.timestamp
        if event is not None and event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE"):
            steps[str(event.step_key)] += record.timestamp
    return steps


def test_the_extract_step_does_not_wait_for_a_tenant_lock_another_holder_has(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = "locked-tenant"
    assert env.connect(tenant) == 0
    monkeypatch.setenv("ECOM_TENANT_LOCK_TIMEOUT_S", str(TIMEOUT_S))
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with tenant_lock(shared_engine(env.warehouse_url), tenant, purpose="another holder"):
            held.set()
            release.wait(120)

    thread = threading.Thread(target=holder, daemon=True)
    thread.start()
    assert held.wait(30)
    try:
        outcome = run_sync(tenant, instance=env.instance)
    finally:
        release.set()
        thread.join()
    assert not outcome.success  # the hub step waited its timeout for the lock, as before
    steps = _step_durations(env, outcome.run_id)
    assert steps["woocommerce__extract"] < TIMEOUT_S, steps
    messages = [record.user_message or "" for record in env.instance.all_logs(outcome.run_id)]
    assert any("the hub step applies the pending rows" in m for m in messages)
    assert not any("could not be applied during the extract" in m for m in messages)

    # Once the lock is free, the next run applies what is pending.
    again = run_sync(tenant, instance=env.instance)
    assert again.success, again.failure
