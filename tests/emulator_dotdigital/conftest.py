"""Run the Dotdigital emulator app on 127.0.0.1 (real HTTP, a thread per server) for these tests.

Self-contained on purpose: the shared fixture in tests/conftest.py starts both emulators; these
tests only need the Dotdigital app, built straight from a seed section.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Any

import jsonschema
import pytest
import requests
from werkzeug.serving import WSGIRequestHandler, make_server

from leadsync.emulator.dotdigital.models import DotdigitalBackend
from leadsync.emulator.dotdigital.urls import make_app

UK = ("apiuser-uk@apiconnector.com", "demo-password")
US = ("apiuser-us@apiconnector.com", "us-password")


def base_seed() -> dict[str, Any]:
    """Two accounts: uk (with one book holding Ada) and us (one empty book)."""
    return {
        "accounts": [
            {
                "name": "uk",
                "username": UK[0],
                "password": UK[1],
                "datafields": [{"name": "COMPANY", "type": "String"}],
                "address_books": [
                    {
                        "name": "Webinar signups",
                        "contacts": [
                            {
                                "email": "ada@example.com",
                                "datafields": {
                                    "FIRSTNAME": "Ada",
                                    "LASTNAME": "Lovelace",
                                    "COMPANY": "Analytical Engines",
                                },
                            }
                        ],
                    }
                ],
            },
            {
                "name": "us",
                "username": US[0],
                "password": US[1],
                "address_books": [{"name": "US list"}],
            },
        ]
    }


@functools.cache
def section_validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(section_schema())


def section_schema() -> dict[str, Any]:
    text = (
        resources.files("leadsync.emulator.dotdigital")
        .joinpath("seed.schema.json")
        .read_text(encoding="utf-8")
    )
    return json.loads(text)


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


@dataclass
class DD:
    """A running Dotdigital emulator: base URL, backend, and a requests session per account."""

    url: str
    backend: DotdigitalBackend
    uk: tuple[str, str] = UK
    us: tuple[str, str] = US

    def session(self, auth: tuple[str, str] | None = UK) -> requests.Session:
        s = requests.Session()
        s.trust_env = False
        s.auth = auth
        return s

    def get(self, path: str, auth: tuple[str, str] | None = UK, **kw: Any) -> requests.Response:
        return self.session(auth).get(self.url + path, timeout=30, **kw)

    def post(self, path: str, auth: tuple[str, str] | None = UK, **kw: Any) -> requests.Response:
        return self.session(auth).post(self.url + path, timeout=30, **kw)

    def put(self, path: str, auth: tuple[str, str] | None = UK, **kw: Any) -> requests.Response:
        return self.session(auth).put(self.url + path, timeout=30, **kw)

    def patch(self, path: str, auth: tuple[str, str] | None = UK, **kw: Any) -> requests.Response:
        return self.session(auth).patch(self.url + path, timeout=30, **kw)

    def delete(self, path: str, auth: tuple[str, str] | None = UK, **kw: Any) -> requests.Response:
        return self.session(auth).delete(self.url + path, timeout=30, **kw)


@pytest.fixture
def dd_factory() -> Iterator[Callable[[dict[str, Any] | None], DD]]:
    servers = []

    def start(seed: dict[str, Any] | None = None) -> DD:
        seed = base_seed() if seed is None else seed
        section_validator().validate(seed)
        backend = DotdigitalBackend.from_seed(seed)
        server = make_server(
            "127.0.0.1", 0, make_app(backend), threaded=True, request_handler=_QuietHandler
        )
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        thread.start()
        servers.append((server, thread))
        return DD(f"http://127.0.0.1:{server.server_port}", backend)

    yield start
    for server, thread in servers:
        server.shutdown()
        thread.join()
        server.server_close()


@pytest.fixture
def dd(dd_factory: Callable[[dict[str, Any] | None], DD]) -> DD:
    return dd_factory(None)


@pytest.fixture
def dd_seed() -> dict[str, Any]:
    """A fresh copy of the two-account seed, for tests that extend it."""
    return base_seed()
