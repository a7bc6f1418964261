"""The benchmarks' CPU accounting (``benchmarks.cpu``): /proc readings and the CPU lower bound of a sync's wall.

A fake /proc tree (files laid out as Linux lays them out) checks the parsing and the PostgreSQL sums exactly; the
real /proc checks that a busy process's reading grows by about the CPU it burnt.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from benchmarks import cpu


def _stat_line(pid: int, comm: str, utime: int, stime: int, cutime: int = 0, cstime: int = 0) -> str:
    # Fields 1..17 of /proc/<pid>/stat, then the rest (not read); comm in parentheses, as the kernel writes it.
    head = f"{pid} ({comm}) S 1 {pid} {pid} 0 -1 4194560 100 0 0 0"
    return f"{head} {utime} {stime} {cutime} {cstime} 20 0 1 0 12345 1000000 200 18446744073709551615\n"


def _process(proc: Path, pid: int, comm: str, cmdline: str, utime: int, stime: int, cut: int = 0, cst: int = 0) -> None:
    d = proc / str(pid)
    d.mkdir(parents=True, exist_ok=True)
    (d / "stat").write_text(_stat_line(pid, comm, utime, stime, cut, cst))
    (d / "comm").write_text(comm + "\n")
    (d / "cmdline").write_bytes(cmdline.replace(" ", "\0").encode() + b"\0")


def test_parse_stat_counts_fields_after_the_last_parenthesis() -> None:
    # A command name with spaces and parentheses must not shift the fields.
    line = _stat_line(42, "weird ) name (x", utime=310, stime=45, cutime=7, cstime=3)
    assert cpu.parse_stat(line) == (310, 45, 7, 3)


def test_process_cpu_s_in_seconds_with_and_without_children(tmp_path: Path) -> None:
    _process(tmp_path, 10, "python", "python -m benchmarks.shop", utime=250, stime=50, cut=100, cst=20)
    assert cpu.process_cpu_s(10, proc=tmp_path) == pytest.approx(420 / cpu.CLK_TCK)
    assert cpu.process_cpu_s(10, children=False, proc=tmp_path) == pytest.approx(300 / cpu.CLK_TCK)
    assert cpu.process_cpu_s(11, proc=tmp_path) is None  # gone


def test_real_proc_reading_grows_with_cpu_burnt() -> None:
    before = cpu.process_cpu_s(os.getpid())
    own_before = cpu.self_cpu_s()
    assert before is not None
    t0 = time.process_time()
    while time.process_time() - t0 < 0.3:
        pass
    after = cpu.process_cpu_s(os.getpid())
    assert after is not None
    assert 0.25 <= after - before <= 1.0
    assert 0.25 <= cpu.self_cpu_s() - own_before <= 1.0


def test_runqueue_wait_sums_the_threads(tmp_path: Path) -> None:
    for tid, waited_ns in ((10, 1_500_000_000), (11, 250_000_000)):
        task = tmp_path / "10" / "task" / str(tid)
        task.mkdir(parents=True)
        (task / "schedstat").write_text(f"9000000000 {waited_ns} 1234\n")
    assert cpu.runqueue_wait_s(10, proc=tmp_path) == pytest.approx(1.75)
    assert cpu.runqueue_wait_s(12, proc=tmp_path) is None
    real = cpu.runqueue_wait_s(os.getpid())
    assert real is None or real >= 0.0


def test_postgres_sum_keeps_the_cpu_of_a_backend_that_exits(tmp_path: Path) -> None:
    title = "postgres: 15/main: postgres {db} 127.0.0.1(5000) idle"
    _process(tmp_path, 100, "postgres", "/usr/lib/postgresql/15/bin/postgres -D /x", utime=1000, stime=100)
    _process(tmp_path, 101, "postgres", "postgres: 15/main: checkpointer", utime=50, stime=50)
    _process(tmp_path, 200, "postgres", title.format(db="ecom_bench_1"), utime=300, stime=100)
    _process(tmp_path, 201, "postgres", title.format(db="other_db"), utime=500, stime=0)
    _process(tmp_path, 300, "python", "python -m benchmarks.sync_child", utime=9000, stime=0)
    assert sorted(cpu.postgres_pids(tmp_path)) == [100, 101, 200, 201]
    start = cpu.postgres_cpu_s(tmp_path)
    assert start == pytest.approx(2100 / cpu.CLK_TCK)
    ours_start = cpu.postgres_backends_cpu_s("ecom_bench_1", tmp_path)
    assert ours_start == {200: pytest.approx(4.0 * 100 / cpu.CLK_TCK)}

    # Backend 200 works 2 s more then exits: the postmaster reaps it (its 4 + 2 s go to cutime/cstime); a new backend
    # of our database appears and spends 1 s; the other database's backend spends 0.5 s.
    t = cpu.CLK_TCK
    (tmp_path / "200" / "stat").unlink()
    (tmp_path / "200" / "comm").unlink()
    (tmp_path / "200" / "cmdline").unlink()
    (tmp_path / "200").rmdir()
    _process(
        tmp_path, 100, "postgres", "/usr/lib/postgresql/15/bin/postgres -D /x", 1000, 100, cut=300 + 2 * t, cst=100
    )
    _process(tmp_path, 202, "postgres", title.format(db="ecom_bench_1"), utime=1 * t, stime=0)
    _process(tmp_path, 201, "postgres", title.format(db="other_db"), utime=500 + t // 2, stime=0)
    end = cpu.postgres_cpu_s(tmp_path)
    # Server: 2 s more from the exited backend, 1 s from the new one, 0.5 s from the other database's.
    assert end - start == pytest.approx(3.5)
    # Our database's backends alive at the end: only the new one (the exited one is missed, a lower bound).
    ours_end = cpu.postgres_backends_cpu_s("ecom_bench_1", tmp_path)
    assert cpu.backends_delta_s(ours_start, ours_end) == pytest.approx(1.0)
    # A backend alive at both ends counts its difference only.
    assert cpu.backends_delta_s({7: 1.0}, {7: 1.5, 8: 0.25}) == pytest.approx(0.75)


def test_window_of_two_readings(tmp_path: Path) -> None:
    before = cpu.Reading(self_s=10.0, shop_s=3.0, pg_s=100.0, backends={1: 0.5}, self_wait_s=1.0, shop_wait_s=2.0)
    after = cpu.Reading(14.0, 5.5, 101.5, {1: 1.5, 2: 0.25}, self_wait_s=1.5, shop_wait_s=2.25)
    assert cpu.window(before, after) == pytest.approx(
        {
            "self_cpu_s": 4.0,
            "shop_cpu_s": 2.5,
            "pg_server_cpu_s": 1.5,
            "pg_db_cpu_s": 1.25,
            "self_wait_s": 0.5,
            "shop_wait_s": 0.25,
        }
    )
    no_db = cpu.window(cpu.Reading(1.0, None, 0.0, {}), cpu.Reading(2.0, None, 0.0, {}))
    assert no_db["shop_cpu_s"] is None and no_db["pg_db_cpu_s"] is None and no_db["shop_wait_s"] is None


def test_database_of() -> None:
    assert cpu.database_of("postgresql+psycopg2://postgres@127.0.0.1:5432/ecom_bench_1") == "ecom_bench_1"
    assert cpu.database_of("sqlite:////tmp/w.db") is None


def test_bound_is_the_largest_process_or_the_cores_share() -> None:
    # Shop-bound: the emulator alone needs 10 s of its one thread.
    b = cpu.CpuBudget(wall_s=20, shop_cpu_s=10, sync_cpu_s=6, pg_cpu_s=2, cores=2, floor_wall_s=12, aim=1.2)
    assert b.bound_s == pytest.approx(10)
    assert b.wall_over_bound == pytest.approx(2.0)
    # Cores-bound: 8 + 7 + 5 = 20 s of CPU on 2 cores cannot take less than 10 s.
    b = cpu.CpuBudget(wall_s=15, shop_cpu_s=8, sync_cpu_s=7, pg_cpu_s=5, cores=2, floor_wall_s=10, aim=1.2)
    assert b.bound_s == pytest.approx(10)
    assert b.wall_over_bound == pytest.approx(1.5)
    # The aim: 1.2 x 10 s = 12 s of wall; our process may spend 12 s at most, and sharing 2 cores with the shop's
    # 8 s and PostgreSQL's 5 s only 2 x 12 - 8 - 5 = 11 s.
    assert b.aim_wall_s == pytest.approx(12)
    assert b.sync_cpu_allowed_s == pytest.approx(12)
    assert b.sync_cpu_allowed_shared_s == pytest.approx(11)
    # Sync-bound, SQLite (no PostgreSQL): one process on one core.
    b = cpu.CpuBudget(wall_s=9, shop_cpu_s=3, sync_cpu_s=8, pg_cpu_s=0, cores=2, floor_wall_s=5, aim=1.2)
    assert b.bound_s == pytest.approx(8)
    assert b.sync_cpu_allowed_shared_s == pytest.approx(6)  # min(6, 2 x 6 - 3)


def test_render_budget_table() -> None:
    rows = [
        cpu.BudgetRow("floor", 10.0, shop_cpu_s=7.0, our_cpu_s=2.5, our_wait_s=0.5, shop_wait_s=0.25, calls=2000),
        cpu.BudgetRow(
            "postgresql full", 15.0, 8.0, 7.0, pg_db_cpu_s=5.0, pg_server_cpu_s=6.0, floor_wall_s=10.0, aim=1.2
        ),
    ]
    lines = cpu.render_budget("CPU budget", rows, n_cores=2, cpu="Test CPU", load="1.00 0.50 0.25")
    text = "\n".join(lines)
    assert "Test CPU, **2 cores**" in text and "1.00 0.50 0.25" in text
    # floor: bound max(7, 2.5, 9.5 / 2) = 7 s; wall / bound 1.43x; no aim.
    assert "| floor | 10.0 s | 7.00 s | 2.50 s | - | 7.00 s | 1.43x | 0.50 s / 0.25 s | - | - |" in text
    # sync: bound 10 s (with the whole server's 6 s: 10.5 s); aim 12 s; allowed 12 s alone, 11 s sharing.
    assert (
        "| postgresql full | 15.0 s | 8.00 s | 7.00 s | 5.00 s / 6.00 s | 10.0 s (10.5 s) | 1.50x | - / - "
        "| 12.0 s (1.2x) | 12.0 s / 11.0 s |"
    ) in text
    assert "Shop CPU per API call" in text and "floor 3.50 ms." in text
