"""`make demo`: the whole job on a fresh machine, against the local emulators.

It drives the real `leadsync` command exactly as a user would (validate, plan, apply, then people
join a Salesforce Campaign and new signups arrive in Dotdigital, then sync twice), so the demo
can never show something the CLI cannot do. Both directions show: the Campaign fills its
address book (Salesforce -> Dotdigital), and the signups become Leads (Dotdigital ->
Salesforce). Nothing here imports the emulator: it runs `leadsync emulator` as a process.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import requests

ROOT = Path.cwd()
WORK = ROOT / ".demo"
EXAMPLE = ROOT / "leadsync.yaml.example"

# People who sign up after the integration is applied: the sync turns them into Leads.
SIGNUPS = [
    {
        "email": "margaret@example.com",
        "FIRSTNAME": "Margaret",
        "LASTNAME": "Hamilton",
        "COMPANY": "MIT Instrumentation Lab",
        "REGION": "AMER",
    },
    {
        "email": "sean.o'brien@example.com",
        "FIRSTNAME": "Seán",
        "LASTNAME": "O'Brien",
        "COMPANY": "Ó Briain & Sons",
        "REGION": "EMEA",
    },
    {
        "email": "dorothy@example.com",
        "FIRSTNAME": "Dorothy",
        "LASTNAME": "Vaughan",
        "COMPANY": "NASA Langley",
        "REGION": "AMER",
    },
    # No Company: skipped, named in the report; created by a later sync once it is filled in.
    {
        "email": "no.company@example.com",
        "FIRSTNAME": "Nadia",
        "LASTNAME": "Nocompany",
        "REGION": "APAC",
    },
    # Already a Salesforce Contact (old@example.com, other letter case): no Lead is created (never
    # a duplicate), and that Contact joins the book's campaign.
    {
        "email": "OLD@example.com",
        "FIRSTNAME": "Olde",
        "LASTNAME": "Existing",
        "COMPANY": "Legacy Ltd",
        "REGION": "EMEA",
    },
    # Region__c is a restricted picklist: this one record fails, the rest of the run goes on.
    {
        "email": "hedy@example.com",
        "FIRSTNAME": "Hedy",
        "LASTNAME": "Lamarr",
        "COMPANY": "Frequency Hopping Inc",
        "REGION": "LATAM",
    },
]


def banner(text: str) -> None:
    print(f"\n\033[1m== {text}\033[0m" if sys.stdout.isatty() else f"\n== {text}", flush=True)


def leadsync(*args: str, env: dict[str, str], ok: tuple[int, ...] = (0,)) -> int:
    cmd = [sys.executable, "-m", "leadsync.cli", *args]
    print("$ leadsync " + " ".join(args), flush=True)
    code = subprocess.run(cmd, env=env, cwd=WORK, check=False).returncode
    if code not in ok:
        raise SystemExit(f"demo: `leadsync {' '.join(args)}` exited {code}")
    return code


def start_emulator() -> tuple[subprocess.Popen[str], dict]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "leadsync.cli",
            "emulator",
            "--ready-file",
            str(WORK / "emulator.json"),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=WORK,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise SystemExit("demo: the emulator did not start")
    return proc, json.loads(line)


def env_for(info: dict) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "SF_INSTANCE_URL": info["salesforce"]["instance_url"],
            "SF_ACCESS_TOKEN": info["salesforce"]["access_token"],
            "SF_CA_BUNDLE": info["salesforce"]["ca_bundle"],
        }
    )
    for name, creds in info["dotdigital"]["accounts"].items():
        prefix = f"DD_{name.upper()}_"
        env[prefix + "ENDPOINT"] = info["dotdigital"]["endpoint"]
        env[prefix + "USERNAME"] = creds["username"]
        env[prefix + "PASSWORD"] = creds["password"]
    return env


def add_signups(info: dict, book_name: str) -> None:
    """New people arrive in Dotdigital, as a signup form would add them (v2 API)."""
    dd = info["dotdigital"]
    creds = dd["accounts"]["uk"]
    auth = (creds["username"], creds["password"])
    books = requests.get(f"{dd['endpoint']}/v2/address-books", auth=auth, timeout=10).json()
    book_id = next(b["id"] for b in books if b["name"] == book_name)
    for person in SIGNUPS:
        fields = [{"key": k, "value": v} for k, v in person.items() if k != "email"]
        body = {
            "email": person["email"],
            "optInType": "Single",
            "emailType": "Html",
            "dataFields": fields,
        }
        r = requests.post(
            f"{dd['endpoint']}/v2/address-books/{book_id}/contacts",
            json=body,
            auth=auth,
            timeout=10,
        )
        r.raise_for_status()
        print(f"  + {person['email']} joined {book_name!r}")


# People a marketer adds to the Salesforce Campaign that fills the "Newsletter" book.
CAMPAIGN_MEMBERS = [("Contact", "barbara@example.com"), ("Lead", "grace@example.com")]
NEWSLETTER = ("Product Newsletter", "Newsletter")  # Campaign -> address book (the push)


def join_campaign(info: dict, campaign: str) -> None:
    """Add people to a Salesforce Campaign through the REST API, as a marketer would in Salesforce."""
    sf = info["salesforce"]
    headers = {"Authorization": f"Bearer {sf['access_token']}"}
    campaign_id = salesforce_query(info, f"SELECT Id FROM Campaign WHERE Name = '{campaign}'")[0]
    for sobject, email in CAMPAIGN_MEMBERS:
        person = salesforce_query(info, f"SELECT Id FROM {sobject} WHERE Email = '{email}'")[0]
        r = requests.post(
            f"{sf['instance_url']}/services/data/v61.0/sobjects/CampaignMember",
            json={"CampaignId": campaign_id["Id"], f"{sobject}Id": person["Id"], "Status": "Sent"},
            headers=headers,
            verify=sf["ca_bundle"],
            timeout=10,
        )
        r.raise_for_status()
        print(f"  + {email} ({sobject}) joined the Salesforce Campaign {campaign!r}")


def show_book(info: dict, book_name: str) -> None:
    """Who is in a Dotdigital address book now, with their datafields, read back from Dotdigital."""
    dd = info["dotdigital"]
    creds = dd["accounts"]["uk"]
    auth = (creds["username"], creds["password"])
    books = requests.get(f"{dd['endpoint']}/v2/address-books", auth=auth, timeout=10).json()
    book_id = next(b["id"] for b in books if b["name"] == book_name)
    members = requests.get(
        f"{dd['endpoint']}/v2/address-books/{book_id}/contacts",
        params={"withFullData": "true"},
        auth=auth,
        timeout=10,
    ).json()
    print(f"  Address book {book_name!r} has {len(members)} members:")
    for m in members:
        fields = {d["key"]: d["value"] for d in m.get("dataFields") or [] if d["value"]}
        names = " ".join(str(fields.get(k, "")) for k in ("FIRSTNAME", "LASTNAME")).strip()
        print(f"    {m['email']:<28} {names}")


def salesforce_query(info: dict, soql: str) -> list[dict]:
    """One SOQL query through the Salesforce REST API (as any client would send it)."""
    sf = info["salesforce"]
    r = requests.get(
        f"{sf['instance_url']}/services/data/v61.0/query",
        params={"q": soql},
        headers={"Authorization": f"Bearer {sf['access_token']}"},
        verify=sf["ca_bundle"],
        timeout=10,
    )
    r.raise_for_status()
    return r.json()["records"]


def show_campaign(info: dict, name: str) -> None:
    """Who is in the campaign now, read back from Salesforce: new Leads and existing people."""
    campaign = salesforce_query(info, f"SELECT Id FROM Campaign WHERE Name = '{name}'")[0]["Id"]
    members = salesforce_query(
        info,
        "SELECT LeadId, ContactId, Status FROM CampaignMember "
        f"WHERE CampaignId = '{campaign}' ORDER BY Id",
    )
    emails: dict[str, str] = {}
    for sobject in ("Lead", "Contact"):
        for row in salesforce_query(info, f"SELECT Id, Email FROM {sobject}"):
            emails[row["Id"]] = row["Email"]
    print(f"  Campaign {name!r} has {len(members)} members:")
    for m in members:
        if m["ContactId"]:
            who = f"Contact {m['ContactId']}  (already in Salesforce: no Lead created)"
        else:
            who = f"Lead {m['LeadId']}"
        email = emails.get(m["ContactId"] or m["LeadId"], "?")
        print(f"    {email:<28} {m['Status']:<6} {who}")


def main() -> None:
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir()
    shutil.copy(EXAMPLE, WORK / "leadsync.yaml")
    proc, info = start_emulator()
    try:
        env = env_for(info)
        banner("1. validate leadsync.yaml (offline)")
        leadsync("validate", "leadsync.yaml", env=env)
        banner("2. plan: what apply would change")
        leadsync("plan", "-c", "leadsync.yaml", env=env)
        banner("3. apply")
        leadsync("apply", "-c", "leadsync.yaml", "--auto-approve", env=env)
        banner(f"4. two people join the Salesforce Campaign {NEWSLETTER[0]!r}")
        join_campaign(info, NEWSLETTER[0])
        banner("5. six people sign up in Dotdigital")
        add_signups(info, "Webinar signups")
        banner(
            "6. sync: 1. the Campaign fills its book (push), 2. new members become Leads "
            "(exit 4 = some were skipped or failed: see report)"
        )
        leadsync("sync", "-c", "leadsync.yaml", env=env, ok=(0, 4))
        banner("7. sync again: nothing new, nothing duplicated")
        leadsync("sync", "-c", "leadsync.yaml", env=env, ok=(0, 4))
        banner("8. status")
        leadsync("status", "-c", "leadsync.yaml", env=env)
        banner("9. what was pushed, what was not created, and why")
        for state in ("pushed", "skipped", "failed", "excluded"):
            leadsync("records", "-c", "leadsync.yaml", "--state", state, env=env)
        banner(f"10. the {NEWSLETTER[1]!r} book in Dotdigital, filled from the Campaign")
        show_book(info, NEWSLETTER[1])
        banner("11. the campaign in Salesforce: new Leads, and the existing Contact who signed up")
        show_campaign(info, "Spring Webinar 2026")
        banner("12. the sync audit as one HTML file (what the scheduled workflow uploads)")
        leadsync("report", "-c", "leadsync.yaml", "--html", "sync-report.html", env=env)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    print("\ndemo finished: state in .demo/.leadsync/state.db")
    print(ui_hint())


def ui_hint() -> str:
    """The last lines of the demo: how to look at what it did in the browser. `--state` reads
    the demo's state without leadsync.yaml, whose credentials ended with the emulators."""
    exe = Path(sys.executable).with_name("leadsync")
    command = "leadsync" if shutil.which("leadsync") == str(exe) else os.path.relpath(exe)
    state = os.path.relpath(WORK / ".leadsync" / "state.db")
    return (
        "open the sync audit in your browser (read-only; Ctrl-C stops it):\n"
        f"  {command} ui --state sqlite:{state}\n"
        "  then visit http://127.0.0.1:8765/\n"
        f"(the same as one file: {os.path.relpath(WORK / 'sync-report.html')})"
    )


if __name__ == "__main__":
    main()
