"""The shared fixtures in tests/conftest.py, as other areas' tests will use them."""

from __future__ import annotations

from typing import Any

import pytest
import requests


def test_emu_fixture_info_env_and_real_clients(emulator: Any) -> None:
    env = emulator.env()
    assert env["SF_INSTANCE_URL"] == emulator.sf_instance_url
    assert env["SF_ACCESS_TOKEN"] == emulator.access_token
    assert env["SF_CA_BUNDLE"] == emulator.ca_bundle
    assert env["DD_UK_ENDPOINT"] == emulator.dd_endpoint
    assert (env["DD_UK_USERNAME"], env["DD_UK_PASSWORD"]) == emulator.dd_auth("uk")
    assert env["SF_USERNAME"] == "admin@leadsync.demo"

    # Unmodified simple-salesforce over verified TLS.
    sf = emulator.salesforce()
    assert sf.query("SELECT Id, Email FROM Lead")["totalSize"] == 1
    assert any(f["name"] == "Region__c" for f in sf.Lead.describe()["fields"])

    r = requests.get(
        emulator.dd_endpoint + "/v2/address-books", auth=emulator.dd_auth("uk"), timeout=10
    )
    names = {b["name"] for b in r.json()}
    assert names == {"Webinar signups", "Newsletter"}


def test_emu_fixture_control_helpers(emulator: Any) -> None:
    emulator.reset_log()
    sf = emulator.salesforce()
    fault = emulator.inject_fault(
        "salesforce", method="GET", path_regex="/query", status=503, times=1
    )
    assert fault["remaining"] == 1
    with pytest.raises(Exception) as info:
        sf.query("SELECT Id FROM Lead")
    assert "SERVER_UNAVAILABLE" in str(info.value)
    assert sf.query("SELECT Id FROM Lead")["totalSize"] == 1
    log = emulator.requests_log("sf")
    assert [e["status"] for e in log["requests"]] == [503, 200]
    emulator.reset_log("salesforce")
    assert emulator.requests_log("salesforce")["counts"] == {}
    # Service-specific control route through the generic helper.
    r = emulator.control("salesforce", "POST", "/__emulator/expire-token")
    assert r.status_code < 300, r.text


def test_emu_factory_with_inline_seed_and_latency(emulator_factory: Any) -> None:
    emu = emulator_factory(
        {
            "dotdigital": {
                "accounts": [
                    {"name": "us-east", "username": "us@apiconnector.com", "password": "pw"}
                ]
            },
            "salesforce": {},
        },
        latency_ms=3,
    )
    env = emu.env()
    assert env["DD_US_EAST_USERNAME"] == "us@apiconnector.com"
    r = requests.get(emu.dd_endpoint + "/v2/account-info", auth=emu.dd_auth("us-east"), timeout=10)
    assert r.status_code == 200
    assert r.headers["X-Emulator-Delay-Ms"] == "3"
    # Two emulators side by side in one test are independent.
    other = emulator_factory()
    assert other.dd_endpoint != emu.dd_endpoint
    assert other.ca_bundle != emu.ca_bundle
