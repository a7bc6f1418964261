"""Where the project's shared folder is: recorded traffic, platform samples and the contract checker.

The shared folder sits beside the repository checkout (``../shared``), on a developer's machine and in CI alike.
It is looked up from this file rather than written as an absolute path, so the tests run from any clone: a git
worktree one level deeper (``<root>/wt/<name>``) finds it in a further parent. ``ECOM_SHARED_DIR`` names it
outright; ``ECOM_FIXTURES`` (older, still honoured) names only its ``fixtures`` folder.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

ENV_SHARED_DIR = "ECOM_SHARED_DIR"
ENV_FIXTURES = "ECOM_FIXTURES"
REPO_ROOT = Path(__file__).resolve().parents[1]


@cache
def shared_dir() -> Path:
    """The shared folder: ``$ECOM_SHARED_DIR``, else the nearest ``shared/`` with ``fixtures/`` above the repo."""
    explicit = os.environ.get(ENV_SHARED_DIR)
    if explicit:
        return Path(explicit).expanduser().resolve()
    for ancestor in REPO_ROOT.parents:
        candidate = ancestor / "shared"
        if (candidate / "fixtures").is_dir():
            return candidate
    raise FileNotFoundError(
        f"the shared folder (recorded shop traffic, platform samples, tools) was not found beside {REPO_ROOT} "
        f"nor in any parent folder; set {ENV_SHARED_DIR}=/path/to/shared"
    )


@cache
def fixtures_dir() -> Path:
    """``shared/fixtures``, or ``$ECOM_FIXTURES`` when set."""
    explicit = os.environ.get(ENV_FIXTURES)
    if explicit:
        return Path(explicit).expanduser().resolve()
    return shared_dir() / "fixtures"
