"""`leadsync emulator` as a real subprocess: ready JSON, ready file, signals, bad seeds, knobs.

Readiness is read from the process's first stdout line (no sleeps, no polling).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

LEADSYNC = str(Path(sys.executable).with_name("leadsync"))


class Proc:
    """A running `leadsync emulator` process and its ready JSON."""

    def __init__(self, *args: str, cwd: Path) -> None:
        env = {
            k: v for k, v in os.environ.items() if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
        }
        started = time.monotonic()
        self.popen = subprocess.Popen(
            [LEADSYNC, "emulator", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd,
            env=env,
        )
        assert self.popen.stdout is not None
        self.ready_line = self.popen.stdout.readline()
        if not self.ready_line:
            _, err = self.popen.communicate(timeout=30)
            pytest.fail(f"emulator exited {self.popen.returncode} before ready: {err}")
        self.info: dict[str, Any] = json.loads(self.ready_line)
        self.seconds_to_ready = time.monotonic() - started  # measured, printed, never asserted

    def sf(self) -> requests.Session:
        s = requests.Session()
        s.trust_env = False
        s.verify = self.info["salesforce"]["ca_bundle"]
        return s

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str, str]:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
        out, err = self.popen.communicate(timeout=30)
        return self.popen.returncode, out, err


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Any]:
    procs: list[Proc] = []

    def factory(*args: str) -> Proc:
        proc = Proc(*args, cwd=tmp_path)
        procs.append(proc)
        return proc

    yield factory
    for proc in procs:
        if proc.popen.poll() is None:
            proc.popen.kill()
            proc.popen.communicate(timeout=30)


def run_to_exit(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LEADSYNC, "emulator", *args], capture_output=True, text=True, cwd=cwd, timeout=60
    )


def test_emu_process_ready_json_knobs_and_sigterm(spawn: Any, tmp_path: Path) -> None:
    """One process for everything that needs a running emulator (each start costs ~2 s here)."""
    ready = tmp_path / "sub" / "ready.json"
    ready.parent.mkdir()
    ready.write_text("stale from an earlier run")
    proc = spawn(
        "--ready-file",
        str(ready),
        "--latency-ms",
        "15",
        "--dotdigital-port",
        "0",
        "--salesforce-port",
        "0",
    )
    info = proc.info
    print(
        f"\nemulator startup with demo data: {proc.seconds_to_ready:.2f} s from exec to ready line"
        f" ({info.get('startup_seconds')} s inside run())"
    )
    check_ready_json(info)
    # The ready file holds the same object, complete, and no temp file is left beside it.
    assert json.loads(ready.read_text()) == info
    assert [p.name for p in ready.parent.iterdir()] == ["ready.json"]
    check_latency(proc)
    check_faults_log_and_reset(proc)

    code, out, err = proc.stop(signal.SIGTERM)
    assert code == 0, err
    assert out == ""  # only the ready line, already read
    assert err == ""  # quiet: no access log, no traceback
    assert not ready.exists()


def check_ready_json(info: dict[str, Any]) -> None:
    dd, sf = info["dotdigital"], info["salesforce"]
    assert dd["endpoint"].startswith("http://127.0.0.1:")
    assert dd["accounts"]["uk"] == {
        "username": "apiuser-uk@apiconnector.com",
        "password": "demo-password",
    }
    assert sf["instance_url"].startswith("https://127.0.0.1:")
    assert sf["login_url"] == sf["instance_url"]
    assert isinstance(sf["access_token"], str) and sf["access_token"]
    assert Path(sf["ca_bundle"]).is_absolute() and Path(sf["ca_bundle"]).is_file()
    assert sf["users"][0]["username"] == "admin@leadsync.demo"
    assert sf["connected_apps"][0]["consumer_key"] == "leadsync-demo"
    dd_port = int(dd["endpoint"].rsplit(":", 1)[1])
    sf_port = int(sf["instance_url"].rsplit(":", 1)[1])
    assert dd_port > 0 and sf_port > 0 and dd_port != sf_port


def check_latency(proc: Proc) -> None:
    assert proc.info["latency_ms"] == 15
    dd = proc.info["dotdigital"]
    creds = dd["accounts"]["uk"]
    r = requests.get(
        dd["endpoint"] + "/v2/account-info", auth=(creds["username"], creds["password"]), timeout=10
    )
    assert r.status_code == 200
    assert r.headers["X-Emulator-Delay-Ms"] == "15"
    r = proc.sf().get(  # verified TLS with exactly the emitted CA bundle
        proc.info["salesforce"]["instance_url"] + "/services/data/v59.0/limits/",
        headers={"Authorization": f"Bearer {proc.info['salesforce']['access_token']}"},
    )
    assert r.status_code == 200
    assert r.headers["X-Emulator-Delay-Ms"] == "15"
    # Control routes are never delayed.
    r = requests.get(dd["endpoint"] + "/__emulator/requests", timeout=10)
    assert "X-Emulator-Delay-Ms" not in r.headers


def check_faults_log_and_reset(proc: Proc) -> None:
    sf_url = proc.info["salesforce"]["instance_url"]
    s = proc.sf()
    auth = {"Authorization": f"Bearer {proc.info['salesforce']['access_token']}"}
    query = sf_url + "/services/data/v59.0/query/"
    assert s.post(sf_url + "/__emulator/reset-log").status_code == 200

    fault = {"method": "GET", "path_regex": "/query/?$", "status": 503, "times": 2}
    assert s.post(sf_url + "/__emulator/faults", json=fault).status_code == 201
    params = {"q": "SELECT Id FROM Lead"}
    responses = [s.get(query, params=params, headers=auth) for _ in range(3)]
    assert [r.status_code for r in responses] == [503, 503, 200]
    assert responses[0].json()[0]["errorCode"] == "SERVER_UNAVAILABLE"
    assert responses[2].json()["totalSize"] == 1

    fault = {"path_regex": "/limits", "drop_connection": True, "times": 1}
    assert s.post(sf_url + "/__emulator/faults", json=fault).status_code == 201
    with pytest.raises(requests.ConnectionError):
        s.get(sf_url + "/services/data/v59.0/limits/", headers=auth)

    fault = {"path_regex": "/limits", "delay_ms": 5, "times": 1}
    assert s.post(sf_url + "/__emulator/faults", json=fault).status_code == 201
    r = s.get(sf_url + "/services/data/v59.0/limits/", headers=auth)
    assert r.status_code == 200
    assert r.headers["X-Emulator-Delay-Ms"] == "20"  # latency 15 + fault delay 5

    log = s.get(sf_url + "/__emulator/requests").json()
    assert [(e["path"].rsplit("/", 2)[-2], e["status"]) for e in log["requests"]] == [
        ("query", 503),
        ("query", 503),
        ("query", 200),
        ("limits", 0),
        ("limits", 200),
    ]
    assert log["counts"] == {
        "GET /services/data/v{version}/query": 3,
        "GET /services/data/v{version}/limits": 2,
    }
    assert log["counts_by_path"] == {
        "GET /services/data/v59.0/query/": 3,
        "GET /services/data/v59.0/limits/": 2,
    }

    assert s.post(sf_url + "/__emulator/reset-log").status_code == 200
    empty = {"requests": [], "counts": {}, "counts_by_path": {}}
    assert s.get(sf_url + "/__emulator/requests").json() == empty

    # Dotdigital: a status fault answers in Dotdigital's message shape.
    dd = proc.info["dotdigital"]
    creds = dd["accounts"]["uk"]
    fault = {"path_regex": "address-books", "status": 500, "times": 1}
    assert requests.post(dd["endpoint"] + "/__emulator/faults", json=fault, timeout=10).ok
    r = requests.get(
        dd["endpoint"] + "/v2/address-books",
        auth=(creds["username"], creds["password"]),
        timeout=10,
    )
    assert r.status_code == 500
    assert set(r.json()) == {"message"}  # the service's fault_error_body, v2 shape


def test_emu_sigint_exits_zero(spawn: Any) -> None:
    proc = spawn()
    code, _, err = proc.stop(signal.SIGINT)
    assert code == 0, err
    assert err == ""


def test_emu_bad_input_exits_1_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    """Bad seed, missing seed, busy port: run side by side (each process start costs ~2 s)."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("salesforce:\n  daily_api_limit: 10\ndotdigital:\n  acounts: []\n")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = str(busy.getsockname()[1])
        cases = {
            "bad": ["--data", str(bad)],
            "missing": ["--data", str(tmp_path / "none.yaml")],
            "busy": ["--salesforce-port", port, "--ready-file", "r.json"],
        }
        procs = {
            name: subprocess.Popen(
                [LEADSYNC, "emulator", *args],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=tmp_path,
            )
            for name, args in cases.items()
        }
        results = {name: (p, *p.communicate(timeout=60)) for name, p in procs.items()}

    for name, (p, out, err) in results.items():
        assert p.returncode == 1, (name, err)
        assert out == "", name
        assert "Traceback" not in err, name
        assert err.count("\n") == 1, (name, err)  # one line
    assert f"{bad}:4:" in results["bad"][2]
    assert "acounts" in results["bad"][2]
    assert "none.yaml" in results["missing"][2]
    assert f"127.0.0.1:{port}" in results["busy"][2]
    assert not (tmp_path / "r.json").exists()
