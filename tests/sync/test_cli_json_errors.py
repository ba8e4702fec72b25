"""Every command given --json prints exactly one JSON document on stdout also when it fails
before (or while) it starts: {"status": "error", "command", "code", "message", "run_id",
"exit_code"}; the human line still goes to stderr; never a traceback.

Each failure is real: a second process holds the account's lock, Salesforce refuses the token,
leadsync.yaml is broken, nothing listens on the Salesforce or PostgreSQL port.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

BAD_TOKEN = "00Dbad-token-never-printed"
RUN_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{6}")
KEYS = {"status", "command", "code", "message", "run_id", "exit_code"}

HOLDER = """
import sys
from pathlib import Path
from leadsync.config.model import StateConfig
from leadsync.state import open_store
store = open_store(StateConfig("sqlite", ".leadsync/state.db"), Path(sys.argv[1]))
with store.lock(["account:uk"], timeout=0, purpose="sync"):
    print("locked", flush=True)
    sys.stdin.readline()
"""


def _unused_port() -> int:
    """A port nothing listens on (bound, then released: connecting to it is refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def lock_held(ws: Any) -> Iterator[None]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(ws.root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)


@contextlib.contextmanager
def auth_refused(ws: Any) -> Iterator[None]:
    ws.env["SF_ACCESS_TOKEN"] = BAD_TOKEN
    yield


@contextlib.contextmanager
def config_invalid(ws: Any) -> Iterator[None]:
    ws.write_config("version: 1\nstate: [\n")
    yield


@contextlib.contextmanager
def connection_failed(ws: Any) -> Iterator[None]:
    ws.env["SF_INSTANCE_URL"] = f"https://127.0.0.1:{_unused_port()}"
    yield


@contextlib.contextmanager
def state_unavailable(ws: Any) -> Iterator[None]:
    text = (ws.root / "leadsync.yaml").read_text()
    postgres = "  backend: postgres\n  dsn: ${LEADSYNC_STATE_DSN}\n  schema: leadsync\n"
    ws.write_config(text.replace("  backend: sqlite\n  path: .leadsync/state.db\n", postgres))
    ws.env["LEADSYNC_STATE_DSN"] = f"postgresql://leadsync:pw-secret@127.0.0.1:{_unused_port()}/x"
    yield


@contextlib.contextmanager
def nothing(ws: Any) -> Iterator[None]:
    yield


RECORDS = ("records", "--state", "pending")
CASES = [
    # (failure, command args, code, a run id expected: the sync had started)
    (lock_held, ("sync", "--lock-timeout", "0"), "lock_held", True),
    (auth_refused, ("sync",), "auth_refused", True),
    (auth_refused, ("plan",), "auth_refused", False),
    (connection_failed, ("sync",), "connection_failed", True),
    (connection_failed, ("plan",), "connection_failed", False),
    (config_invalid, ("sync",), "config_invalid", False),
    (config_invalid, ("plan",), "config_invalid", False),
    (config_invalid, ("status",), "config_invalid", False),
    (config_invalid, RECORDS, "config_invalid", False),
    (config_invalid, ("history",), "config_invalid", False),
    (state_unavailable, ("sync",), "state_unavailable", False),
    (state_unavailable, ("status",), "state_unavailable", False),
    (state_unavailable, RECORDS, "state_unavailable", False),
    (state_unavailable, ("history",), "state_unavailable", False),
    (nothing, ("records", "--state", "bogus"), "usage", False),
    (nothing, ("history", "--limit", "0"), "usage", False),
    (nothing, ("validate", "--no-such-flag"), "usage", False),
    (nothing, ("sync", "--every", "15"), "usage", False),
    (nothing, ("records", "--state", "failed", "--account", "nope"), "usage", False),
]


@pytest.mark.parametrize(
    ("failure", "args", "code", "has_run_id"),
    CASES,
    ids=[f"{c[2]}-{c[1][0]}" + ("-" + c[1][-1] if c[0] is nothing else "") for c in CASES],
)
def test_a_failing_command_prints_one_json_error_document(
    workspace, failure, args, code, has_run_id
) -> None:
    ws = workspace(apply=has_run_id)  # only a sync that gets going needs an applied state
    with failure(ws):
        proc = ws.run(*args, "--json")  # ws.run asserts: no traceback
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    lines = proc.stdout.splitlines()
    assert len(lines) == 1, proc.stdout  # one document, on one line
    doc = json.loads(lines[0])
    assert set(doc) - {"diagnostics"} == KEYS, doc
    assert (doc["status"], doc["command"], doc["code"], doc["exit_code"]) == (
        "error",
        args[0],
        code,
        1,
    )
    assert doc["message"] and f"error: {doc['message'].splitlines()[0]}" in proc.stderr
    if has_run_id:
        assert RUN_ID.fullmatch(doc["run_id"]), doc
    else:
        assert doc["run_id"] is None, doc
    assert BAD_TOKEN not in proc.stdout + proc.stderr
    assert "pw-secret" not in proc.stdout + proc.stderr


def test_config_error_document_carries_the_diagnostics(workspace) -> None:
    ws = workspace()
    ws.write_config("version: 1\nstate: [\n")
    doc = json.loads(ws.run("status", "--json").stdout)
    [diagnostic] = doc["diagnostics"]
    assert (diagnostic["code"], diagnostic["file"], diagnostic["line"]) == (
        "LS003",
        "leadsync.yaml",
        3,
    )


def test_a_sync_before_any_apply_says_not_applied(workspace) -> None:
    ws = workspace(apply=False)
    doc = json.loads(ws.run("sync", "--json").stdout)
    assert (doc["code"], doc["exit_code"]) == ("not_applied", 1)
    assert "nothing has been applied yet" in doc["message"]


def test_an_unexpected_error_is_internal_one_line_and_no_traceback(workspace, kit) -> None:
    """A ledger row edited by hand into invalid JSON: not an error leadsync foresaw."""
    ws = workspace()
    ws.add_member("linus@example.com", kit.member("Linus", "Chen", None))  # skipped
    ws.sync(code=(4,))
    con = sqlite3.connect(ws.state_db)
    with con:
        con.execute("UPDATE ledger SET extra = '{broken' WHERE state = 'skipped'")
    con.close()
    proc = ws.run("records", "--state", "skipped", "--json")  # asserts: no traceback
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert (doc["status"], doc["code"], doc["command"]) == ("error", "internal", "records")
    assert "JSONDecodeError" in doc["message"]
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
