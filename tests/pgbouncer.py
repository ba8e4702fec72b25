"""A throwaway PgBouncer in front of a test PostgreSQL server, in session or transaction mode.

Plain module (no pytest import), like pg_server.py beside it:

    with PgBouncer.start(backend_port=server.port, pool_mode="transaction") as bouncer:
        dsn = bouncer.dsn_for(database_dsn)     # the same database, through the pooler

Debian's `pgbouncer` package must be installed (`.ci/run` installs it); a missing binary raises
PgBouncerUnavailable with instructions (the suite fails, never skips). PgBouncer refuses to run
as root, so as root it runs as the same unprivileged user as the test PostgreSQL server.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict, make_conninfo

CANDIDATES = ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer")
READY_SECONDS = 30


class PgBouncerUnavailable(RuntimeError):
    """PgBouncer cannot be started here; the message says what to install."""


def find_binary() -> str:
    found = shutil.which("pgbouncer") or next((c for c in CANDIDATES if os.path.exists(c)), None)
    if found is None:
        raise PgBouncerUnavailable(
            "pgbouncer is not installed; install Debian's package: apt-get install pgbouncer "
            "(.ci/run does this)"
        )
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _config(root: Path, port: int, backend_port: int, pool_mode: str, user: str) -> str:
    return f"""[databases]
* = host=127.0.0.1 port={backend_port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {root / "users.txt"}
admin_users = {user}
pool_mode = {pool_mode}
max_client_conn = 200
default_pool_size = 10
max_db_connections = 30
ignore_startup_parameters = extra_float_digits
logfile = {root / "pgbouncer.log"}
pidfile = {root / "pgbouncer.pid"}
"""


@dataclass
class PgBouncer:
    root: Path
    port: int
    pool_mode: str
    process: subprocess.Popen[bytes]

    def dsn_for(self, dsn: str) -> str:
        """`dsn`'s database and user, reached through this PgBouncer."""
        parts = conninfo_to_dict(dsn)
        parts.update(host="127.0.0.1", port=str(self.port))
        return make_conninfo(**parts)

    @property
    def log(self) -> str:
        with contextlib.suppress(OSError):
            return (self.root / "pgbouncer.log").read_text()
        return ""

    @classmethod
    @contextlib.contextmanager
    def start(
        cls, *, backend_port: int, pool_mode: str, user: str = "leadsync", run_as: object = None
    ) -> Iterator[PgBouncer]:
        """`run_as`: a pwd entry to run as (needed as root), as pg_server._run_as() returns."""
        binary = find_binary()
        root = Path(tempfile.mkdtemp(prefix="leadsync-pgbouncer-"))
        kwargs: dict[str, object] = {}
        if run_as is not None:
            os.chown(root, run_as.pw_uid, run_as.pw_gid)  # type: ignore[attr-defined]
            kwargs = {"user": run_as.pw_uid, "group": run_as.pw_gid, "extra_groups": []}  # type: ignore[attr-defined]
        port = _free_port()
        (root / "users.txt").write_text(f'"{user}" ""\n')
        ini = root / "pgbouncer.ini"
        ini.write_text(_config(root, port, backend_port, pool_mode, user))
        for path in (ini, root / "users.txt"):
            path.chmod(0o644)
        process = subprocess.Popen(
            [binary, str(ini)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=root,
            **kwargs,  # type: ignore[arg-type]
        )
        bouncer = cls(root=root, port=port, pool_mode=pool_mode, process=process)
        try:
            bouncer._wait_ready()
            yield bouncer
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            shutil.rmtree(root, ignore_errors=True)

    def _wait_ready(self) -> None:
        """Until the listener accepts connections (a readiness poll, not a timed wait)."""
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise PgBouncerUnavailable(f"pgbouncer exited at start:\n{self.log}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1),
            ):
                return
            time.sleep(0.02)
        raise PgBouncerUnavailable(
            f"pgbouncer did not listen within {READY_SECONDS} s:\n{self.log}"
        )
