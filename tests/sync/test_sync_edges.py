"""What a new user hits in the first hour, at the sync: bad `--every`, a broken CA bundle, a login
that lands in another org, messages that name what to fix, and the README's scope made true.

Real CLI as a subprocess, real emulators, assertions on exit codes, stderr and Salesforce.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

LEADSYNC = str(Path(sys.executable).with_name("leadsync"))


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


# --- issue 10, item 10: --every outside a sane range ----------------------------------------


@pytest.mark.parametrize(
    ("every", "expected"),
    [
        ("9s", "too short; the shortest interval is 10s"),
        ("1s", "too short"),
        ("745h", "too long; the longest interval is 31 days"),
        ("99999999999h", "too long"),  # was an OverflowError traceback
        ("1" * 5000 + "s", "too long"),  # past Python's int-from-string limit
    ],
)
def test_every_outside_10s_to_31_days_is_refused_in_one_line(tmp_path, every, expected) -> None:
    proc = subprocess.run(
        [LEADSYNC, "sync", "--every", every],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    assert expected in proc.stderr and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / ".leadsync").exists()


# --- item 9: a ca_bundle that does not exist or is not PEM -----------------------------------


def test_bad_ca_bundle_stops_plan_and_sync_naming_the_path(workspace, tmp_path) -> None:
    ws = workspace()
    before = ws.state_db.read_bytes()
    not_pem = ws.root / "corp-ca.pem"
    not_pem.write_text("this is not a certificate\n")
    for bundle, why in [
        (str(ws.root / "missing-ca.pem"), "does not exist"),
        (str(not_pem), "holds no PEM CA certificate"),
    ]:
        ws.env["SF_CA_BUNDLE"] = bundle
        ws.emu.reset_log()
        for command in (["plan"], ["sync"], ["sync", "--dry-run"]):
            proc = ws.run(*command, "-c", "leadsync.yaml", check=(1,))
            lines = [line for line in proc.stderr.splitlines() if bundle in line]
            assert len(lines) == 1 and why in lines[0] and "LS030" in lines[0], proc.stderr
            assert "leadsync.yaml:" in lines[0] and "SF_CA_BUNDLE" in lines[0]
        # stopped before any call: nothing was asked of Salesforce, nothing written anywhere
        assert ws.emu.requests_log("salesforce")["requests"] == []
    assert ws.state_db.read_bytes() == before


# --- item 11: a login that answers another instance than instance_url -----------------------


def test_login_answering_another_org_is_refused_and_nothing_is_written_there(
    workspace, kit, emulator_factory, tmp_path
) -> None:
    """The config's instance is the sandbox (emulator A); its login URL is changed to
    production (emulator B), whose OAuth endpoint answers with B's instance_url, as Salesforce
    answers with the user's own org. leadsync must stop, naming both, and write nowhere."""
    ws = workspace(config=kit.config_yaml(auth=kit.PASSWORD_AUTH))  # login at A: applies fine
    production = emulator_factory(kit.BASE_SEED)
    bundle = tmp_path / "both-cas.pem"
    bundle.write_text(Path(ws.emu.ca_bundle).read_text() + Path(production.ca_bundle).read_text())
    ws.env["SF_CA_BUNDLE"] = str(bundle)
    ws.add_member("ada@example.com", kit.member("Ada", "Lovelace", "Engines"))
    ws.env["SF_LOGIN_URL"] = production.sf_instance_url
    production_leads = production.salesforce().query_all("SELECT Id FROM Lead")["totalSize"]

    for command in (["plan"], ["sync"]):
        proc = ws.run(*command, "-c", "leadsync.yaml", check=(1,))
        message = proc.stderr.strip().splitlines()[-1]
        assert message == (
            f"error: Salesforce: the login answered instance {_origin(production.sf_instance_url)}"
            f", but SF_INSTANCE_URL (salesforce.instance_url) is {_origin(ws.emu.sf_instance_url)}"
            "; refusing to work in another org: point both at the same org (instance_url, or the "
            "login's domain / login_url)"
        ), proc.stderr

    assert production.salesforce().query_all("SELECT Id FROM Lead")["totalSize"] == (
        production_leads
    )
    posts = [r for r in production.requests_log("salesforce")["requests"] if r["method"] != "GET"]
    assert [r["path"] for r in posts] == ["/services/oauth2/token"] * 2  # logins, no writes
    assert "ada@example.com" not in ws.leads()  # nor in the sandbox: the run stopped first

    ws.env["SF_LOGIN_URL"] = ws.emu.sf_instance_url  # the right login: the sync goes on
    assert ws.sync(code=(0,))["totals"]["created"] == 1
    assert "ada@example.com" in ws.leads()


