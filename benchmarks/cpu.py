"""CPU seconds of the benchmark's processes from /proc, and the CPU lower bound of a sync's wall they give.

Against a zero-latency emulator on one machine, a sync's wall is bounded below by CPU: the emulator's CPU for the
calls (its own single-threaded process), our sync process's CPU (Python: about one core, the GIL), and
PostgreSQL's backends' CPU, all sharing the machine's cores. So

    wall >= max(shop CPU, sync CPU, (shop CPU + sync CPU + PostgreSQL CPU) / cores)

whatever the overlap: one process cannot use more than one core for long here (the emulator is one thread, the
sync mostly one because of the GIL), and the three together cannot use more than ``cores`` cores. ``wall / bound``
is then how far a run is from the best this machine could do with that much CPU; the aim (``aim x floor``) says
how much CPU the sync process may spend at most.

Readings are user + system CPU seconds from ``/proc/<pid>/stat`` (fields utime, stime, cutime, cstime, in clock
ticks), so no dependency; the standard library's ``os.times`` gives the reading process's own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROC = Path("/proc")
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cores() -> int:
    """Cores this process may run on (what the bound divides by)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def parse_stat(text: str) -> tuple[int, int, int, int]:
    """(utime, stime, cutime, cstime) in clock ticks from the text of ``/proc/<pid>/stat``.

    The command name (field 2) is in parentheses and may itself hold spaces and parentheses, so the fields are
    counted from the last ``)``: state is field 3, utime..cstime are fields 14..17.
    """
    fields = text[text.rfind(")") + 2 :].split()
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
    return utime, stime, cutime, cstime


def process_cpu_s(pid: int, *, children: bool = True, proc: Path = PROC) -> float | None:
    """User + system CPU seconds of process ``pid`` so far (all its threads), None when it does not exist.

    ``children`` adds the CPU of the children it has waited for (cutime + cstime), so CPU does not vanish from the
    reading when a child process exits.
    """
    try:
        utime, stime, cutime, cstime = parse_stat((proc / str(pid) / "stat").read_text())
    except (OSError, ValueError, IndexError):
        return None
    ticks = utime + stime + (cutime + cstime if children else 0)
    return ticks / CLK_TCK


def runqueue_wait_s(pid: int, *, proc: Path = PROC) -> float | None:
    """Seconds the threads of process ``pid`` alive now have spent runnable but waiting for a core (field 2 of
    ``/proc/<pid>/task/<tid>/schedstat``, nanoseconds): on a shared machine, the part of a wall that is other
    work's, not ours. None without schedstat (a kernel built without it) or without the process."""
    total = 0
    try:
        tasks = list((proc / str(pid) / "task").iterdir())
    except OSError:
        return None
    found = False
    for task in tasks:
        try:
            total += int((task / "schedstat").read_text().split()[1])
            found = True
        except (OSError, ValueError, IndexError):
            continue
    return total / 1e9 if found else None


