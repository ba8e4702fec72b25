"""`leadsync sync --every`, and SIGTERM/SIGINT: finish the batch in flight, record it, exit 0.

No sleeps: the tests synchronise on the process's own output (one JSON line per run, the
line it writes when a signal arrives) and on the emulator (a write request is held by a fault's
delay_ms until the test clears the fault; the test waits until the fault has been used, i.e. the
request has arrived and is being held, signals, waits for the process to say it is finishing the
batch, and only then lets the request go on: no race against a timer).
"""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from leadsync.sync.schedule import BadInterval, StopFlag, parse_interval

DEADLINE = 120


class Output:
    """A process's stdout and stderr, read line by line on two threads.

    Why threads, not select() + readline(): readline on a buffered pipe may pull several lines
    into Python's buffer; select() then waits on an empty descriptor while the line wanted is
    already read, and a process that says nothing more (it waits an hour) hangs the test.
    """

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self._lines: dict[str, queue.Queue[str | None]] = {
            "out": queue.Queue(),
            "err": queue.Queue(),
        }
        self._threads = [
            threading.Thread(target=self._pump, args=(name, stream), daemon=True)
            for name, stream in (("out", proc.stdout), ("err", proc.stderr))
        ]
        for thread in self._threads:
            thread.start()

    def _pump(self, name: str, stream: Any) -> None:
        for line in stream:
            self._lines[name].put(line)
        self._lines[name].put(None)  # end of output

    def next_line(self, name: str) -> str:
        try:
            line = self._lines[name].get(timeout=DEADLINE)
        except queue.Empty:
            raise AssertionError(f"no output on std{name} from sync") from None
        if line is None:
            self._lines[name].put(None)
            raise AssertionError(("sync ended", self.proc.wait(), self.rest("err")))
        return line

    def rest(self, name: str) -> str:
        """What the process printed on std<name> that no next_line() took (after it ended)."""
        self.proc.wait(timeout=DEADLINE)
        for thread in self._threads:
            thread.join(timeout=DEADLINE)
        lines = []
        while not self._lines[name].empty():
            line = self._lines[name].get_nowait()
            if line is not None:
                lines.append(line)
        self._lines[name].put(None)
        return "".join(lines)


def _until(predicate, what: str, output: Output | None = None) -> None:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if predicate():
            return
        if output is not None and output.proc.poll() is not None:
            raise AssertionError(
                ("sync ended before " + what, output.proc.returncode, output.rest("err"))
            )
        time.sleep(0.02)  # polling the emulator's state: synchronisation, not a timed wait
    raise AssertionError(f"timed out waiting for {what}")


def _next_line(output: Output) -> dict[str, Any]:
    """The next JSON line the process prints (bounded by DEADLINE)."""
    return json.loads(output.next_line("out"))


def _wait_for_stderr(output: Output, text: str) -> str:
    """Read stderr lines until one contains `text` (the process says what it is doing)."""
    while True:
        line = output.next_line("err")
        if text in line:
            return line


def _finish(output: Output) -> tuple[str, str]:
    """The rest of stdout and stderr once the process has ended; it must have exited 0."""
    out, err = output.rest("out"), output.rest("err")
    proc = output.proc
    assert proc.returncode == 0, (proc.returncode, out[-2000:], err[-2000:])
    assert "Traceback" not in err, err
    return out, err


def _stop(output: Output, sig: int = signal.SIGTERM) -> tuple[str, str]:
    output.proc.send_signal(sig)
    return _finish(output)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_every_runs_prints_one_json_line_per_run_and_a_signal_while_waiting_exits_0(
    workspace, kit, sig
) -> None:
    ws = workspace()
    ws.add_member("ada@example.com", kit.member("Ada", "Lovelace", "Engines"))
    proc = ws.popen("sync", "-c", "leadsync.yaml", "--json", "--every", "1h")
    output = Output(proc)
    try:
        first = _next_line(output)
        assert first["status"] == "done" and first["totals"]["created"] == 1
        assert first["exit_code"] == 0
        # the run is recorded before its line is printed; the process now waits for 1h
        runs = ws.state_rows("SELECT run_id FROM runs")
        assert runs == [(first["run_id"],)]
        waiting = _wait_for_stderr(output, "next sync at")
        assert "--every 1h" in waiting
        out, _err = _stop(output, sig)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert out == ""  # no second run: the signal ended the wait at once
    assert set(ws.leads()) == {"grace@example.com", "ada@example.com"}
    assert len(ws.campaign_members()) == 1


