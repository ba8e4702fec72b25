"""Fixtures for the state tests: the same suite runs against every backend.

`open_store_again()` opens another connection to the same fresh store, the way a second
leadsync process would; `store_spec` describes that store so a child process can open it too.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from leadsync.state.sqlite import SqliteStore
from leadsync.state.sqlstore import SqlStore

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def store_spec(backend: str, tmp_path, request: pytest.FixtureRequest) -> dict[str, Any]:
    if backend == "sqlite":
        return {"backend": "sqlite", "path": str(tmp_path / "state" / "state.db")}
    dsn = request.getfixturevalue("pg_dsn")
    return {"backend": "postgres", "dsn": dsn, "schema": f"t_{uuid.uuid4().hex[:12]}"}


def open_spec(spec: dict[str, Any]) -> SqlStore:
    if spec["backend"] == "sqlite":
        return SqliteStore(spec["path"])
    from leadsync.state.postgres import PostgresStore

    return PostgresStore(spec["dsn"], schema=spec["schema"])


@pytest.fixture
def open_store_again(store_spec: dict[str, Any]) -> Iterator[Callable[[], SqlStore]]:
    opened: list[SqlStore] = []

    def opener() -> SqlStore:
        store = open_spec(store_spec)
        opened.append(store)
        return store

    yield opener
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store_again: Callable[[], SqlStore]) -> SqlStore:
    return open_store_again()


CHILD = r"""
import json, os, sys
spec, names, purpose = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
if spec["backend"] == "sqlite":
    from leadsync.state.sqlite import SqliteStore
    store = SqliteStore(spec["path"])
else:
    from leadsync.state.postgres import PostgresStore
    store = PostgresStore(spec["dsn"], schema=spec["schema"])
with store.lock(names, timeout=60, purpose=purpose):
    print("locked", os.getpid(), flush=True)
    sys.stdin.readline()
print("released", flush=True)
sys.stdin.readline()
"""


class LockChild:
    """A real process holding state locks; talks to the test over its stdin/stdout pipes."""

    def __init__(self, spec: dict[str, Any], names: list[str], purpose: str) -> None:
        import json
        import subprocess
        import sys

        self.proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, json.dumps(spec), json.dumps(names), purpose],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline().split()
        assert line[:1] == ["locked"], f"child did not take the lock: {line}"
        self.pid = int(line[1])

    def release(self) -> None:
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline().strip() == "released"

    def kill(self) -> None:
        self.proc.kill()  # SIGKILL: no cleanup code runs in the child
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.kill()
        for stream in (self.proc.stdin, self.proc.stdout):
            stream.close()


@pytest.fixture
def lock_child(store_spec: dict[str, Any]) -> Iterator[Callable[..., LockChild]]:
    children: list[LockChild] = []

    def start(names: list[str], purpose: str = "sync") -> LockChild:
        child = LockChild(store_spec, names, purpose)
        children.append(child)
        return child

    yield start
    for child in children:
        child.stop()
