"""Shared fixtures: the local emulators, started in-process on real sockets per test.

`emulator_factory(seed=None, latency_ms=0)` starts Dotdigital (HTTP) and Salesforce (HTTPS) on
free ports and returns a RunningEmulator; everything it started is stopped at test teardown.
`emulator` is the same with the built-in demo data.

Nothing here imports the emulator at collection time: a broken service module fails the tests
that use it, not the whole suite.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

_ALIASES = {
    "dotdigital": "dotdigital",
    "dd": "dotdigital",
    "salesforce": "salesforce",
    "sf": "salesforce",
}


def _service(name: str) -> str:
    try:
        return _ALIASES[name.lower()]
    except KeyError:
        raise ValueError(f"unknown emulator service {name!r} (dotdigital or salesforce)") from None


class RunningEmulator:
    """A started pair of emulators and the client-side conveniences tests need."""

    def __init__(self, servers: Any) -> None:
        self._servers = servers
        self.info: dict[str, Any] = servers.info
        self.dd_endpoint: str = self.info["dotdigital"]["endpoint"]
        self.sf_instance_url: str = self.info["salesforce"]["instance_url"]
        self.access_token: str = self.info["salesforce"]["access_token"]
        self.ca_bundle: str = self.info["salesforce"]["ca_bundle"]
        self._sessions: list[requests.Session] = []

    # -- in-process access (for assertions about emulator state; prefer HTTP) -------------
    @property
    def backends(self) -> dict[str, Any]:
        return self._servers.backends

    # -- clients --------------------------------------------------------------------------
    def sf_session(self) -> requests.Session:
        """A session that trusts exactly this emulator's CA.

        trust_env=False: with REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE set, requests would ignore
        session.verify (reference/salesforce.md 1.2).
        """
        s = requests.Session()
        s.trust_env = False
        s.verify = self.ca_bundle
        self._sessions.append(s)
        return s

    def dd_session(self, account: str | None = None) -> requests.Session:
        """A plain session for Dotdigital, with Basic auth for `account` when given."""
        s = requests.Session()
        s.trust_env = False
        if account is not None:
            s.auth = self.dd_auth(account)
        self._sessions.append(s)
        return s

    def salesforce(self, **kwargs: Any) -> Any:
        """Unmodified simple-salesforce, pointed at the emulator by session_id + instance_url."""
        from simple_salesforce import Salesforce

        return Salesforce(
            instance_url=self.sf_instance_url,
            session_id=self.access_token,
            session=self.sf_session(),
            **kwargs,
        )

    def dd_auth(self, account: str = "uk") -> tuple[str, str]:
        creds = self.info["dotdigital"]["accounts"][account]
        return creds["username"], creds["password"]

    # -- control routes -------------------------------------------------------------------
    def _base(self, service: str) -> str:
        return self.dd_endpoint if _service(service) == "dotdigital" else self.sf_instance_url

    def control(self, service: str, method: str, path: str, json: Any = None) -> requests.Response:
        """Call a control route (`/__emulator/...`); returns the response, unchecked."""
        if not path.startswith("/"):
            path = "/" + path
        if not path.startswith("/__emulator/"):
            path = "/__emulator" + path
        s = requests.Session()
        s.trust_env = False
        try:
            return s.request(
                method,
                self._base(service) + path,
                json=json,
                verify=self.ca_bundle,
                timeout=30,
            )
        finally:
            s.close()

    def _control_ok(self, service: str, method: str, path: str, json: Any = None) -> Any:
        r = self.control(service, method, path, json=json)
        if r.status_code >= 400:
            raise AssertionError(f"{method} {path} on {service}: {r.status_code} {r.text}")
        return r.json() if r.content else None

    def requests_log(self, service: str) -> dict[str, Any]:
        """{"requests": [{"method","path","status","query"}], "counts": {"METHOD path": n}}."""
        return self._control_ok(service, "GET", "/__emulator/requests")

    def reset_log(self, service: str | None = None) -> None:
        """Clear the request log of one service, or of both when service is None."""
        for name in [service] if service else ["dotdigital", "salesforce"]:
            self._control_ok(name, "POST", "/__emulator/reset-log")

    def inject_fault(self, service: str, **fault: Any) -> dict[str, Any]:
        """e.g. inject_fault("salesforce", method="POST", path_regex="composite", status=503, times=2)."""
        return self._control_ok(service, "POST", "/__emulator/faults", json=fault)

    def clear_faults(self, service: str | None = None) -> None:
        for name in [service] if service else ["dotdigital", "salesforce"]:
            self._control_ok(name, "DELETE", "/__emulator/faults")

    # -- environment for leadsync.yaml.example ---------------------------------------------
    def env(self) -> dict[str, str]:
        """Env vars the example config reads; add them to os.environ copies for subprocesses."""
        sf = self.info["salesforce"]
        env = {
            "SF_INSTANCE_URL": self.sf_instance_url,
            "SF_ACCESS_TOKEN": self.access_token,
            "SF_CA_BUNDLE": self.ca_bundle,
            "SF_LOGIN_URL": sf.get("login_url", self.sf_instance_url),
        }
        users = sf.get("users") or []
        if users:
            env["SF_USERNAME"] = users[0].get("username", "")
            env["SF_PASSWORD"] = users[0].get("password", "")
            env["SF_SECURITY_TOKEN"] = users[0].get("security_token", "")
        apps = sf.get("connected_apps") or []
        if apps:
            env["SF_CONSUMER_KEY"] = apps[0].get("consumer_key", "")
            env["SF_CONSUMER_SECRET"] = apps[0].get("consumer_secret", "")
        for name, creds in self.info["dotdigital"]["accounts"].items():
            prefix = "DD_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper() + "_"
            env[prefix + "ENDPOINT"] = self.dd_endpoint
            env[prefix + "USERNAME"] = creds["username"]
            env[prefix + "PASSWORD"] = creds["password"]
        return env

    def stop(self) -> None:
        for s in self._sessions:
            s.close()
        self._servers.stop()


def _load(seed: dict | str | Path | None) -> dict[str, Any]:
    from leadsync.emulator import seed as seed_mod

    if seed is None:
        return seed_mod.load_seed(None)
    if isinstance(seed, dict):
        return seed_mod.validate_seed(seed)
    if isinstance(seed, str) and "\n" in seed:
        return seed_mod.parse_seed(seed, "<seed text>")  # inline YAML
    return seed_mod.load_seed(seed)


@pytest.fixture
def emulator_factory() -> Iterator[Callable[..., RunningEmulator]]:
    """Start emulators: factory(seed=None|dict|path|YAML text, latency_ms=0) -> RunningEmulator."""
    started: list[RunningEmulator] = []

    def factory(seed: dict | str | Path | None = None, latency_ms: int = 0) -> RunningEmulator:
        from leadsync.emulator.server import start

        servers = start(_load(seed), latency_ms=latency_ms)
        emu = RunningEmulator(servers)
        started.append(emu)
        return emu

    yield factory
    for emu in reversed(started):
        emu.stop()


@pytest.fixture
def emulator(emulator_factory: Callable[..., RunningEmulator]) -> RunningEmulator:
    """Both emulators with the built-in demo data set."""
    return emulator_factory()
