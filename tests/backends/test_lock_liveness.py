"""Exactly once where teams really run it: PostgreSQL state behind PgBouncer (session and
transaction pooling), and an account lock whose database session is ended mid-run.

Real servers only: the worker's throwaway PostgreSQL (tests/pg_server.py), a real PgBouncer in
front of it (tests/pgbouncer.py, Debian's package), the emulators, and `leadsync` processes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

MEMBERS = 60
RUNNERS = 3
HOLD_MS = 600_000  # released by clear_faults, never by the timer

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


class Through:
    """The config's `state:` block pointing at a DSN (direct or through PgBouncer)."""

    def __init__(self, db: Any, dsn: str) -> None:
        self.db = db
        self.dsn = dsn

    def env(self) -> dict[str, str]:
        return {self.db.env_var: self.dsn}


@pytest.fixture(params=["session", "transaction"])
def bouncer(
    request: pytest.FixtureRequest,
    pg_server: Any,
    pg_database: Any,
    pg_server_module: Any,
    pgbouncer_module: Any,
) -> Iterator[Any]:
    try:
        cm = pgbouncer_module.PgBouncer.start(
            backend_port=pg_server.port, pool_mode=request.param, run_as=pg_server_module._run_as()
        )
        running = cm.__enter__()
    except pgbouncer_module.PgBouncerUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield running
    finally:
        cm.__exit__(None, None, None)


def _workspace(kit: Any, tmp_path: Path, emulator_factory: Any, db: Any, dsn: str) -> Any:
    ws = kit.Workspace(tmp_path, emulator_factory(kit.BASE_SEED))
    ws.env.update({db.env_var: dsn})
    ws.write_config(kit.config_yaml().replace(kit.SQLITE_BLOCK, db.state_yaml()))
    ws.apply()
    ws.generate(
        "Webinar signups",
        {
            "count": MEMBERS,
            "email": "p{n}@example.com",
            "datafields": {
                "FIRSTNAME": "P{n}",
                "LASTNAME": "Pool",
                "COMPANY": "Co",
                "REGION": "EMEA",
            },
        },
    )
    ws.emu.reset_log()
    return ws


def _hold_first_read(ws: Any) -> dict[str, Any]:
    """Hold the first Dotdigital contacts read: its runner then sits inside the account lock."""
    return ws.emu.inject_fault(
        "dotdigital", method="GET", path_regex=r"^/contacts/v3", delay_ms=HOLD_MS, times=1
    )


def _runs_never_interleave(ws: Any) -> list[str]:
    """Blocks of Dotdigital requests per run (X-Leadsync-Client): two runners inside the lock at
    once would interleave their requests."""
    clients = [r["client"] for r in ws.emu.requests_log("dotdigital")["requests"]]
    blocks = [c for i, c in enumerate(clients) if i == 0 or clients[i - 1] != c]
    assert len(blocks) == len(set(blocks)), f"two runners were inside the lock at once: {blocks}"
    return blocks


