"""Start-up of the Salesforce client (issue 17): simple-salesforce imports PyJWT with
`cryptography` and its Metadata API with zeep and lxml as soon as it is imported; a sync
needs neither unless it logs in with a JWT, so leadsync defers both (leadsync.deferred).
Each check runs in a fresh interpreter, as `leadsync sync` starts."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("jwt", "cryptography", "zeep", "lxml")

PROBE = """
import json, sys, types
def loaded():
    return sorted(m for m in {heavy!r} if type(sys.modules.get(m)) is types.ModuleType)
import leadsync.salesforce.client, leadsync.sync.cli
out = {{"after_import": loaded()}}
import requests
from simple_salesforce import Salesforce
sf = Salesforce(instance_url="https://acme.my.salesforce.com", session_id="t", session=requests.Session())
mdapi = sf.mdapi
out["mdapi"] = type(mdapi).__module__ + "." + type(mdapi).__name__
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
token = jwt.encode({{"sub": "u"}}, key, algorithm="RS256")
out["jwt"] = token.count(".")
out["after_use"] = loaded()
print(json.dumps(out))
"""


def test_sync_imports_neither_jwt_nor_the_metadata_api_until_used() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["after_import"] == []
    # Used, they are the real thing: the Metadata API client, a signed RS256 JWT.
    assert out["mdapi"] == "simple_salesforce.metadata.SfdcMetadataApi"
    assert out["jwt"] == 2
    assert out["after_use"] == sorted(HEAVY)


RETRY_PROBE = """
import json, sys
import leadsync.cli, leadsync.salesforce.client, leadsync.dotdigital.client, leadsync.sync.cli
out = {"after_import": "tenacity" in sys.modules}
from leadsync.retry import no_wait
out["answer"] = no_wait().run(lambda attempt: attempt)
out["after_use"] = "tenacity" in sys.modules
print(json.dumps(out))
"""


def test_the_retry_library_is_imported_on_the_first_call_only() -> None:
    """`validate` (and a sync until its first request) never loads tenacity."""
    proc = subprocess.run(
        [sys.executable, "-c", RETRY_PROBE], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"after_import": False, "answer": 1, "after_use": True}
