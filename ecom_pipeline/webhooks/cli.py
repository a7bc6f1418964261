"""``ecom-pipeline serve-webhooks``: argument set-up and the command, for cli.py to wire in."""

from __future__ import annotations

import argparse

from ecom_pipeline.webhooks.app import DEFAULT_MAX_BODY_BYTES, POSTGRESQL_WORKERS
from ecom_pipeline.webhooks.limits import ReceiverLimits

_DEFAULTS = ReceiverLimits()

# The receiver's ReceiverLimits as options, one row each: (flag, type, default, help). One loop adds them all.
_LIMIT_OPTIONS: tuple[tuple[str, type, float, str], ...] = (
    (
        "--max-header-bytes",
        int,
        _DEFAULTS.max_header_bytes,
        f"Refuse request heads larger than this with 431 (default {_DEFAULTS.max_header_bytes}).",
    ),
    (
        "--header-timeout",
        float,
        _DEFAULTS.header_timeout_s,
        f"Seconds a request's headers may take to arrive (408 after; default {_DEFAULTS.header_timeout_s:g}).",
    ),
    (
        "--body-timeout",
        float,
        _DEFAULTS.body_timeout_s,
        f"Seconds a request's body may take to arrive (408 after; default {_DEFAULTS.body_timeout_s:g}).",
    ),
    (
        "--max-connections",
        int,
        _DEFAULTS.max_connections,
        f"Open connections beyond this are closed at once (default {_DEFAULTS.max_connections}).",
    ),
)


def positive_int(text: str) -> int:
    """argparse ``type=``: a whole number of at least 1 (a count or a limit), else a usage error."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``serve-webhooks`` (the warehouse URL comes from the global ``--warehouse-url``)."""
    parser.add_argument("--host", default="127.0.0.1", help="Interface to listen on (default 127.0.0.1).")
    parser.add_argument("--port", type=int, default=8787, help="Port to listen on (default 8787).")
    parser.add_argument(
        "--max-body-bytes",
        type=int,
        default=DEFAULT_MAX_BODY_BYTES,
        help=f"Refuse bodies larger than this with 413 (default {DEFAULT_MAX_BODY_BYTES}).",
    )
    for flag, kind, default, meaning in _LIMIT_OPTIONS:
        parser.add_argument(flag, type=kind, default=default, help=meaning)
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        help=(
            "Receiver processes sharing the port, each with its own warehouse connections (at most 8 each). "
            f"Default: {POSTGRESQL_WORKERS} on PostgreSQL (at most one per core), 1 on SQLite, whose single write "
            "lock more processes only queue on (docs/benchmarks.md has the measurements)."
        ),
    )
    parser.add_argument("--log-level", default="warning", help="uvicorn log level (default warning).")


def run_serve(args: argparse.Namespace) -> int:
    """Serve until interrupted; returns the exit code. Deliveries are stored, applied later by the sensor."""
    from ecom_pipeline.platforms.registry import webhook_platforms
    from ecom_pipeline.webhooks.app import GENERIC, serve

    url = getattr(args, "warehouse_url", None)
    routes = ", ".join([*webhook_platforms(), GENERIC])
    print(
        f"receiving webhooks on http://{args.host}:{args.port}/webhooks/<platform>/<integration id> "
        f"(platform: {routes})",
        flush=True,
    )
    limits = ReceiverLimits(
        max_header_bytes=args.max_header_bytes,
        header_timeout_s=args.header_timeout,
        body_timeout_s=args.body_timeout,
        max_connections=args.max_connections,
    )
    serve(
        args.host,
        args.port,
        url,
        max_body_bytes=args.max_body_bytes,
        workers=args.workers,
        log_level=args.log_level,
        limits=limits,
    )
    return 0
