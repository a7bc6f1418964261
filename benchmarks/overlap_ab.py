"""A/B of whole WooCommerce full syncs: two checkouts' code against one emulator, alternated (issue 12).

``benchmarks.run`` measures one sync per backend, with its own floor, in one go: on a machine other work shares, two
such runs minutes apart differ by more than the change under test. This runs the syncs of two checkouts (``--a``
and ``--b``: repository roots, each with its own ``.venv``) one after the other against the same emulated shop,
alternating which goes first in each round, each into a fresh warehouse, and reports per backend the median wall
(``run_sync``), subprocess CPU and per-asset durations of each side, with the load average around each sync::

    .venv/bin/python -m benchmarks.overlap_ab --a /path/to/main-checkout --b . --size mid --rounds 3

Each sync is ``benchmarks.sync_child`` run by that checkout's interpreter in that checkout (so it runs that code).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from benchmarks.run import SIZES, TENANT, Backend, Shop, load_average, log


def _sync(root: Path, backend: Backend, shop: Shop, out: Path) -> dict[str, Any]:
    cmd = [str(root / ".venv" / "bin" / "python"), "-m", "benchmarks.sync_child", "--warehouse-url", backend.url]
    cmd += ["--tenant", TENANT, "--out", str(out), "--connect-json", shop.connect_json()]
    load = load_average()
    with out.with_suffix(".log").open("w") as fh:
        proc = subprocess.Popen(cmd, cwd=root, env=backend.env, stdout=fh, stderr=subprocess.STDOUT)
        _pid, status, rusage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0 or not out.exists():
        raise RuntimeError(f"sync in {root} failed: {out.with_suffix('.log').read_text()[-3000:]}")
    result = json.loads(out.read_text())
    if not result["success"]:
        raise RuntimeError(f"sync run in {root} failed: {result['failure']}")
    return {
        "wall_s": float(result["wall_s"]),
        "cpu_s": rusage.ru_utime + rusage.ru_stime,
        "load": load,
        "assets": {k: float(m["duration_s"]) for k, m in result["materializations"].items() if "duration_s" in m},
        "products": int(result["after"]["hub_products_live"]),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--a", required=True, type=Path, help="checkout A (e.g. main)")
    ap.add_argument("--b", required=True, type=Path, help="checkout B (e.g. the branch)")
    ap.add_argument("--size", choices=sorted(SIZES), default="mid")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--backends", default="sqlite,postgresql")
    args = ap.parse_args()
    sides = {"A": args.a.resolve(), "B": args.b.resolve()}
    size = SIZES[args.size]
    workdir = Path(tempfile.mkdtemp(prefix="ecom_ab_"))
    secret_key = Fernet.generate_key().decode()
    shop = Shop(size, workdir)
    results: dict[str, dict[str, list[dict[str, Any]]]] = {}
    try:
        for n in range(args.rounds):
            order = ["A", "B"] if n % 2 == 0 else ["B", "A"]
            for kind in [b for b in args.backends.split(",") if b]:
                for side in order:
                    backend = Backend(kind, f"{side.lower()}{n}", workdir, secret_key)
                    try:
                        r = _sync(sides[side], backend, shop, workdir / f"{kind}-{side}-{n}.json")
                    finally:
                        backend.drop()
                    if r["products"] != size.products:
                        raise RuntimeError(f"{side} {kind}: {r['products']} products in the hub, not {size.products}")
                    results.setdefault(kind, {}).setdefault(side, []).append(r)
                    log(f"round {n} {kind} {side}: wall {r['wall_s']:.1f} s, CPU {r['cpu_s']:.1f} s, load {r['load']}")
    finally:
        shop.stop()
    print(f"\nA = {sides['A']}\nB = {sides['B']}\nshop {size}, {args.rounds} rounds\n")
    for kind, by_side in results.items():
        print(f"| {kind} | A median | B median | B / A | A runs | B runs |")
        print("|---|---|---|---|---|---|")
        for label, key in (("wall", "wall_s"), ("CPU", "cpu_s")):
            a = [r[key] for r in by_side["A"]]
            b = [r[key] for r in by_side["B"]]
            runs_a, runs_b = ", ".join(f"{x:.1f}" for x in a), ", ".join(f"{x:.1f}" for x in b)
            ma, mb = statistics.median(a), statistics.median(b)
            print(f"| {label} | {ma:.1f} s | {mb:.1f} s | {mb / ma:.2f} | {runs_a} | {runs_b} |")
        assets = sorted({k for side in by_side.values() for r in side for k in r["assets"]})
        for asset in assets:
            a = [r["assets"].get(asset, 0.0) for r in by_side["A"]]
            b = [r["assets"].get(asset, 0.0) for r in by_side["B"]]
            print(f"| {asset} | {statistics.median(a):.2f} s | {statistics.median(b):.2f} s | | | |")
        print()
    log(f"done in {workdir} at {time.strftime('%H:%M:%S')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
