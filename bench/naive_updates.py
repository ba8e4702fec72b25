"""The naive per-record updater: what a hand-written two-way field sync typically does.

It reads what changed in bulk (contacts of the book modified since `--since`, 5,000 a page;
Leads whose SystemModstamp moved since then, 2,000 a page) but writes one record per request:
per changed contact one SOQL lookup of its Lead by email and one REST PATCH of Company; per
changed Lead one v3 PATCH of the contact's FIRSTNAME. No merge base: whichever side it reads
last wins. It shares no code with leadsync on purpose (the yardstick for batching).
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

import requests
from simple_salesforce import format_soql

from naive_common import dotdigital, salesforce


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--account", required=True)
    ap.add_argument("--book-id", type=int, required=True)
    ap.add_argument("--since", required=True, help="ISO date-time (Dotdigital server time)")
    args = ap.parse_args()
    dd, auth = dotdigital(args.account)
    sf = salesforce()
    since = datetime.fromisoformat(args.since.replace("Z", "+00:00"))
    stamp = since.strftime("%Y-%m-%dT%H:%M:%SZ")
    contacts = []
    params = {
        "~listId": args.book_id,
        "~modified": f"gte::{stamp}",
        "data-fields": "FIRSTNAME|COMPANY",
        "limit": 5000,
    }
    while True:
        body = requests.get(f"{dd}/contacts/v3", params=params, auth=auth, timeout=120).json()
        contacts += body.get("_items") or []
        nxt = (body.get("_links") or {}).get("next")
        if not body.get("_items") or not nxt:
            break
        params = {**params, "marker": nxt["marker"]}
    leads = sf.query_all(f"SELECT Id, Email, FirstName FROM Lead WHERE SystemModstamp >= {stamp}")[
        "records"
    ]
    for contact in contacts:
        email = contact["identifiers"]["email"]
        found = sf.query(format_soql("SELECT Id, Company FROM Lead WHERE Email = {}", email))
        for lead in found["records"]:
            company = contact["dataFields"].get("COMPANY")
            if lead["Company"] != company:
                sf.Lead.update(lead["Id"], {"Company": company})
    for lead in leads:
        r = requests.patch(
            f"{dd}/contacts/v3/email/{lead['Email']}",
            json={"dataFields": {"FIRSTNAME": lead["FirstName"]}},
            auth=auth,
            timeout=120,
        )
        r.raise_for_status()
    print(len(contacts), len(leads))
    return 0


if __name__ == "__main__":
    sys.exit(main())