@pytest.mark.slow
@pytest.mark.parametrize("every", [True, False], ids=["every", "once"])
def test_sigterm_during_a_write_finishes_that_batch_records_it_and_exits_0(
    workspace, kit, every
) -> None:
    members = 250  # Collections: a batch of 200, then one of 50
    ws = workspace()
    ws.generate(
        "Webinar signups",
        {
            "count": members,
            "email": "t{n}@example.com",
            "datafields": {
                "FIRSTNAME": "T{n}",
                "LASTNAME": "Term",
                "COMPANY": "Co",
                "REGION": "EMEA",
            },
        },
    )
    hold = ws.emu.inject_fault(
        "salesforce",
        method="POST",
        path_regex=r"composite/sobjects$",
        delay_ms=600_000,  # held until the fault is cleared below
        times=1,
    )
    args = ["sync", "-c", "leadsync.yaml", "--json"] + (["--every", "1h"] if every else [])
    proc = ws.popen(*args)
    output = Output(proc)
    try:

        def held() -> bool:
            faults = ws.emu.control("salesforce", "GET", "/__emulator/faults").json()["faults"]
            return next(f for f in faults if f["id"] == hold["id"])["remaining"] == 0

        _until(held, "the first Lead batch to reach Salesforce", output)
        proc.send_signal(signal.SIGTERM)
        # The signal has been handled while the batch is still in flight; then let it finish.
        said = _wait_for_stderr(output, "finishing the batch in flight")
        ws.emu.clear_faults()
        out, _err = _finish(output)
    finally:
        if proc.poll() is None:
            proc.kill()

    if every:  # one JSON object per line per run: the interrupted run ended the loop
        assert len(out.splitlines()) == 1
    report = json.loads(out)
    assert report["status"] == "interrupted" and report["exit_code"] == 0
    assert "SIGTERM" in report["stop_reason"]
    book = report["books"][0]
    assert (book["seen"], book["created"], book["pending"]) == (members, 200, 50)
    assert "finishing the batch in flight" in said

    # the batch in flight exists in Salesforce and the ledger says so; nothing is in doubt
    leads = {e for e in ws.leads() if e.startswith("t")}
    assert len(leads) == 200
    created = {r[0] for r in ws.state_rows("SELECT email FROM ledger WHERE state = 'created'")}
    assert created == leads
    assert ws.state_rows("SELECT COUNT(*) FROM ledger WHERE attempt IS NOT NULL") == [(0,)]
    assert ws.state_rows("SELECT COUNT(*) FROM ledger WHERE state = 'pending'") == [(50,)]
    saved = ws.state_rows("SELECT report FROM runs")
    assert [json.loads(r[0])["status"] for r in saved] == ["interrupted"]

    # the next run finishes the job: every member once, every CampaignMember once
    ws.emu.clear_faults()
    again = ws.sync(code=(0,))
    assert again["totals"]["created"] == 50
    leads = ws.leads()
    assert {e for e in leads if e.startswith("t")} == {f"t{n}@example.com" for n in range(members)}
    assert len(ws.campaign_members()) == members


def test_every_keeps_going_after_a_failed_run_and_stops_on_a_config_error(workspace, kit) -> None:
    """Nothing applied yet: each run fails (exit 1 would be the one-shot answer), the loop logs
    it and goes on; once applied, the next run works. A broken config ends the loop with 1."""
    ws = workspace(apply=False)
    ws.add_member("ada@example.com", kit.member("Ada", "Lovelace", "Engines"))
    proc = ws.popen("sync", "-c", "leadsync.yaml", "--json", "--every", "10s")  # the minimum
    output = Output(proc)
    try:
        first = _next_line(output)
        assert first["status"] == "error" and "nothing has been applied" in first["message"]
        assert first["code"] == "not_applied" and first["command"] == "sync"
        assert first["exit_code"] == 1
        ws.apply()  # the member was there before create_leads was applied: baseline
        ws.add_member("alan@example.com", kit.member("Alan", "Turing", "Bletchley", "AMER"))
        while True:
            line = _next_line(output)
            if line["status"] == "done" and line["totals"]["created"]:
                break
            assert line["status"] in ("done", "error"), line  # e.g. the apply held the lock
        assert "alan@example.com" in ws.leads()
        ws.write_config("version: 1\nstate: [\n")
        out, err = output.rest("out"), output.rest("err")
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, (out, err)
    assert "invalid config" in err and "Traceback" not in err


def test_every_reports_an_incomplete_run_and_the_next_run_completes_it(workspace, kit) -> None:
    """Exit 4 (incomplete: Salesforce answered 500 to every create) does not end the loop; the
    run's line says so, and once Salesforce is healthy a later run creates the Leads."""
    ws = workspace()
    ws.add_member("ada@example.com", kit.member("Ada", "Lovelace", "Engines"))
    ws.emu.inject_fault("salesforce", method="POST", path_regex="composite/sobjects$", status=500)
    proc = ws.popen("sync", "-c", "leadsync.yaml", "--json", "--every", "10s")
    output = Output(proc)
    try:
        first = _next_line(output)
        assert (first["status"], first["exit_code"]) == ("incomplete", 4)
        assert [(e["class"], e["count"]) for e in first["errors"]] == [("HTTP 500", 1)]
        ws.emu.clear_faults()
        while True:
            line = _next_line(output)
            if line["status"] == "done":
                break
            assert line["status"] == "incomplete", line  # a run that began before the clear
        assert line["totals"]["created"] == 1 and line["exit_code"] == 0
        _stop(output)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "ada@example.com" in ws.leads()


def test_bad_every_values_are_one_line_errors(tmp_path) -> None:
    leadsync = str(Path(sys.executable).with_name("leadsync"))
    for args, expected in [
        (["--every", "15"], "expected a duration such as 90s, 15m"),
        (["--every", "15x"], "expected a duration"),
        (["--every", "0m"], "longer than zero"),
        (["--every", "15m", "--dry-run"], "exclude each other"),
    ]:
        proc = subprocess.run(
            [leadsync, "sync", *args], cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 1, (args, proc.stderr)
        assert expected in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / ".leadsync").exists()


def test_parse_interval() -> None:
    assert parse_interval("90s") == 90
    assert parse_interval("15m") == 900
    assert parse_interval(" 1H30m ") == 5400
    for bad in ("", "15", "m", "1.5h", "-5m", "15 m", "1d"):
        with pytest.raises(BadInterval):
            parse_interval(bad)


def test_stop_flag_wakes_a_wait_even_when_set_before_it() -> None:
    flag = StopFlag()
    try:
        assert flag() is None and flag.wait(0) is False
        flag.request("SIGTERM")
        assert flag.wait(3600) is True  # returns at once: the pipe already holds the wake-up
        assert flag() == "SIGTERM"
    finally:
        flag.close()
