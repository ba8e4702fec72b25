"""Shared fixtures: the local emulators, started in-process on real sockets per test.

`emulator_factory(seed=None, latency_ms=0)` starts Dotdigital (HTTP) and Salesforce (HTTPS) on
free ports and returns a RunningEmulator; everything it started is stopped at test teardown.
`emulator` is the same with the built-in demo data.

PostgreSQL: `pg_server` starts ONE throwaway server per pytest session (so one per xdist worker)
with tests/pg_server.py and stops it at the end; `pg_dsn` is its DSN; `pg_database` gives each
test a fresh database of its own on that server (CREATE DATABASE: milliseconds, not a new
server). Missing PostgreSQL binaries FAIL the tests that need them, with install instructions:
skipping would let CI go green without ever testing the backend teams rely on.

Shared helper files: tests/ is no package under --import-mode=importlib, so a test module cannot
import another file of the suite. `load_module` is the one loader; the fixtures `kit` (the
end-to-end helpers of tests/sync/conftest.py: Workspace, config_yaml, member, kill_mid_sync...),
`pg_server_module` (tests/pg_server.py) and `pgbouncer_module` (tests/pgbouncer.py) hand those
files to any test directory. `session_emulator_factory` is `emulator_factory` for session-scoped
fixtures.

Nothing here imports the emulator (or psycopg) at collection time: a broken service module fails
the tests that use it, not the whole suite.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import settings

# Property tests are reproducible in CI (same examples every run: a red build is a real bug, not
# luck) and never fail on a deadline because a loaded 2-core runner was slow.
settings.register_profile("leadsync", derandomize=True, deadline=None, print_blob=True)
settings.load_profile("leadsync")

TESTS = Path(__file__).resolve().parent

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
        """{"requests": [{"method","path","status","query"}], "counts": {"METHOD pattern": n},
        "counts_by_path": {"METHOD path": n}} (pattern: the route, e.g. /v2/address-books/{book_id})."""
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


def _emulators() -> Iterator[Callable[..., RunningEmulator]]:
    """factory(seed=None|dict|path|YAML text, latency_ms=0) -> RunningEmulator; everything it
    started is stopped when the generator is closed."""
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
def emulator_factory() -> Iterator[Callable[..., RunningEmulator]]:
    """Start emulators: factory(seed=None|dict|path|YAML text, latency_ms=0) -> RunningEmulator."""
    yield from _emulators()


@pytest.fixture(scope="session")
def session_emulator_factory() -> Iterator[Callable[..., RunningEmulator]]:
    """`emulator_factory` for session-scoped fixtures: stopped at the end of the session."""
    yield from _emulators()


@pytest.fixture
def emulator(emulator_factory: Callable[..., RunningEmulator]) -> RunningEmulator:
    """Both emulators with the built-in demo data set."""
    return emulator_factory()


# -- PostgreSQL: one throwaway server per worker, a fresh database per test ---------------------


def load_module(name: str, path: Path) -> Any:
    """A helper file of the suite as a module, executed once per process under `name`."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None, path
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def load_pg_server() -> Any:
    return load_module("pg_server", TESTS / "pg_server.py")


@pytest.fixture(scope="session")
def pg_server_module() -> Any:
    """tests/pg_server.py: PgServer, PgUnavailable, find_bindir..."""
    return load_pg_server()


@pytest.fixture(scope="session")
def pgbouncer_module() -> Any:
    """tests/pgbouncer.py: PgBouncer, PgBouncerUnavailable."""
    return load_module("leadsync_test_pgbouncer", TESTS / "pgbouncer.py")


@pytest.fixture(scope="session")
def kit() -> Any:
    """The end-to-end helpers of tests/sync/conftest.py (its `Kit`), for every test directory."""
    return load_module("leadsync_sync_e2e_kit", TESTS / "sync" / "conftest.py").Kit


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    """The worker's throwaway PostgreSQL server (a pg_server.PgServer); stopped and removed at
    the end of the session (servers of killed sessions are reaped by the next start)."""
    pg = load_pg_server()
    try:
        server_cm = pg.PgServer.start()
        server = server_cm.__enter__()
    except pg.PgUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server_cm.__exit__(None, None, None)


@pytest.fixture(scope="session")
def pg_dsn(pg_server: Any) -> str:
    """DSN of the worker's server (database `postgres`, superuser, trust auth)."""
    return pg_server.dsn


@dataclass
class PgDatabase:
    """A database of one test's own on the worker's server, and the `state:` block naming it."""

    dsn: str
    name: str
    schema: str = "leadsync"
    env_var: str = "LEADSYNC_STATE_DSN"

    def state_yaml(self) -> str:
        """The config's `state:` block; the DSN itself comes from the env (see `env()`)."""
        return f"state:\n  backend: postgres\n  dsn: ${{{self.env_var}}}\n  schema: {self.schema}\n"

    def env(self) -> dict[str, str]:
        return {self.env_var: self.dsn}

    def rows(self, query: str, params: Any = ()) -> list[tuple]:
        """Run one query in the state schema (for assertions on what leadsync stored)."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
            return conn.execute(query, params or None).fetchall()


@pytest.fixture
def pg_database(pg_server: Any) -> Iterator[PgDatabase]:
    """A fresh, empty database for this test; dropped (sessions and all) at teardown."""
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import make_conninfo

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server.dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield PgDatabase(dsn=make_conninfo(pg_server.dsn, dbname=name), name=name)
    with psycopg.connect(pg_server.dsn, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


# -- a connected app's JWT signing key and certificate -------------------------------------------
@dataclass(frozen=True)
class KeyPair:
    """A connected app's signing key (PEM, as `openssl req -x509 -newkey rsa` makes it) and its
    self-signed certificate (what an admin uploads to the app)."""

    private_pem: str
    certificate_pem: str


def make_key_pair(common_name: str = "leadsync-test") -> KeyPair:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return KeyPair(private, cert.public_bytes(serialization.Encoding.PEM).decode())


@pytest.fixture(scope="session")
def app_keys() -> KeyPair:
    return make_key_pair("connected-app")


@pytest.fixture(scope="session")
def other_keys() -> KeyPair:
    return make_key_pair("someone-else")
