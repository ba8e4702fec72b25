"""A real HTTPS server per test around the Salesforce emulator app, and clients for it.

The server runs in a thread on 127.0.0.1 port 0 with a certificate from a throwaway trustme CA;
clients are unmodified simple-salesforce over a requests.Session that trusts only that CA (and
ignores REQUESTS_CA_BUNDLE, see reference/salesforce.md 1.2).
"""

from __future__ import annotations

import copy
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import requests
import requests.adapters
import trustme
from simple_salesforce import Salesforce
from werkzeug.serving import make_server

from leadsync.emulator.salesforce import SalesforceBackend, make_app


@dataclass
class SfOrg:
    backend: SalesforceBackend
    instance_url: str
    ca_path: str

    @property
    def token(self) -> str:
        return self.backend.access_token

    def session(self) -> requests.Session:
        s = requests.Session()
        s.trust_env = False
        s.verify = self.ca_path
        return s

    def sf(self, token: str | None = None, version: str = "59.0") -> Salesforce:
        return Salesforce(
            instance_url=self.instance_url,
            session_id=token or self.token,
            session=self.session(),
            version=version,
        )

    def control(self, path: str, json: dict | None = None) -> requests.Response:
        return self.session().post(f"{self.instance_url}/__emulator/{path}", json=json or {})

    def login_session(self) -> requests.Session:
        """A session whose transport carries https://{login,test,acme.my}.salesforce.com to
        this org, so unmodified simple-salesforce logins (hard-coded to *.salesforce.com) reach
        the emulator; the instance_url each login answers then points at the emulator itself."""
        s = self.session()
        for host in LOGIN_HOSTS:
            s.mount(f"https://{host}", _ToOrg(f"https://{host}", self.instance_url))
        return s


LOGIN_HOSTS = ("login.salesforce.com", "test.salesforce.com", "acme.my.salesforce.com")


class _ToOrg(requests.adapters.HTTPAdapter):
    """Transport only: the request goes to the emulator instead of the named host."""

    def __init__(self, host: str, target: str) -> None:
        super().__init__()
        self.host, self.target = host, target

    def send(self, request: requests.PreparedRequest, **kwargs):  # type: ignore[override]
        request.url = self.target + (request.url or "")[len(self.host) :]
        return super().send(request, **kwargs)


@pytest.fixture(scope="session")
def sf_ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, str]:
    ca = trustme.CA()
    path = tmp_path_factory.mktemp("sf-ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server_ctx)
    return server_ctx, str(path)


@pytest.fixture
def sf_factory(sf_ca: tuple[ssl.SSLContext, str]) -> Iterator[Callable[..., SfOrg]]:
    ssl_ctx, ca_path = sf_ca
    servers = []

    def start(seed: dict | None = None) -> SfOrg:
        backend = SalesforceBackend.from_seed(seed or {})
        server = make_server("127.0.0.1", 0, make_app(backend), threaded=True, ssl_context=ssl_ctx)
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        thread.start()
        servers.append((server, thread))
        return SfOrg(backend, f"https://127.0.0.1:{server.server_port}", ca_path)

    yield start
    for server, thread in servers:
        server.shutdown()
        thread.join()


ISSUE_SEED = {
    "lead_statuses": [
        "New",
        "Working",
        "Nurturing",
        "Closed - Converted",
        "Closed - Not Converted",
    ],
    "lead_fields": [
        {
            "name": "Region__c",
            "type": "picklist",
            "values": ["EMEA", "AMER", "APAC"],
            "required": True,
            "restricted": True,
        }
    ],
    "duplicate_rule_on_lead_email": False,
    "daily_api_limit": 100000,
    "records": {
        "Campaign": [{"Name": "Spring Webinar 2026"}],
        "Lead": [
            {
                "FirstName": "Grace",
                "LastName": "Hopper",
                "Company": "Navy",
                "Email": "grace@example.com",
            }
        ],
        "Contact": [{"LastName": "Existing", "Email": "old@example.com"}],
    },
}


@pytest.fixture
def org(sf_factory: Callable[..., SfOrg]) -> SfOrg:
    """The issue-2 example seed, as written."""
    return sf_factory(ISSUE_SEED)


@pytest.fixture
def issue_seed() -> dict:
    return copy.deepcopy(ISSUE_SEED)
