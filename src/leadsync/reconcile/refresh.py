"""Refresh: read the live facts a plan needs into an Observed value. The only I/O of planning.

Cost is fixed by the shape of the config, not its size (users pay for API calls): Lead is
described once, CampaignMember once if any book links a campaign, Contact once if any account
has a contact_mapping, every campaign the config or
the applied state names comes back from ONE query and their member statuses from one more,
LeadStatus from one, Lead AssignmentRules from one when defaults.assignment_rule names a rule
(none for `active`/`none`); each Dotdigital account lists its address books and datafields once.
Everything here is a read (GET or SOQL query): refresh changes nothing anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from leadsync.applied import AppliedIntegration
from leadsync.config.model import ASSIGN_ACTIVE, ASSIGN_NONE, Config
from leadsync.dotdigital.client import DotdigitalClient
from leadsync.reconcile.observed import (
    LeadStatusValue,
    Observed,
    ObservedAccount,
    ObservedAssignmentRule,
    ObservedCampaign,
)
from leadsync.retry import RetryPolicy
from leadsync.salesforce.client import SalesforceClient
from leadsync.state.model import AppliedState


@dataclass
class Systems:
    """The API clients of one command run, created lazily and shared by refresh and apply."""

    config: Config
    retry: RetryPolicy | None = None
    _salesforce: SalesforceClient | None = None
    _dotdigital: dict[str, DotdigitalClient] = field(default_factory=dict)

    @property
    def salesforce(self) -> SalesforceClient:
        if self._salesforce is None:
            self._salesforce = SalesforceClient(self.config.salesforce, retry=self.retry)
        return self._salesforce

    def dotdigital(self, account: str) -> DotdigitalClient:
        if account not in self._dotdigital:
            conn = self.config.accounts[account].dotdigital
            self._dotdigital[account] = DotdigitalClient(conn, retry=self.retry, account=account)
        return self._dotdigital[account]

    def calls(self) -> dict[str, int]:
        dd = sum(c.calls for c in self._dotdigital.values())
        sf = self._salesforce.calls if self._salesforce is not None else 0
        return {"dotdigital": dd, "salesforce": sf}


def campaign_refs(config: Config, applied: AppliedState | None) -> list[str]:
    """Campaign names/ids the config links, plus the ids the applied state recorded (drift)."""
    refs = [
        b.campaign
        for name in sorted(config.accounts)
        for b in config.accounts[name].address_books
        if b.campaign
    ]
    if applied is not None:
        for _name, book in AppliedIntegration.from_json(applied.resolved).books():
            refs += [book.campaign_id] if book.campaign_id else []
    return list(dict.fromkeys(refs))


def refresh(config: Config, applied: AppliedState | None, systems: Systems) -> Observed:
    sf = systems.salesforce
    lead = sf.describe("Lead")
    links_campaign = any(b.campaign for a in config.accounts.values() for b in a.address_books)
    campaign_member = sf.describe("CampaignMember") if links_campaign else None
    maps_contacts = any(a.contact_mapping for a in config.accounts.values())
    contact = sf.describe("Contact") if maps_contacts else None
    refs = campaign_refs(config, applied)
    found = sf.find_campaigns(refs) if refs else []
    ids = [str(c["Id"]) for c in found]
    statuses = sf.campaign_member_statuses(ids) if ids else {}
    campaigns = tuple(
        ObservedCampaign(
            str(c["Id"]), str(c.get("Name") or ""), tuple(statuses.get(str(c["Id"]), ()))
        )
        for c in sorted(found, key=lambda c: str(c["Id"]))
    )
    linked = [b.campaign for a in config.accounts.values() for b in a.address_books if b.campaign]
    unmatched = [
        r for r in linked if not any(c.id[:15] == r[:15] or c.name == r for c in campaigns)
    ]
    campaign_names = tuple(sf.campaign_names()) if unmatched else ()
    lead_statuses = tuple(
        LeadStatusValue(
            str(s.get("ApiName") or s.get("MasterLabel") or ""),
            str(s.get("MasterLabel") or s.get("ApiName") or ""),
            bool(s.get("IsDefault")),
        )
        for s in sf.lead_statuses()
    )
    rules = None
    if config.defaults.assignment_rule not in (ASSIGN_ACTIVE, ASSIGN_NONE):
        rules = tuple(
            ObservedAssignmentRule(str(r["Id"]), str(r.get("Name") or ""), bool(r.get("Active")))
            for r in sf.lead_assignment_rules()
        )
    accounts: dict[str, ObservedAccount] = {}
    for name in sorted(config.accounts):
        dd = systems.dotdigital(name)
        accounts[name] = ObservedAccount(name, tuple(dd.address_books()), tuple(dd.datafields()))
    return Observed(
        accounts=accounts,
        lead=lead,
        campaign_member=campaign_member,
        campaigns=campaigns,
        lead_statuses=lead_statuses,
        campaign_names=campaign_names,
        assignment_rules=rules,
        contact=contact,
    )
