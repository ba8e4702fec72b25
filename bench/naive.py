"""The naive baseline: what a typical hand-written integration does, one member at a time.

Pages through the book's new members (v2, 1,000 a page), then for each member: one SOQL lookup
by email, one REST create of the Lead, one REST create of the CampaignMember. It shares no code
with leadsync on purpose; it is the yardstick leadsync's batching is measured against.
"""

from __future__ import annotations

import argparse
import sys

import requests
from simple_salesforce import format_soql

from naive_common import dotdigital, salesforce


def fields_of(contact: dict) -> dict[str, object]:
    return {f["key"]: f["value"] for f in contact.get("dataFields") or []}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--account", required=True)
    ap.add_argument("--book-id", type=int, required=True)
    ap.add_argument("--since", required=True, help="ISO date-time: members added since")
    ap.add_argument("--campaign-id", required=True)
    ap.add_argument("--limit", type=int, default=0, help="stop after this many members")
    args = ap.parse_args()

    dd, auth = dotdigital(args.account)
    sf = salesforce()

    done = 0
    skip = 0
    while True:
        page = requests.get(
            f"{dd}/v2/address-books/{args.book_id}/contacts/modified-since/{args.since}",
            params={"withFullData": "true", "select": 1000, "skip": skip},
            auth=auth,
            timeout=60,
        )
        page.raise_for_status()
        members = page.json()
        if not members:
            break
        for contact in members:
            email = contact["email"]
            found = sf.query(format_soql("SELECT Id FROM Lead WHERE Email = {}", email))
            if found["totalSize"]:
                continue
            values = fields_of(contact)
            lead = sf.Lead.create(
                {
                    "Email": email,
                    "FirstName": values.get("FIRSTNAME"),
                    "LastName": values.get("LASTNAME"),
                    "Company": values.get("COMPANY"),
                    "Status": "New",
                }
            )
            sf.CampaignMember.create(
                {"CampaignId": args.campaign_id, "LeadId": lead["id"], "Status": "Sent"}
            )
            done += 1
            if args.limit and done >= args.limit:
                print(done)
                return 0
        skip += len(members)
    print(done)
    return 0


if __name__ == "__main__":
    sys.exit(main())
