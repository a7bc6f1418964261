"""Several receiver processes on one port: a pre-fork supervisor for ``serve-webhooks --workers N``.

Why not uvicorn's own ``workers=``: it starts workers with the ``spawn`` method, which pickles the server
configuration, and our configuration holds the HTTP protocol class built at run time with the connection limits
bound (``webhooks.limits.guarded_protocol``), which cannot be pickled; it would also need the app as an import
string. Forking after the listening socket is bound keeps everything as it is for one worker: each child builds
its own app, engine and connection pool after the fork (nothing database-related crosses it) and runs a uvicorn
server on the shared socket; the kernel spreads new connections over the children.

Why several processes at all: one process runs the event loop (HTTP parsing, signature check, body parsing) and
the group writers under one GIL, so it can use one core at most; the receiver is stateless (exactly-once
storage is the warehouse's ``ON CONFLICT``), so more processes are simply more of the same.

The supervisor restarts a child that dies (after a pause if it dies at once, so a child that cannot start does
not spin), forwards SIGTERM/SIGINT to the children and waits for them to finish their requests.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable

log = logging.getLogger("ecom_pipeline.webhooks")

# A child that exits within this many seconds of its start is restarted only after RESTART_PAUSE_S.
QUICK_DEATH_S = 2.0
RESTART_PAUSE_S = 1.0
STOP_TIMEOUT_S = 20.0


def bind_socket(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """The listening socket every worker accepts on (bound once, before the fork)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def run_workers(workers: int, sock: socket.socket, child_main: Callable[[socket.socket], None]) -> int:
    """Fork ``workers`` children running ``child_main(sock)`` and supervise them until SIGTERM/SIGINT.

    Returns the exit code for the command: 0 after a requested stop.
    """
    children: dict[int, float] = {}  # pid -> started at (monotonic)
    stopping = False

    def spawn() -> None:
        pid = os.fork()
        if pid == 0:  # the child: default signal handling (uvicorn installs its own), then serve
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            code = 0
            try:
                child_main(sock)
            except BaseException as exc:  # a child must never return into the supervisor loop
                print(f"receiver worker {os.getpid()} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
                code = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        children[pid] = time.monotonic()

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                children.pop(pid, None)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for _ in range(workers):
            spawn()
        while children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            except InterruptedError:
                continue
            started = children.pop(pid, None)
            if started is None or stopping:
                continue
            code = os.waitstatus_to_exitcode(status)
            log.error("receiver worker %d exited (%d); starting another", pid, code)
            print(f"receiver worker {pid} exited ({code}); starting another", file=sys.stderr, flush=True)
            if time.monotonic() - started < QUICK_DEATH_S:
                time.sleep(RESTART_PAUSE_S)
            if not stopping:
                spawn()
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while children and time.monotonic() < deadline:
            pid, _ = os.waitpid(-1, os.WNOHANG)
            if pid:
                children.pop(pid, None)
            else:
                time.sleep(0.05)
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
    return 0
