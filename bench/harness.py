"""Plumbing shared by the benchmarks: emulator process, env, control calls, measured commands.

Every figure the bench prints is measured here in the same run: API calls come from the
emulators' own request logs, CPU and peak RSS from the kernel's rusage of the measured process
alone (os.wait4), wall time from a monotonic clock around it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import yaml

LEADSYNC = [sys.executable, "-m", "leadsync.cli"]
SRC = Path(__file__).resolve().parents[1] / "src"


@dataclass(frozen=True)
class Build:
    """One leadsync to measure: the working tree, or a git revision exported beside it.

    Both run on the same interpreter and the same installed dependencies; a revision's source
    goes first on PYTHONPATH. Each tree's bytecode is compiled before measuring, as a wheel
    install does (an editable checkout run with PYTHONDONTWRITEBYTECODE would otherwise
    compile every module on every start and count that as start-up CPU).
    """

    label: str
    src: Path

    def cmd(self, *args: str) -> list[str]:
        return [*LEADSYNC, *args]

    def env(self, base: dict[str, str]) -> dict[str, str]:
        env = dict(base)
        if self.src != SRC:
            env["PYTHONPATH"] = str(self.src)
        return env

    def compile(self) -> None:
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", str(self.src / "leadsync")], check=True
        )


def working_tree() -> Build:
    return Build("after", SRC)


def revision(rev: str, root: Path) -> Build:
    """`rev`'s src/ exported (git archive) under `root`: the "before" of a side-by-side run."""
    repo = SRC.parent
    commit = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--short", rev],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    target = root / f"rev-{commit}"
    target.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(repo), "archive", commit, "src", "schema"],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return Build(f"before {commit}", target / "src")


@dataclass
class Measured:
    code: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    stdout: str
    stderr: str


def run_measured(args: list[str], *, env: dict[str, str], cwd: Path) -> Measured:
    """Run one process and read its own rusage: the emulator's work is not counted."""
    out_path, err_path = cwd / "stdout.txt", cwd / "stderr.txt"
    with out_path.open("w") as out, err_path.open("w") as err:
        start = time.monotonic()
        proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Measured(
        code=proc.returncode,
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=usage.ru_maxrss / 1024,  # Linux reports KiB
        stdout=out_path.read_text(),
        stderr=err_path.read_text(),
    )


