"""Run the two emulated services: Dotdigital over plain HTTP, Salesforce over HTTPS.

`start()` is what tests use (in-process threads); `run()` is the `leadsync emulator` command:
it prints the ready JSON as one line on stdout, writes it atomically to --ready-file, and serves
until SIGINT/SIGTERM, then exits 0. The ready JSON is the only thing clients need: endpoints,
demo credentials, the Salesforce access token and the CA bundle that verifies its certificate.

The service modules are imported lazily so that a broken service fails the emulator start (or
the test using it), not the import of this module or of the test suite's conftest.
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
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from leadsync.emulator.control import DEFAULT_ERROR_BODIES, EmulatorControl, ErrorBody
from leadsync.emulator.handler import ConnectionSet, QuietHandler
from leadsync.emulator.tls import TlsMaterial, make_tls
from leadsync.errors import ConfigError, LeadsyncError

SERVICES = ("dotdigital", "salesforce")
_POLL_SECONDS = 0.05  # how fast stop() takes effect; idle cost is negligible
DEFAULT_ACCESS_TOKEN = "00Dleadsyncdemo!emulator-access-token"


@dataclass
class ServiceApp:
    """A service's WSGI app plus what the ready JSON says about it (beyond its URL)."""

    app: Callable[..., Iterable[bytes]]
    info: dict[str, Any]
    error_body: ErrorBody | None = None
    backend: Any = None
    request_id_header: str | None = None  # the header naming each answer (see control.py)


@dataclass
class RunningServers:
    """Both servers, started. `.info` is the ready JSON; `.stop()` is idempotent."""

    info: dict[str, Any]
    controls: dict[str, EmulatorControl]
    backends: dict[str, Any]
    _servers: list[BaseWSGIServer] = field(repr=False)
    _threads: list[threading.Thread] = field(repr=False)
    _tls: TlsMaterial | None = field(repr=False, default=None)
    _stopped: bool = field(repr=False, default=False)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        for control in self.controls.values():
            control.clear_faults()  # a request still held by a fault's delay ends now
        # shutdown() waits up to one poll interval per server: do both at once.
        waiters = [threading.Thread(target=server.shutdown) for server in self._servers]
        for waiter in waiters:
            waiter.start()
        for waiter in waiters:
            waiter.join()
        for server in self._servers:
            server.server_close()
            # Kept-alive connections would otherwise still be answered after the stop.
            server.leadsync_connections.end_reading()  # type: ignore[attr-defined]
        for thread in self._threads:
            thread.join(timeout=5)
        if self._tls is not None:
            self._tls.cleanup()

    def __enter__(self) -> RunningServers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start(
    seed: dict[str, Any],
    host: str = "127.0.0.1",
    dotdigital_port: int = 0,
    salesforce_port: int = 0,
    latency_ms: int = 0,
    *,
    services: dict[str, ServiceApp] | None = None,
) -> RunningServers:
    """Start both servers on background threads; use as a context manager or call `.stop()`.

    `seed` must already be validated (seed.load_seed / seed.validate_seed). `services` replaces
    the real service apps (the infra tests use small stand-ins); normally leave it None.
    """
    apps = services if services is not None else build_services(seed)
    tls = make_tls(host)
    ports = {
        "dotdigital": (dotdigital_port, None),
        "salesforce": (salesforce_port, tls.ssl_context),
    }
    controls: dict[str, EmulatorControl] = {}
    servers: list[BaseWSGIServer] = []
    try:
        for name in SERVICES:
            svc = apps[name]
            controls[name] = EmulatorControl(
                svc.app,
                name,
                latency_ms=latency_ms,
                error_body=svc.error_body or DEFAULT_ERROR_BODIES[name],
                request_id_header=svc.request_id_header,
            )
            port, ssl_ctx = ports[name]
            servers.append(_listen(host, port, controls[name], ssl_ctx, name))
    except BaseException:
        for server in servers:
            server.server_close()
        tls.cleanup()
        raise
    threads = [_serve(name, server) for name, server in zip(SERVICES, servers, strict=True)]
    return RunningServers(
        info=_info(host, servers, apps, tls, latency_ms),
        controls=controls,
        backends={name: apps[name].backend for name in SERVICES},
        _servers=servers,
        _threads=threads,
        _tls=tls,
    )


def _info(
    host: str,
    servers: list[BaseWSGIServer],
    apps: dict[str, ServiceApp],
    tls: TlsMaterial,
    latency_ms: int,
) -> dict[str, Any]:
    """What a client needs to reach the running services (the info file's content)."""
    dd_url = f"http://{_url_host(host)}:{servers[0].port}"
    sf_url = f"https://{_url_host(host)}:{servers[1].port}"
    return {
        "dotdigital": {"endpoint": dd_url, **apps["dotdigital"].info},
        "salesforce": {
            "instance_url": sf_url,
            "login_url": sf_url,
            "ca_bundle": str(tls.ca_bundle),
            **apps["salesforce"].info,
        },
        "latency_ms": latency_ms,
        "pid": os.getpid(),
    }


def _serve(name: str, server: BaseWSGIServer) -> threading.Thread:
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": _POLL_SECONDS},
        name=f"leadsync-emulator-{name}",
        daemon=True,
    )
    thread.start()
    return thread