def self_cpu_s() -> float:
    """This process's user + system CPU seconds (all threads) plus those of the children it has waited for."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _pids(proc: Path) -> list[int]:
    try:
        return [int(p.name) for p in proc.iterdir() if p.name.isdigit()]
    except OSError:
        return []


def postgres_pids(proc: Path = PROC) -> list[int]:
    """Pids of the processes named ``postgres`` (the server's postmaster, backends and background workers).

    Every PostgreSQL cluster on the machine is included: the benchmarks use the one at 127.0.0.1:5432.
    """
    out = []
    for pid in _pids(proc):
        try:
            if (proc / str(pid) / "comm").read_text().strip() == "postgres":
                out.append(pid)
        except OSError:
            continue
    return out


def postgres_cpu_s(proc: Path = PROC) -> float:
    """User + system CPU seconds of PostgreSQL's server processes so far, a counter that only grows.

    Each process's own CPU plus that of the children it waited for: a backend that exits moves its CPU into the
    postmaster's cutime/cstime, so the difference of two readings counts backends that came and went between them
    too. Everything the server did between the readings is counted, whoever asked: other clients' work, the
    checkpointer, the WAL writer, autovacuum.
    """
    total = 0.0
    for pid in postgres_pids(proc):
        value = process_cpu_s(pid, proc=proc)
        if value is not None:
            total += value
    return total


def postgres_backends_cpu_s(database: str, proc: Path = PROC) -> dict[int, float]:
    """pid -> own CPU seconds of the PostgreSQL backends connected to ``database`` (their process title, e.g.
    ``postgres: 15/main: postgres ecom_bench_1_big 127.0.0.1(5432) idle``, names the database)."""
    out: dict[int, float] = {}
    for pid in postgres_pids(proc):
        try:
            title = (proc / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if f" {database} " in f" {title} ":
            value = process_cpu_s(pid, children=False, proc=proc)
            if value is not None:
                out[pid] = value
    return out


def backends_delta_s(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU the backends alive at ``after`` spent since ``before`` (a backend new since then from zero). A backend
    that exited in between is not counted: this is a lower bound of the database's share of the server's CPU."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


@dataclass(frozen=True)
class CpuBudget:
    """One sync's wall against the CPU it and its counterparts spent in the same window.

    ``pg_cpu_s`` is 0 for a SQLite warehouse (the sync process does SQLite's work itself).
    """

    wall_s: float
    shop_cpu_s: float
    sync_cpu_s: float
    pg_cpu_s: float
    cores: int
    floor_wall_s: float
    aim: float

    @property
    def total_cpu_s(self) -> float:
        return self.shop_cpu_s + self.sync_cpu_s + self.pg_cpu_s

    @property
    def bound_s(self) -> float:
        """The least wall this much CPU allows on ``cores`` cores, one core per process at most."""
        return max(self.shop_cpu_s, self.sync_cpu_s, self.total_cpu_s / max(1, self.cores))

    @property
    def wall_over_bound(self) -> float:
        return self.wall_s / self.bound_s if self.bound_s > 0 else float("nan")

    @property
    def aim_wall_s(self) -> float:
        return self.aim * self.floor_wall_s

    @property
    def sync_cpu_allowed_s(self) -> float:
        """Sync CPU the aim allows if everything overlapped perfectly: at most the aimed wall (one core)."""
        return self.aim_wall_s

    @property
    def sync_cpu_allowed_shared_s(self) -> float:
        """Same, also leaving the shop's and PostgreSQL's CPU (as measured) their share of the cores:
        min(aim x floor, cores x aim x floor - shop - PostgreSQL). Negative: the aim is out of reach on this
        machine whatever the sync does."""
        return min(self.aim_wall_s, self.cores * self.aim_wall_s - self.shop_cpu_s - self.pg_cpu_s)


# ---------------------------------------------------------------------------------------------- a run's window


def database_of(url: str) -> str | None:
    """The PostgreSQL database a warehouse URL names, None for another backend (SQLite)."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    return u.database if u.get_backend_name() == "postgresql" else None


@dataclass(frozen=True)
class Reading:
    """The counters at one instant: this process, the shop process, the PostgreSQL server, our database's
    backends (empty without a database)."""

    self_s: float
    shop_s: float | None
    pg_s: float
    backends: dict[int, float]
    self_wait_s: float | None = None
    shop_wait_s: float | None = None


def read(shop_pid: int | None, database: str | None, *, proc: Path = PROC) -> Reading:
    """The counters at the start of a window (see ``read_after`` for its end)."""
    shop = process_cpu_s(shop_pid, proc=proc) if shop_pid else None
    pg = postgres_cpu_s(proc)
    backends = postgres_backends_cpu_s(database, proc) if database else {}
    shop_wait = runqueue_wait_s(shop_pid, proc=proc) if shop_pid else None
    self_wait = runqueue_wait_s(os.getpid(), proc=proc)
    # Our own counter last, so this reading's /proc scan is left out of the window that starts here.
    return Reading(self_cpu_s(), shop, pg, backends, self_wait, shop_wait)


def read_after(shop_pid: int | None, database: str | None, *, proc: Path = PROC) -> Reading:
    """``read`` in the other order (this process first), so the reading's own /proc scan is left out of ours
    at both ends of a window."""
    own = self_cpu_s()
    self_wait = runqueue_wait_s(os.getpid(), proc=proc)
    shop = process_cpu_s(shop_pid, proc=proc) if shop_pid else None
    shop_wait = runqueue_wait_s(shop_pid, proc=proc) if shop_pid else None
    pg = postgres_cpu_s(proc)
    backends = postgres_backends_cpu_s(database, proc) if database else {}
    return Reading(own, shop, pg, backends, self_wait, shop_wait)


def window(before: Reading, after: Reading) -> dict[str, float | None]:
    """CPU seconds spent between two readings: ``self_cpu_s`` (this process), ``shop_cpu_s``, ``pg_server_cpu_s``
    (every PostgreSQL process), ``pg_db_cpu_s`` (our database's backends alive at the end; None without one);
    ``self_wait_s`` / ``shop_wait_s``: seconds this process's / the shop's threads waited for a core."""
    shop = None if before.shop_s is None or after.shop_s is None else after.shop_s - before.shop_s

    def diff(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else b - a

    return {
        "self_wait_s": diff(before.self_wait_s, after.self_wait_s),
        "shop_wait_s": diff(before.shop_wait_s, after.shop_wait_s),
        "self_cpu_s": after.self_s - before.self_s,
        "shop_cpu_s": shop,
        "pg_server_cpu_s": after.pg_s - before.pg_s,
        "pg_db_cpu_s": backends_delta_s(before.backends, after.backends) if after.backends or before.backends else None,
    }


def cpu_model() -> str:
    try:
        for line in (PROC / "cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


# ---------------------------------------------------------------------------------------------- markdown


@dataclass(frozen=True)
class BudgetRow:
    """One line of the CPU budget table: a sync (``our_cpu_s`` = the sync process's CPU during ``run_sync``) or
    the floor (``our_cpu_s`` = the plain ``requests`` client's CPU). ``aim`` None: no aim for this run."""

    label: str
    wall_s: float
    shop_cpu_s: float | None
    our_cpu_s: float
    pg_db_cpu_s: float | None = None
    pg_server_cpu_s: float | None = None
    floor_wall_s: float | None = None
    aim: float | None = None
    our_wait_s: float | None = None
    shop_wait_s: float | None = None
    calls: int | None = None  # API calls the shop answered in the window

    def budget(self, n_cores: int) -> CpuBudget:
        return CpuBudget(
            wall_s=self.wall_s,
            shop_cpu_s=self.shop_cpu_s or 0.0,
            sync_cpu_s=self.our_cpu_s,
            pg_cpu_s=self.pg_db_cpu_s or 0.0,
            cores=n_cores,
            floor_wall_s=self.floor_wall_s or 0.0,
            aim=self.aim or 0.0,
        )


def floor_row(label: str, floor: Any) -> BudgetRow:
    """The budget row of a floor pass (``benchmarks.floor.FloorResult`` or the PrestaShop bench's ``Floor``: both
    carry ``wall_s``, ``shop_cpu_s``, ``client_cpu_s``, the waits and ``calls``)."""
    return BudgetRow(
        label,
        floor.wall_s,
        floor.shop_cpu_s,
        floor.client_cpu_s,
        our_wait_s=floor.client_wait_s,
        shop_wait_s=floor.shop_wait_s,
        calls=floor.calls,
    )


def sync_row(
    label: str,
    wall_s: float,
    run_cpu: Mapping[str, Any],
    *,
    postgres: bool,
    calls: int,
    floor_wall_s: float | None,
    aim: float | None,
) -> BudgetRow:
    """The budget row of one sync from the CPU its subprocess measured over ``run_sync`` (``run_cpu``: shop, self,
    PostgreSQL's and the waits, as ``sync_child`` reports them); PostgreSQL's CPU only for a PostgreSQL sync."""
    return BudgetRow(
        label,
        wall_s,
        run_cpu["shop_cpu_s"],
        run_cpu["self_cpu_s"],
        pg_db_cpu_s=run_cpu["pg_db_cpu_s"] if postgres else None,
        pg_server_cpu_s=run_cpu["pg_server_cpu_s"] if postgres else None,
        floor_wall_s=floor_wall_s,
        aim=aim,
        our_wait_s=run_cpu.get("self_wait_s"),
        shop_wait_s=run_cpu.get("shop_wait_s"),
        calls=calls,
    )


def _s(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.1f} s" if abs(v) >= 10 else f"{v:.2f} s"


def render_budget(heading: str, rows: list[BudgetRow], *, n_cores: int, cpu: str, load: str) -> list[str]:
    """A markdown sub-section: the CPU each run cost the shop, our process and PostgreSQL, the wall's CPU lower
    bound on this machine, and the sync CPU the aim allows."""
    out = [f"### {heading}\n"]
    out.append(
        f"Machine: {cpu}, **{n_cores} cores** (shared with the other work on it: load average {load}). CPU = user "
        "+ system seconds from `/proc/<pid>/stat` over the same window as the wall (`run_sync` alone, read in the "
        "sync subprocess; the floor's pass in the benchmark process). *Shop*: the emulator's process "
        "(single-threaded Python). *Ours*: the sync subprocess (all its threads), or the floor's plain `requests` "
        "client. *PostgreSQL*: the benchmark database's backends still connected at the end of the run (a backend "
        "that closed during the run is missed: a lower bound), then every PostgreSQL server process (postmaster, "
        "backends including those that exited, checkpointer, WAL writer, autovacuum): the latter counts whatever "
        "else the shared server did meanwhile (the benchmark's own database is the only one it writes). "
        f"**CPU bound** = max(shop, ours, (shop + ours + PostgreSQL of our database) / {n_cores}): no overlap of the "
        "three can make the wall shorter on this machine; in brackets with the whole server's PostgreSQL CPU. "
        "**Sync CPU the aim allows** = aim x floor (the most our process may spend if everything overlapped "
        f"perfectly), then also leaving the shop's and PostgreSQL's measured CPU their share of the {n_cores} cores "
        f"(min(aim x floor, {n_cores} x aim x floor - shop - PostgreSQL)). *Waited for a core*: the time our "
        "process's and the shop's threads were runnable but not running (`/proc/<pid>/task/*/schedstat`): on a "
        "shared machine, the part of the wall the other work on it took.\n"
    )
    out.append(
        "| run | wall | shop CPU | our CPU | PostgreSQL CPU: our database / whole server | CPU bound of the wall "
        "| wall / bound | waited for a core: ours / shop | aim x floor "
        "| sync CPU the aim allows: alone / sharing the cores |"
    )
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        b = r.budget(n_cores)
        pg = (
            "-"
            if r.pg_db_cpu_s is None and r.pg_server_cpu_s is None
            else f"{_s(r.pg_db_cpu_s)} / {_s(r.pg_server_cpu_s)}"
        )
        bound = _s(b.bound_s)
        if r.pg_server_cpu_s is not None and r.pg_db_cpu_s is not None:
            wide = CpuBudget(b.wall_s, b.shop_cpu_s, b.sync_cpu_s, r.pg_server_cpu_s, n_cores, b.floor_wall_s, b.aim)
            bound += f" ({_s(wide.bound_s)})"
        if r.aim and r.floor_wall_s:
            aim_cells = (
                f"{_s(b.aim_wall_s)} ({r.aim:g}x) | {_s(b.sync_cpu_allowed_s)} / {_s(b.sync_cpu_allowed_shared_s)}"
            )
        else:
            aim_cells = "- | -"
        ratio = f"{b.wall_over_bound:.2f}x" if b.bound_s > 0 else "-"
        out.append(
            f"| {r.label} | {_s(r.wall_s)} | {_s(r.shop_cpu_s)} | {_s(r.our_cpu_s)} | {pg} | {bound} "
            f"| {ratio} | {_s(r.our_wait_s)} / {_s(r.shop_wait_s)} | {aim_cells} |"
        )
    out.append("")
    # Readings are in clock ticks (10 ms): a run of a few calls says nothing per call.
    per_call = [
        (r.label, r.shop_cpu_s / r.calls) for r in rows if r.calls and r.calls >= 100 and r.shop_cpu_s is not None
    ]
    if per_call:
        out.append(
            "Shop CPU per API call (the same calls should cost the emulator the same: a drift from run to run is "
            "the emulator's, not the sync's): "
            + "; ".join(f"{label} {1000 * v:.2f} ms" for label, v in per_call)
            + ".\n"
        )
    return out