class Emulator:
    """`leadsync emulator` as its own process, so its CPU never counts against leadsync."""

    def __init__(self, seed: dict[str, Any], workdir: Path, latency_ms: int = 0) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        seed_path = workdir / "seed.yaml"
        seed_path.write_text(yaml.safe_dump(seed, sort_keys=False))
        self.proc = subprocess.Popen(
            [*LEADSYNC, "emulator", "--data", str(seed_path), "--latency-ms", str(latency_ms)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=workdir,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit("bench: the emulator did not start")
        self.info: dict[str, Any] = json.loads(line)
        self.dd = self.info["dotdigital"]["endpoint"]
        self.sf = self.info["salesforce"]["instance_url"]
        self.sf_session = requests.Session()
        self.sf_session.trust_env = False
        self.sf_session.verify = self.info["salesforce"]["ca_bundle"]

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        sf = self.info["salesforce"]
        env.update(
            SF_INSTANCE_URL=sf["instance_url"],
            SF_ACCESS_TOKEN=sf["access_token"],
            SF_CA_BUNDLE=sf["ca_bundle"],
        )
        for name, creds in self.info["dotdigital"]["accounts"].items():
            prefix = f"DD_{name.upper()}_"
            env[prefix + "ENDPOINT"] = self.dd
            env[prefix + "USERNAME"] = creds["username"]
            env[prefix + "PASSWORD"] = creds["password"]
        return env

    # --- control routes (not part of the real APIs, never counted) ---------------------------
    def _control(self, service: str, method: str, path: str, body: Any = None) -> Any:
        if service == "dotdigital":
            r = requests.request(method, self.dd + path, json=body, timeout=600)
        else:
            r = self.sf_session.request(method, self.sf + path, json=body, timeout=600)
        r.raise_for_status()
        return r.json() if r.content else None

    def reset_logs(self) -> None:
        for service in ("dotdigital", "salesforce"):
            self._control(service, "POST", "/__emulator/reset-log")

    def calls(self, service: str) -> int:
        return sum(self.call_counts(service).values())

    def call_counts(self, service: str) -> dict[str, int]:
        """Requests since reset_logs, by route (the emulator's own log)."""
        return dict(self._control(service, "GET", "/__emulator/requests")["counts"])

    def cpu_s(self) -> float:
        """The emulator process's CPU (user + sys) so far, from /proc (0.0 where there is none):
        with `--jobs` the emulator serves many runners' requests at once, and whether the
        machine's cores, not leadsync, set the wall time shows in this figure."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def book_id(self, account: str, name: str) -> int:
        creds = self.info["dotdigital"]["accounts"][account]
        auth = (creds["username"], creds["password"])
        books = requests.get(f"{self.dd}/v2/address-books", auth=auth, timeout=60).json()
        return next(b["id"] for b in books if b["name"] == name)

    def add_generated_members(self, account: str, book_id: int, block: dict[str, Any]) -> None:
        self._control(
            "dotdigital",
            "POST",
            f"/__emulator/accounts/{account}/address-books/{book_id}/generate",
            block,
        )

    # --- Salesforce, through its public API (setup only: reset_logs() before measuring) ---------
    def sf_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.info['salesforce']['access_token']}"}

    def sf_query(self, soql: str) -> list[dict[str, Any]]:
        """Every record of a SOQL query (REST, following nextRecordsUrl)."""
        url = f"{self.sf}/services/data/v61.0/query"
        body = self.sf_session.get(
            url, params={"q": soql}, headers=self.sf_headers(), timeout=600
        ).json()
        rows = list(body["records"])
        while not body.get("done", True):
            body = self.sf_session.get(
                self.sf + body["nextRecordsUrl"], headers=self.sf_headers(), timeout=600
            ).json()
            rows += body["records"]
        return rows

    def sf_bulk_insert(self, sobject: str, rows: list[dict[str, str]]) -> None:
        """One Bulk API 2.0 insert job, waited for; fails loudly on any failed row."""
        base = f"{self.sf}/services/data/v61.0/jobs/ingest"
        h = self.sf_headers()
        job = self.sf_session.post(
            base,
            json={
                "object": sobject,
                "operation": "insert",
                "contentType": "CSV",
                "lineEnding": "LF",
            },
            headers=h,
            timeout=600,
        ).json()
        columns = list(rows[0])
        csv_text = (
            ",".join(columns)
            + "\n"
            + "".join(",".join(row[c] for c in columns) + "\n" for row in rows)
        )
        self.sf_session.put(
            f"{base}/{job['id']}/batches",
            data=csv_text.encode(),
            headers={**h, "Content-Type": "text/csv"},
            timeout=600,
        ).raise_for_status()
        self.sf_session.patch(
            f"{base}/{job['id']}", json={"state": "UploadComplete"}, headers=h, timeout=600
        ).raise_for_status()
        while True:
            info = self.sf_session.get(f"{base}/{job['id']}", headers=h, timeout=600).json()
            if info["state"] in ("JobComplete", "Failed", "Aborted"):
                break
            time.sleep(0.1)
        if info["state"] != "JobComplete" or int(info.get("numberRecordsFailed") or 0):
            raise SystemExit(f"bench: the {sobject} setup job ended {info}")


def check(m: Measured, what: str, ok: tuple[int, ...] = (0,)) -> None:
    if m.code not in ok:
        raise SystemExit(f"bench: {what} exited {m.code}\n{m.stdout[-2000:]}\n{m.stderr[-2000:]}")


def config_head(*extra: str) -> list[str]:
    """The opening lines of a bench config (SQLite state, the emulator's Salesforce by access
    token), then `extra` top-level lines, then `accounts:`."""
    return [
        "version: 1",
        "state: {backend: sqlite, path: state.db}",
        "salesforce:",
        "  instance_url: ${SF_INSTANCE_URL}",
        "  auth:",
        "    access_token: ${SF_ACCESS_TOKEN}",
        "  ca_bundle: ${SF_CA_BUNDLE}",
        '  api_version: "61.0"',
        *extra,
        "accounts:",
    ]


def account_head(index: int) -> list[str]:
    """Account `a<index>` and its Dotdigital connection from DD_A<index>_* (Emulator.env)."""
    up = f"A{index}"
    return [
        f"  a{index}:",
        "    dotdigital:",
        f"      endpoint: ${{DD_{up}_ENDPOINT}}",
        f"      username: ${{DD_{up}_USERNAME}}",
        f"      password: ${{DD_{up}_PASSWORD}}",
    ]
