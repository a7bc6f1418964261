"""Launch one emulated WooCommerce shop with a chosen catalogue shape, in its own process.

``ecom-pipeline sandbox`` has no ``--variable-share`` option, so the benchmarks start the emulator through this
launcher (same ``serve_forever`` as the CLI) to pick the share of variable products.
"""

from __future__ import annotations

import argparse
import socket
from pathlib import Path

from ecom_pipeline.sandbox import server
from ecom_pipeline.sandbox.server import ShopSpec, serve_forever


def _bind_tcp_nodelay(host: str, port: int) -> socket.socket:
    """``server._bind`` with ``proto=IPPROTO_TCP``, so asyncio sets TCP_NODELAY on accepted connections.

    ``server._bind`` creates its listening socket with ``proto=0``; asyncio only sets TCP_NODELAY on sockets whose
    ``proto`` is IPPROTO_TCP, so the emulator answers with Nagle on: a small response (headers and body are two
    writes) then waits for the client's delayed ACK, ~40 ms per call. Real shops (nginx ``tcp_nodelay on``) do not.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--name", required=True)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--products", type=int, required=True)
    p.add_argument("--variable-share", type=float, required=True)
    p.add_argument("--orders", type=int, required=True)
    p.add_argument("--customers", type=int, required=True)
    p.add_argument("--cert-dir", required=True)
    p.add_argument("--credentials-file", required=True)
    p.add_argument("--keep-nagle", action="store_true", help="keep the emulator's own sockets (~40 ms per call)")
    a = p.parse_args()
    if not a.keep_nagle:
        server._bind = _bind_tcp_nodelay
    spec = ShopSpec(
        name=a.name,
        seed=a.seed,
        products=a.products,
        variable_share=a.variable_share,
        orders=a.orders,
        customers=a.customers,
    )
    serve_forever([spec], cert_dir=Path(a.cert_dir), credentials_file=Path(a.credentials_file))


if __name__ == "__main__":
    main()