def build_services(seed: dict[str, Any]) -> dict[str, ServiceApp]:
    """Build the real Dotdigital and Salesforce apps from a validated seed."""
    from leadsync.emulator.dotdigital import urls as dd_urls
    from leadsync.emulator.dotdigital.models import DotdigitalBackend
    from leadsync.emulator.salesforce import urls as sf_urls
    from leadsync.emulator.salesforce.models import SalesforceBackend

    dd_section = seed.get("dotdigital") or {}
    sf_section = seed.get("salesforce") or {}
    dd_backend = _from_seed(DotdigitalBackend, dd_section, "dotdigital")
    sf_backend = _from_seed(SalesforceBackend, sf_section, "salesforce")

    accounts = {
        a["name"]: {"username": a["username"], "password": a["password"]}
        for a in dd_section.get("accounts", [])
    }
    sf_info = {
        "access_token": getattr(sf_backend, "access_token", None)
        or sf_section.get("access_token")
        or DEFAULT_ACCESS_TOKEN,
        "users": _plain_list(getattr(sf_backend, "users", None), sf_section.get("users", [])),
        "connected_apps": _plain_list(
            getattr(sf_backend, "connected_apps", None), sf_section.get("connected_apps", [])
        ),
    }
    return {
        "dotdigital": ServiceApp(
            app=dd_urls.make_app(dd_backend),
            info={"accounts": accounts},
            error_body=getattr(dd_urls, "fault_error_body", None),
            backend=dd_backend,
        ),
        "salesforce": ServiceApp(
            app=sf_urls.make_app(sf_backend),
            info=sf_info,
            error_body=getattr(sf_urls, "fault_error_body", None),
            backend=sf_backend,
            request_id_header=sf_urls.REQUEST_ID_HEADER,
        ),
    }


def _from_seed(cls: Any, section: dict[str, Any], name: str) -> Any:
    try:
        return cls.from_seed(section)
    except LeadsyncError:
        raise
    except (ValueError, KeyError) as exc:
        raise ConfigError(f"emulator seed: {name} section: {exc}") from None


def _plain_list(from_backend: Any, from_seed: list[Any]) -> list[dict[str, Any]]:
    """The backend's users/apps when they are plain dicts, else what the seed declared."""
    if isinstance(from_backend, list | tuple) and all(isinstance(x, dict) for x in from_backend):
        return [dict(x) for x in from_backend]
    return [dict(x) for x in from_seed]


def _listen(host: str, port: int, app: EmulatorControl, ssl_ctx: Any, name: str) -> BaseWSGIServer:
    """Bind here, not in werkzeug: on a busy port werkzeug prints and calls sys.exit(1)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        address = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)[0][4]
        sock.bind(address)
        sock.listen(128)
        # werkzeug dups the descriptor (socket.fromfd); ours is closed below either way.
        server = make_server(
            host,
            port,
            app,
            threaded=True,
            request_handler=QuietHandler,
            ssl_context=ssl_ctx,
            fd=sock.fileno(),
        )
        server.leadsync_connections = ConnectionSet()  # type: ignore[attr-defined]
        return server
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise LeadsyncError(
            f"emulator: cannot listen for {name} on {host}:{port}: {reason}"
        ) from None
    finally:
        sock.close()


def _url_host(host: str) -> str:
    """The host clients should dial: wildcard binds are reached over loopback."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


# -- the CLI command ----------------------------------------------------------------------


def run(
    data: str | None,
    host: str = "127.0.0.1",
    dotdigital_port: int = 0,
    salesforce_port: int = 0,
    ready_file: str | None = None,
    latency_ms: int = 0,
) -> None:
    """`leadsync emulator`: serve until SIGINT/SIGTERM; errors are LeadsyncError (exit 1)."""
    from leadsync.emulator.seed import load_seed

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    # Handlers first, so a signal during startup still ends in a clean exit 0.
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    ready_path = Path(ready_file).resolve() if ready_file else None
    try:
        if ready_path is not None:
            # A stale file from an earlier run must not look like this run is ready.
            with contextlib.suppress(FileNotFoundError):
                ready_path.unlink()
        started = time.monotonic()
        seed = load_seed(data)
        servers = start(seed, host, dotdigital_port, salesforce_port, latency_ms)
        try:
            info = dict(servers.info)
            info["startup_seconds"] = round(time.monotonic() - started, 3)
            line = json.dumps(info, ensure_ascii=False)
            if ready_path is not None:
                _write_atomically(ready_path, line + "\n")
            with contextlib.suppress(BrokenPipeError):  # nobody reading: keep serving
                sys.stdout.write(line + "\n")
                sys.stdout.flush()
            while not stop.wait(0.5):
                pass
        finally:
            servers.stop()
            if ready_path is not None:
                with contextlib.suppress(FileNotFoundError):
                    ready_path.unlink()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _write_atomically(path: Path, text: str) -> None:
    """Readers see no file or the whole file, never a partial one (temp file + os.replace)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise LeadsyncError(f"emulator: cannot write ready file {path}: {exc.strerror}") from None
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
