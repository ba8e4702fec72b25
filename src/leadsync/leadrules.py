"""Rules about Salesforce Leads that config, reconcile and sync all apply: one home each.

Kept apart from the clients (which carry no domain rule) and from any one package, so that
`validate`, `plan` and `sync` can never disagree about them.
"""

from __future__ import annotations

# The user's text, step 2: every Lead leadsync creates needs these from Dotdigital (validate
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