# --- item 12: messages name the variable to set; no doubled full stop -----------------------


def test_expired_access_token_names_the_variable_to_set(workspace) -> None:
    ws = workspace()
    ws.emu.control("salesforce", "POST", "/__emulator/expire-token")
    proc = ws.run("sync", "-c", "leadsync.yaml", check=(1,))
    assert "set SF_ACCESS_TOKEN" in proc.stderr, proc.stderr
    assert "salesforce.auth.access_token names" not in proc.stderr


def test_refused_dotdigital_credentials_name_the_variables(workspace) -> None:
    ws = workspace()
    ws.env["DD_UK_PASSWORD"] = "wrong-password"
    proc = ws.run("plan", "-c", "leadsync.yaml", check=(1,))
    assert "check DD_UK_USERNAME and DD_UK_PASSWORD" in proc.stderr, proc.stderr
    assert "wrong-password" not in proc.stderr


def test_stopped_early_line_has_one_full_stop(workspace, kit) -> None:
    ws = workspace(config=kit.config_yaml(sync={"max_api_share": 0.5}))
    ws.add_member("share@example.com", kit.member("Share", "Budget", "Co"))
    total = ws.emu.control("salesforce", "GET", "/__emulator/limits").json()["total"]
    ws.emu.control(
        "salesforce", "POST", "/__emulator/limits", json={"used": int(total * 0.6), "total": total}
    )
    proc = ws.run("sync", "-c", "leadsync.yaml", check=(3,))
    stopped = [line for line in proc.stdout.splitlines() if "stopped early" in line]
    assert stopped and ".." not in proc.stdout and ". ." not in proc.stdout, proc.stdout


# --- item 18: the README's scope is what the sync does --------------------------------------


def test_values_flow_both_ways_after_creation_as_the_readme_says(workspace, kit) -> None:
    """README "What it syncs today": after the first sync each row's direction decides where a
    change goes, and a two-way field changed on both sides ends with Salesforce's value. If a
    later change makes any of this untrue, this test fails and the README must change with it."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    scope = readme.split("## What it syncs today", 1)[1].split("\n## ", 1)[0]
    assert "**Field updates both ways**" in scope
    assert "**Salesforce wins**" in scope
    for direction in ("salesforce-to-dotdigital", "dotdigital-to-salesforce", "two-way"):
        assert f"| `{direction}` |" in scope

    ws = workspace()
    ws.add_member("ada@example.com", kit.member("Ada", "Lovelace", "Engines"))
    ws.sync(code=(0,))
    ada = ws.leads()["ada@example.com"]
    assert (ada["FirstName"], ada["Company"]) == ("Ada", "Engines")

    # Salesforce side changes: PostalCode (salesforce-to-dotdigital), Company (two-way)
    ws.emu.salesforce().Lead.update(ada["Id"], {"PostalCode": "N1 9GU", "Company": "SF Co"})
    # Dotdigital side changes: FIRSTNAME (two-way), COMPANY (two-way: changed on both sides)
    ws.add_member("ada@example.com", kit.member("Adeline", "Lovelace", "DD Co"))
    report = ws.sync(code=(0,))
    assert report["totals"]["conflicts"] == 1

    after = ws.leads()["ada@example.com"]
    assert (after["FirstName"], after["Company"]) == ("Adeline", "SF Co")
    s = ws.emu.dd_session("uk")
    contact = s.get(f"{ws.emu.dd_endpoint}/v2/contacts/ada@example.com").json()
    fields = {f["key"]: f["value"] for f in contact["dataFields"]}
    assert (fields["POSTCODE"], fields["COMPANY"], fields["FIRSTNAME"]) == (
        "N1 9GU",
        "SF Co",
        "Adeline",
    )
