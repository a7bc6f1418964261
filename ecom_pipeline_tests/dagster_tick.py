"""One schedule tick submitted exactly as Dagster's scheduler daemon does, for tests and benchmarks.

Kept out of the ``ecom_pipeline`` package on purpose: it drives private Dagster APIs (``dagster._core``,
``dagster._scheduler``), pinned by constraints.txt, and the package itself uses only Dagster's public API.
The daemon only ticks on the cron schedule; a test or a benchmark needs a tick now.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

logger = logging.getLogger(__name__)

WORKSPACE_YAML = Path(__file__).resolve().parent.parent / "workspace.yaml"
CODE_SERVER_EXIT_S = 60.0


def _code_server_children() -> list[int]:
    """Pids of this process's children that are Dagster code servers (``dagster api grpc``), from /proc."""
    me = str(os.getpid())
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = stat.rsplit(")", 1)[1].split()[1]
        if ppid == me and b"api" in cmdline and b"grpc" in cmdline:
            found.append(int(entry.name))
    return found


def _reap(pids: list[int], timeout_s: float = CODE_SERVER_EXIT_S) -> None:
    """Wait for the code servers this tick started to exit, and kill the ones still there after ``timeout_s``.

    Leaving the workspace context asks its code server to shut down, but the server does so in the background and
    touches the instance's storage on the way; a test that then drops its storage database left the server retrying
    that database for ever (an orphan of the test session, holding its output pipe: seen on 2026-12-04).
    """
    deadline = time.monotonic() + timeout_s
    pending = list(pids)
    while pending and time.monotonic() < deadline:
        for pid in list(pending):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid  # not ours to wait for, or already reaped
            if done == pid:
                pending.remove(pid)
        if pending:
            time.sleep(0.2)
    for pid in pending:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)  # a code server ignores SIGTERM when started without a terminal
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)


@contextlib.contextmanager
def schedule_tick(
    instance: dg.DagsterInstance,
    schedule_name: str = "incremental_sync_schedule",
    workspace_file: Path | None = None,
    *,
    launch_queued: bool = False,
) -> Iterator[list[str]]:
    """Submit one tick of ``schedule_name`` exactly as the scheduler daemon does; yields the submitted run ids.

    The schedule is evaluated by a code server loaded from the workspace file, and each RunRequest goes through
    Dagster's own ``_submit_run_request`` (the scheduler daemon's function: a run built from the code location's
    remote job, subset to the request's asset selection, then ``instance.submit_run``). With the queued run
    coordinator the runs wait for the daemon, unless ``launch_queued`` launches them here, as the run queue
    daemon does (``instance.launch_run``: a run worker process of this context's code server), in which case
    wait for them inside the ``with`` block. For tests and
    benchmarks (the daemon only ticks on the cron schedule); private Dagster APIs, pinned by constraints.txt.
    """
    from dagster._core.definitions.timestamp import TimestampWithTimezone
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import WorkspaceFileTarget
    from dagster._scheduler.scheduler import _submit_run_request

    target = WorkspaceFileTarget(paths=[str(workspace_file or WORKSPACE_YAML)])
    servers: list[int] = []
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(lambda: _reap(servers))
        workspace = cleanup.enter_context(WorkspaceProcessContext(instance, target))
        servers.extend(_code_server_children())
        entries = workspace.create_request_context().get_code_location_entries()
        entry = next(iter(entries.values()))
        if entry.code_location is None:
            raise RuntimeError(f"the code location did not load: {entry.load_error}")
        code_location = entry.code_location
        repository = next(iter(code_location.get_repositories().values()))
        schedule = repository.get_schedule(schedule_name)
        now = datetime.now(UTC)
        data = code_location.get_schedule_execution_data(
            instance=instance,
            repository_handle=schedule.handle.repository_handle,
            schedule_name=schedule.name,
            scheduled_execution_time=TimestampWithTimezone(now.timestamp(), "UTC"),
            log_key=None,
        )
        run_ids: list[str] = []
        for request in data.run_requests or []:
            result = _submit_run_request(request, workspace, schedule, now, logger, None)
            if result.error_info is not None:
                raise RuntimeError(f"a run of the tick could not be submitted: {result.error_info.message}")
            if result.submitted_run is not None:
                run_ids.append(result.submitted_run.run_id)
        if launch_queued:
            for run_id in run_ids:
                run = instance.get_run_by_id(run_id)
                if run is not None and run.status == dg.DagsterRunStatus.QUEUED:
                    instance.launch_run(run_id, workspace.create_request_context())
        yield run_ids


def wait_finished(instance: dg.DagsterInstance, run_ids: list[str], timeout_s: float) -> list[dg.DagsterRun]:
    """The runs a tick submitted, once all of them have finished; past ``timeout_s``, an AssertionError naming each
    run's status and its last events (what a hung or failed run was doing)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        runs = [instance.get_run_by_id(run_id) for run_id in run_ids]
        if all(run is not None and run.is_finished for run in runs):
            return [run for run in runs if run is not None]
        time.sleep(0.5)
    details = []
    for run_id in run_ids:
        run = instance.get_run_by_id(run_id)
        events = [f"{e.dagster_event_type}: {e.message[:300]}" for e in instance.all_logs(run_id)[-8:]]
        details.append(f"{run_id} {run.status if run else '?'}: {events}")
    raise AssertionError(f"runs did not finish within {timeout_s} s: {details}")
