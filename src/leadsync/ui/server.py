"""`leadsync ui`: serve the audit pages until SIGINT/SIGTERM, then exit 0.

The server binds 127.0.0.1 unless told otherwise (the pages show personal data and have no
login); port 0 picks a free port. Once it serves, the URL goes to stdout and, with
`--ready-file`, as `{"url": ...}` to that file, written atomically (readers see no file or the
whole file), the pattern of `leadsync emulator --ready-file`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import tempfile
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from leadsync.errors import LeadsyncError
from leadsync.ui.app import AuditApp, is_loopback
from leadsync.ui.source import StateSource


class _QuietHandler(WSGIRequestHandler):
    """No access log: request lines would put searched emails into terminal scrollback."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return

    def log(self, type: str, message: str, *args: Any) -> None:
        if type == "error":
            sys.stderr.write(f"leadsync ui: {message % args}\n")


def listen(host: str, port: int, app: AuditApp) -> BaseWSGIServer:
    """Bind here, not in werkzeug: on a busy port werkzeug prints and calls sys.exit(1)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)[0][4])
        sock.listen(64)
        return make_server(
            host, port, app, threaded=True, request_handler=_QuietHandler, fd=sock.fileno()
        )
    except OSError as exc:
        hint = " (another program uses it: try --port 0)" if port else ""
        raise LeadsyncError(
            f"ui: cannot listen on {host}:{port}: {exc.strerror or exc}{hint}"
        ) from None
    finally:
        sock.close()


def url_of(host: str, port: int) -> str:
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/"


def run(
    config_path: str | None,
    state: str | None,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    ready_file: str | None = None,
) -> None:
    """The command: open the state, serve, stop on a signal. Errors are LeadsyncError (exit 1)."""
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    ready = Path(ready_file).resolve() if ready_file else None
    try:
        if ready is not None:
            with contextlib.suppress(FileNotFoundError):
                ready.unlink()  # a stale file must not say that this run serves
        source = StateSource(config_path, state)
        try:
            _serve(source, host, port, ready, stop)
        finally:
            source.close()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _serve(
    source: StateSource, host: str, port: int, ready: Path | None, stop: threading.Event
) -> None:
    server = listen(host, port, AuditApp(source, loopback_only=is_loopback(host)))
    thread = threading.Thread(target=server.serve_forever, name="leadsync-ui", daemon=True)
    thread.start()
    try:
        url = url_of(host, server.socket.getsockname()[1])
        if ready is not None:
            write_atomically(ready, json.dumps({"url": url}) + "\n")
        if not is_loopback(host):
            sys.stderr.write(
                f"warning: the audit has no login and shows emails: anyone who can reach "
                f"{host} can read it\n"
            )
        with contextlib.suppress(BrokenPipeError):
            sys.stdout.write(f"leadsync ui: the sync audit of {source.describe()} is at {url}\n")
            sys.stdout.write("read-only; Ctrl-C stops\n")
            sys.stdout.flush()
        while not stop.wait(0.5):
            pass
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        if ready is not None:
            with contextlib.suppress(FileNotFoundError):
                ready.unlink()


def write_atomically(path: Path, text: str) -> None:
    """Temp file in the same directory, fsync, rename: no reader sees half a file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise LeadsyncError(f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