def test_three_runners_through_pgbouncer_create_each_lead_once(
    tmp_path, emulator_factory, pg_database, bouncer, kit
) -> None:
    ws = _workspace(kit, tmp_path, emulator_factory, pg_database, bouncer.dsn_for(pg_database.dsn))
    hold = _hold_first_read(ws)
    procs = [ws.popen("sync", "-c", "leadsync.yaml", "--json", "--lock-timeout", "300")]
    try:
        kit.until(
            lambda: kit.fault_taken(ws.emu, "dotdigital", hold),
            "the first runner held inside the lock",
            procs,
        )
        procs += [
            ws.popen("sync", "-c", "leadsync.yaml", "--json", "--lock-timeout", "300")
            for _ in range(RUNNERS - 1)
        ]
        for waiting in procs[1:]:
            _wait_for_notice(waiting)
        ws.emu.clear_faults("dotdigital")
        outputs = [p.communicate(timeout=300) for p in procs]
    finally:
        kit.kill_running(*procs)

    created = 0
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, (proc.returncode, out[-2000:], err[-2000:])
        assert "Traceback" not in err, err
        report = json.loads(out)
        assert report["status"] == "done"
        created += report["totals"]["created"]
    assert created == MEMBERS
    leads = ws.leads()  # fails on any duplicate email
    assert len([e for e in leads if re.fullmatch(r"p\d+@example\.com", e)]) == MEMBERS
    assert len(_runs_never_interleave(ws)) == RUNNERS
    assert pg_database.rows("SELECT COUNT(*) FROM lock_holders") == [(0,)]
    assert pg_database.rows("SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory'") == [
        (0,)
    ], "an advisory lock outlived every runner"
    public = pg_database.rows("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    assert public == [], f"tables created outside the state schema: {public}"


@pytest.mark.parametrize("route", ["direct", "transaction"])
def test_a_runner_whose_lock_session_ends_stops_before_writing(
    tmp_path,
    emulator_factory,
    pg_server,
    pg_database,
    route,
    kit,
    pg_server_module,
    pgbouncer_module,
) -> None:
    """The lock's backend is terminated (as idle_session_timeout, a load balancer or an admin
    would) while a second runner waits: the first stops before its next write, the second
    takes the lock and completes, and no Lead exists twice."""
    if route == "direct":
        dsn, bouncer_cm = pg_database.dsn, None
    else:
        bouncer_cm = pgbouncer_module.PgBouncer.start(
            backend_port=pg_server.port, pool_mode="transaction", run_as=pg_server_module._run_as()
        )
        dsn = bouncer_cm.__enter__().dsn_for(pg_database.dsn)
    try:
        _lost_lock_scenario(kit, tmp_path, emulator_factory, pg_database, dsn)
    finally:
        if bouncer_cm is not None:
            bouncer_cm.__exit__(None, None, None)


def _lost_lock_scenario(kit: Any, tmp_path: Path, emulator_factory: Any, db: Any, dsn: str) -> None:
    ws = _workspace(kit, tmp_path, emulator_factory, db, dsn)
    hold = _hold_first_read(ws)
    first = ws.popen("sync", "-c", "leadsync.yaml", "--json")
    second = None
    try:
        kit.until(
            lambda: kit.fault_taken(ws.emu, "dotdigital", hold),
            "the first runner held inside the lock",
            (first,),
        )
        lock_backend = db.rows("SELECT backend_pid FROM lock_holders WHERE name = 'account:uk'")
        assert len(lock_backend) == 1, lock_backend
        second = ws.popen("sync", "-c", "leadsync.yaml", "--json", "--lock-timeout", "300")
        _wait_for_notice(second)
        assert db.rows("SELECT pg_terminate_backend(%s)", (lock_backend[0][0],)) == [(True,)]
        out2, err2 = second.communicate(timeout=300)  # it takes the lock and does the work
        ws.emu.clear_faults("dotdigital")  # the first runner's read now completes
        out1, err1 = first.communicate(timeout=300)
    finally:
        kit.kill_running(first, second)

    assert second.returncode == 0, (out2[-2000:], err2[-2000:])
    assert json.loads(out2)["totals"]["created"] == MEMBERS
    assert first.returncode == 1, (first.returncode, out1[-2000:], err1[-2000:])
    assert "Traceback" not in err1 and "Traceback" not in err2
    assert "state lock 'account:uk' was lost" in err1, err1
    assert "stopped before the next write" in err1
    leads = ws.leads()  # fails on any duplicate email
    assert len([e for e in leads if re.fullmatch(r"p\d+@example\.com", e)]) == MEMBERS
    assert len(ws.campaign_members()) == MEMBERS
    assert db.rows("SELECT COUNT(*) FROM lock_holders") == [(0,)]


def _wait_for_notice(proc: Any) -> str:
    """Block until the runner says on stderr that it waits for the lock (it says so at once,
    then every few seconds): an event, not a timer."""
    while True:
        line = proc.stderr.readline()
        assert line, ("the runner ended before waiting for the lock", proc.communicate())
        if "waiting for state lock 'account:uk' held by" in line:
            assert "giving up in" in line, line
            return line


def test_idle_timeouts_on_the_server_do_not_end_a_held_lock(
    tmp_path, emulator_factory, pg_database, kit
) -> None:
    """With idle_session_timeout and idle_in_transaction_session_timeout of 1 s on the database
    (as managed PostgreSQL roles often have), a runner held inside its lock for several times
    that long keeps the lock: a second runner is refused, and the first completes."""
    import psycopg

    with psycopg.connect(pg_database.dsn, autocommit=True) as admin:
        for setting in ("idle_session_timeout", "idle_in_transaction_session_timeout"):
            admin.execute(f"ALTER DATABASE \"{pg_database.name}\" SET {setting} = '1s'")
    ws = _workspace(kit, tmp_path, emulator_factory, pg_database, pg_database.dsn)
    hold = _hold_first_read(ws)
    first = ws.popen("sync", "-c", "leadsync.yaml", "--json")
    try:
        kit.until(
            lambda: kit.fault_taken(ws.emu, "dotdigital", hold),
            "the first runner held inside the lock",
            (first,),
        )
        pid = pg_database.rows("SELECT backend_pid FROM lock_holders")[0][0]

        def three_timeouts_passed() -> bool:
            rows = pg_database.rows(
                "SELECT now() - xact_start > interval '3 seconds' FROM pg_stat_activity "
                "WHERE pid = %s",
                (pid,),
            )
            assert rows, "the lock's session was ended by an idle timeout"
            return rows == [(True,)]

        kit.until(three_timeouts_passed, "three idle timeouts to pass", (first,))
        refused = ws.run("sync", "-c", "leadsync.yaml", "--lock-timeout", "0", check=(1,))
        assert "state lock 'account:uk' is held by" in refused.stderr, refused.stderr
        ws.emu.clear_faults("dotdigital")
        out, err = first.communicate(timeout=300)
    finally:
        kit.kill_running(first)
    assert first.returncode == 0, (out[-2000:], err[-2000:])
    assert json.loads(out)["totals"]["created"] == MEMBERS
    assert len([e for e in ws.leads() if re.fullmatch(r"p\d+@example\.com", e)]) == MEMBERS
