"""A throwaway PostgreSQL server for tests: initdb into a temp dir, a free port, pg_ctl.

Plain module (no pytest import) so any test area, bench script or a developer can use it:

    from pg_server import PgServer          # or load it by path, see tests/state/conftest.py
    with PgServer.start() as server:
        dsn = server.dsn                     # host=127.0.0.1 port=... user=leadsync dbname=postgres

Run directly (`python tests/pg_server.py`) it prints a DSN and serves until Enter/Ctrl-C.

The server binaries must exist: missing binaries raise PgUnavailable with instructions (the
suite must fail, never skip, when PostgreSQL is absent). As root (containers, CI images),
initdb refuses to run, so the server runs as an unprivileged OS user ('postgres' when the
Debian package created it, else 'nobody') in a temp dir that user owns.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SUPERUSER = "leadsync"
PREFIX = "leadsync-pg-"
OWNER_FILE = "owner.pid"
BINARIES = ("initdb", "pg_ctl", "postgres")


class PgUnavailable(RuntimeError):
    """PostgreSQL cannot be started here; the message says what to install."""


def find_bindir(
    path: str | None = None, debian_glob: str = "/usr/lib/postgresql/*/bin/initdb"
) -> Path:
    """The directory holding initdb/pg_ctl/postgres: $PATH first, then Debian's layout."""
    on_path = shutil.which("initdb", path=path)
    if on_path:
        bindir = Path(os.path.realpath(on_path)).parent
        if all((bindir / b).exists() for b in BINARIES):
            return bindir
    candidates = sorted(
        glob.glob(debian_glob),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if candidates:
        return Path(candidates[-1]).parent
    raise PgUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found on PATH or in "
        "/usr/lib/postgresql/*/bin. The state-backend tests need a real server and are never "
        "skipped: install it (Debian/Ubuntu: `apt-get install postgresql`; .ci/run does this)."
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run_as() -> pwd.struct_passwd | None:
    """None: run as ourselves. As root: an unprivileged account that initdb will accept."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise PgUnavailable("running as root and no unprivileged user (postgres/nobody) exists")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reap_orphans(bindir: Path, user: pwd.struct_passwd | None) -> None:
    """Stop servers left behind by test runs that were killed before their teardown ran."""
    for owner in Path(tempfile.gettempdir()).glob(f"{PREFIX}*/{OWNER_FILE}"):
        try:
            pid = int(owner.read_text())
        except (OSError, ValueError):
            continue
        if _alive(pid):
            continue
        orphan = PgServer(root=owner.parent, port=0, bindir=bindir, user=user)
        orphan.stop()
        shutil.rmtree(owner.parent, ignore_errors=True)


@dataclass
class PgServer:
    root: Path
    port: int
    bindir: Path
    user: pwd.struct_passwd | None

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname=postgres"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        kwargs = {}
        if self.user is not None:
            kwargs = {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C"}
        return subprocess.run(
            args,
            capture_output=True,
            text=True,
            env=env,
            cwd=self.root,
            check=False,
            **kwargs,
        )

    @classmethod
    @contextlib.contextmanager
    def start(cls) -> Iterator[PgServer]:
        """initdb + pg_ctl start -w; stops the server and removes the temp dir on exit."""
        bindir = find_bindir()
        user = _run_as()
        _reap_orphans(bindir, user)
        root = Path(tempfile.mkdtemp(prefix=PREFIX))
        (root / OWNER_FILE).write_text(str(os.getpid()))
        if user is not None:
            os.chown(root, user.pw_uid, user.pw_gid)
        server = cls(root=root, port=0, bindir=bindir, user=user)
        try:
            server._initdb()
            server._start()
            yield server
        finally:
            server.stop()
            shutil.rmtree(root, ignore_errors=True)

    def _initdb(self) -> None:
        done = self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        if done.returncode != 0:
            raise PgUnavailable(f"initdb failed:\n{done.stdout}\n{done.stderr}")

    def _start(self) -> None:
        last = ""
        for _attempt in range(5):  # the free port may be taken between probe and bind
            self.port = _free_port()
            options = (
                f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                "-c max_connections=200"
            )
            done = self._run(
                str(self.bindir / "pg_ctl"),
                "start",
                "-w",
                "-t",
                "60",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-o",
                options,
            )
            if done.returncode == 0:
                return
            last = done.stdout + done.stderr
            with contextlib.suppress(OSError):
                last += self.log_file.read_text()
        raise PgUnavailable(f"pg_ctl start failed:\n{last}")

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            self._run(
                str(self.bindir / "pg_ctl"),
                "stop",
                "-w",
                "-m",
                "immediate",
                "-D",
                str(self.data_dir),
            )


if __name__ == "__main__":
    with PgServer.start() as running:
        print(running.dsn, flush=True)
        with contextlib.suppress(KeyboardInterrupt, EOFError):
            input("serving; press Enter to stop\n")
