"""The throwaway-server helper: it finds the binaries, and says so loudly when it cannot."""

from __future__ import annotations

import pytest


def test_missing_binaries_fail_with_instructions(tmp_path, pg_server_module):
    with pytest.raises(
        pg_server_module.PgUnavailable, match=r"never skipped.*apt-get install postgresql"
    ):
        pg_server_module.find_bindir(path=str(tmp_path), debian_glob=str(tmp_path / "*" / "initdb"))


def test_binaries_are_found_here(pg_server_module):
    assert (pg_server_module.find_bindir() / "pg_ctl").exists()


def test_a_server_orphaned_by_a_killed_run_is_reaped(pg_server_module):
    import subprocess
    import sys
    from pathlib import Path

    import psycopg

    script = Path(pg_server_module.__file__)
    proc = subprocess.Popen(
        [sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    orphan_dsn = proc.stdout.readline().strip()
    with psycopg.connect(orphan_dsn) as conn:
        data_dir = conn.execute("SHOW data_directory").fetchone()[0]
    proc.kill()  # SIGKILL: the helper's own teardown never runs
    proc.wait()
    proc.stdin.close()
    proc.stdout.close()
    assert Path(data_dir).exists()
    with pg_server_module.PgServer.start() as server:
        assert server.data_dir != Path(data_dir)
        assert not Path(data_dir).exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(orphan_dsn, connect_timeout=5).close()
