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
