"""Groups of Dagster run statuses, spelled out from the public ``DagsterRunStatus``.

Dagster keeps its own lists in a private module (``dagster._core``), which can change in any release; these are
the same groups, named here once.
"""

import dagster as dg

# A run that holds (or is about to hold) a worker and its pool slots.
IN_PROGRESS_RUN_STATUSES: tuple[dg.DagsterRunStatus, ...] = (
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
    dg.DagsterRunStatus.SUSPENDED,
)
# A run that has ended, whatever the outcome.
FINISHED_STATUSES: tuple[dg.DagsterRunStatus, ...] = (
    dg.DagsterRunStatus.SUCCESS,
    dg.DagsterRunStatus.FAILURE,
    dg.DagsterRunStatus.CANCELED,
)
