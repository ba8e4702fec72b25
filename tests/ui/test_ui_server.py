"""`leadsync ui` as a process (issue 16): ready file, loopback bind, clean exit on signals,
read-only, no secret on any page, bad input as one line, and the same answers from PostgreSQL."""

from __future__ import annotations

import csv
import io
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

LEADSYNC = str(Path(sys.executable).with_name("leadsync"))
PAGES = ("", "runs", "records", "records?state=failed", "records.csv", "history")


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a listening TCP socket on `port`, read from /proc/net/tcp(6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


def run(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [LEADSYNC, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_ready_file_loopback_only_and_exit_0_on_a_signal(audit_world, ui_process, sig):
    ui = ui_process(["--state", f"sqlite:{audit_world.ws.state_db}"], audit_world.ws.root)
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", ui.url)
    port = int(ui.url.rsplit(":", 1)[1].rstrip("/"))
    assert listening_addresses(port) == {"0100007F"}  # 127.0.0.1 only, no wildcard bind
    assert ui.get("").status_code == 200
    code, out, err = ui.stop(sig)
    assert code == 0, err
    assert ui.url in out and not ui.ready.exists()


def test_nothing_is_written_and_only_get_is_answered(audit_world):
    ui = audit_world.ui
    before = audit_world.ws.state_rows("SELECT COUNT(*), MAX(updated_at) FROM ledger")
    for method in ("POST", "PUT", "DELETE"):
        r = requests.request(method, ui.url + "records", timeout=30)
        assert r.status_code == 405, method
    # a page asked for through another host name (DNS rebinding) is refused
    r = requests.get(ui.url, headers={"Host": "evil.example:80"}, timeout=30)
    assert r.status_code == 400 and "evil" not in r.text
    for path in PAGES:
        r = ui.get(path)
        assert r.status_code == 200, path
        assert "script-src" not in r.headers["Content-Security-Policy"]  # no script allowed
        assert r.headers["Cache-Control"] == "no-store"
    assert audit_world.ws.state_rows("SELECT COUNT(*), MAX(updated_at) FROM ledger") == before


def test_no_page_shows_a_secret(audit_world):
    """The emulators' token and passwords are in the environment of `leadsync ui`; no page, no
    CSV, shows them or their salted fingerprints (the applied config shows `(sensitive)`)."""
    assert len(audit_world.secrets) == 3 and all(len(v) >= 8 for v in audit_world.secrets.values())
    bodies = {path: audit_world.ui.get(path).text for path in PAGES}
    bodies["run"] = audit_world.ui.get(f"runs/{audit_world.last['run_id']}").text
    assert "(sensitive)" in bodies["history"]  # the masked config is there...
    for path, body in bodies.items():
        for name, secret in audit_world.secrets.items():
            assert secret not in body, (path, name)
        assert "hmac-sha256:" not in body, path  # ...and no fingerprint of a secret


def test_an_empty_state_is_not_created_and_bad_input_is_one_line(tmp_path, audit_world, ui_process):
    config = (audit_world.ws.root / "leadsync.yaml").read_text()
    (tmp_path / "leadsync.yaml").write_text(config.replace(".leadsync/state.db", "fresh/state.db"))
    ui = ui_process(["-c", "leadsync.yaml"], tmp_path, audit_world.ws.env)
    assert "Nothing has been applied" in ui.get("").text
    assert "No records match" in ui.get("records").text
    assert ui.get("records?state=bogus").status_code == 400
    assert ui.get("runs/no-such-run").status_code == 404
    assert ui.stop()[0] == 0
    assert not (tmp_path / "fresh").exists()  # reading never creates the state

    missing = run("ui", "--state", "sqlite:nope.db", "--port", "0", cwd=tmp_path)
    assert missing.returncode == 1 and missing.stderr.startswith("error: ")
    assert len(missing.stderr.strip().splitlines()) == 1 and "nope.db" in missing.stderr
    both = run("ui", "-c", "leadsync.yaml", "--state", "sqlite:x", cwd=tmp_path)
    assert both.returncode == 1 and "exclude each other" in both.stderr
    unset = run("ui", "-c", "leadsync.yaml", "--port", "0", cwd=tmp_path, env={"PATH": ""})
    assert unset.returncode == 1 and "SF_INSTANCE_URL" in unset.stderr

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        taken = run(
            "ui", "--state", f"sqlite:{audit_world.ws.state_db}", "--port", str(port), cwd=tmp_path
        )
    assert taken.returncode == 1 and f"127.0.0.1:{port}" in taken.stderr


def records_answer(ui, query: str) -> tuple[list[str], list[dict]]:
    page = ui.get(f"records?{query}").text
    emails = re.findall(r'<tr data-email="([^"]+)"', page)
    rows = list(
        csv.DictReader(io.StringIO(ui.get(f"records.csv?{query}").content.decode("utf-8-sig")))
    )
    return emails, rows


@pytest.mark.postgres
def test_a_postgresql_state_answers_as_the_sqlite_one(
    audit_world, pg_database, ui_process, tmp_path
):
    """The same state copied into PostgreSQL (`leadsync state migrate`) gives the same records
    pages and CSV for every filter; the DSN's password is on no page."""
    shutil.copy(audit_world.ws.state_db, tmp_path / "copy.db")  # migrate holds the source's locks
    dsn = f"{pg_database.dsn} password=pg-Secret-9"
    env = {**audit_world.ws.env, "LEADSYNC_STATE_DSN": dsn}
    moved = run(
        "state",
        "migrate",
        "--from",
        f"sqlite:{tmp_path / 'copy.db'}",
        "--to",
        "postgres:",
        cwd=tmp_path,
        env=env,
    )
    assert moved.returncode == 0, moved.stderr
    pg = ui_process(["--state", "postgres:"], tmp_path, env)
    for query in (
        "state=failed",
        "q=EXAMPLE.com",
        "reason=MISSING_FIELDS",
        "q=o_d",
        "state=created&book=1",
        "",
    ):
        assert records_answer(pg, query) == records_answer(audit_world.ui, query), query
    for path in PAGES:
        body = pg.get(path).text
        assert "pg-Secret-9" not in body, path
    assert records_answer(pg, "q=o_d")[0] == []  # `_` is a character, not a wildcard ("old@")


def test_paging_walks_every_record_forward_and_back(audit_world):
    """Pages by key: following `next` to the end lists every record once, newest member first
    within each book, and `prev` walks back through the same pages."""
    from leadsync.state.sqlite import SqliteStore
    from leadsync.ui.records import parse_filter, read_page

    store = SqliteStore(audit_world.ws.state_db)
    try:
        pages, args = [], {}
        while True:
            page = read_page(store, parse_filter(args), page_size=3)
            pages.append([r.record.email for r in page.rows])
            assert page.total == 8 and (page.prev is None) == (len(pages) == 1)
            if page.next is None:
                break
            args = {"after": page.next}
        assert [len(p) for p in pages] == [3, 3, 2]
        walked = [e for p in pages for e in p]
        every = [
            r
            for s in ("created", "excluded", "skipped", "failed", "baseline")
            for r in audit_world.records(s)
        ]
        assert sorted(walked) == sorted(r["email"] for r in every)
        keys = [(r["account"], r["book_id"], r["contact_id"]) for r in every]
        by_email = dict(zip((r["email"] for r in every), keys, strict=True))
        assert [by_email[e] for e in walked] == sorted(keys, reverse=True)
        back = read_page(store, parse_filter({"before": page.prev}), page_size=3)
        assert [r.record.email for r in back.rows] == pages[-2] and back.prev is not None
        first = read_page(store, parse_filter({"before": back.prev}), page_size=3)
        assert [r.record.email for r in first.rows] == pages[0] and first.prev is None
    finally:
        store.close()
