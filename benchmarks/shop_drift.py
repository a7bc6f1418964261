"""Does the WooCommerce emulator's CPU per call drift over a benchmark? The same floor pass, N times, on one shop.

    .venv/bin/python -m benchmarks.shop_drift --size mid --passes 5

The benchmark (``benchmarks.run``) measures the floor first and the syncs after it on one emulator process, so
it compares like with like only if the same calls cost the emulator the same CPU every time. Each pass here
prints the wall, the emulator's and this client's CPU seconds (``benchmarks.cpu``), and the time each waited for a
core (the machine is shared). Flat shop CPU per pass: no drift. On 2026-12-05 it grew pass after pass (mid shop:
3.7, 4.3, 6.2, 9.2, 9.9 s), and stayed flat (3.3-3.5 s) with the emulator's per-request rebuild of its OAuth nonce
dict (``sandbox/woocommerce/auth.py``, every nonce of the last 15 minutes) taken out.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from benchmarks.floor import download
from benchmarks.run import SIZES, Shop, load_average


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", choices=sorted(SIZES), default="mid")
    p.add_argument("--passes", type=int, default=5)
    a = p.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="ecom_drift_"))
    shop = Shop(SIZES[a.size], workdir)
    try:
        print("| pass | wall | shop CPU | shop CPU per call | client CPU | waited for a core: client / shop | load |")
        print("|---|---|---|---|---|---|---|")
        for i in range(a.passes):
            f = download(shop.url, shop.consumer_key, shop.consumer_secret, shop_pid=shop.proc.pid)
            shop_s = f.shop_cpu_s or 0.0
            print(
                f"| {i + 1} | {f.wall_s:.1f} s | {shop_s:.2f} s | {1000 * shop_s / max(1, f.calls):.2f} ms "
                f"| {f.client_cpu_s:.2f} s | {f.client_wait_s or 0:.1f} s / {f.shop_wait_s or 0:.1f} s "
                f"| {load_average()} |",
                flush=True,
            )
    finally:
        shop.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
