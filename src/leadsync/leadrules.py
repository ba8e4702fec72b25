"""Rules about Salesforce Leads that config, reconcile and sync all apply: one home each.

Kept apart from the clients (which carry no domain rule) and from any one package, so that
`validate`, `plan` and `sync` can never disagree about them.
"""

from __future__ import annotations

# Every Lead leadsync creates needs these from Dotdigital (README, "What it does"; validate
# refuses a create_leads account that does not map them towards Salesforce: LS102/LS103).
REQUIRED_LEAD_FIELDS: tuple[str, ...] = ("FirstName", "LastName", "Company")

# Salesforce refuses a Lead without these even where describe reports them nillable (Company is
# nillable in recent API versions); plan counts them as org-required whatever describe says.
SALESFORCE_REQUIRED: tuple[str, ...] = ("LastName", "Company")

# Lead fields leadsync sets itself (the email it matched by, the Lead Status `New`): an org that
# requires them needs no mapping row, and the mapping never writes them.
SET_BY_LEADSYNC: frozenset[str] = frozenset({"Email", "Status"})

# Directions whose mapping rows write Dotdigital values into Salesforce.
WRITING_DIRECTIONS: frozenset[str] = frozenset({"two-way", "dotdigital-to-salesforce"})

# `defaults:` keys whose value every created Lead carries as a constant, and the Lead field it
# goes into (the Lead Status is resolved by plan against the org's picklist and written apart).
# A new default of this kind is one line here plus its model field, schema and plan check:
# sync/mapping.py writes it and adds it to the mapping fingerprint only when it is set, so an
# existing state's fingerprints and ledger hashes do not move (docs/ARCHITECTURE.md).
LEAD_FIELD_DEFAULTS: dict[str, str] = {}
