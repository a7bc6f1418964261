"""Serve the push benchmark's emulated REST shops (WooCommerce, PrestaShop) in their own process.

``benchmarks.push_bench`` starts this so the shops' request handling does not share the benchmark's GIL: with the
emulator in the pushing process, every call's server work competed with the push's own (and with its worker
threads when batches are in flight), which inflated the wall and hid what concurrency does against a shop that
answers from elsewhere, as a real one does. The shops are given as JSON ``ShopSpec`` fields; when the listeners are
up their credentials are written to ``--credentials-file`` (``serve_forever``); SIGTERM stops the process.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ecom_pipeline.sandbox.server import ShopSpec, serve_forever


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    p.add_argument("--specs", required=True, help='JSON list of ShopSpec fields, e.g. [{"name": "woo", ...}]')
    p.add_argument("--cert-dir", required=True)
    p.add_argument("--credentials-file", required=True)
    a = p.parse_args()
    specs = [ShopSpec(**fields) for fields in json.loads(a.specs)]
    serve_forever(specs, cert_dir=Path(a.cert_dir), credentials_file=Path(a.credentials_file))


if __name__ == "__main__":
    main()
