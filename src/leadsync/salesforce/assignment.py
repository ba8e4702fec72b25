"""Lead assignment rules as Salesforce's two write paths spell them. Pure.

Salesforce runs the org's active Lead assignment rule on records created through REST unless
told otherwise: the `Sforce-Auto-Assign` request header is TRUE (the active rule), FALSE (no
rule) or an AssignmentRule Id (that rule, active or not), and TRUE when absent. A Bulk API 2.0
ingest job runs a rule only when the job names it (`assignmentRuleId`, API 49.0+, active or
not). So the same signups end with different owners depending on batch size unless every write
says the same thing; this module is the one place that says it, for creates and upserts alike
(REST headers, bulk job properties). See README "Lead owner".
"""

from __future__ import annotations

from dataclasses import dataclass

from leadsync.config.model import ASSIGN_ACTIVE, ASSIGN_NONE

AUTO_ASSIGN_HEADER = "Sforce-Auto-Assign"
JOB_RULE_PROPERTY = "assignmentRuleId"
# SOQL for the rule `active` means on a bulk job (the REST header names it by TRUE instead).
ACTIVE_LEAD_RULE_SOQL = (
    "SELECT Id, Name FROM AssignmentRule WHERE SobjectType = 'Lead' AND Active = true"
)
LEAD_RULES_SOQL = "SELECT Id, Name, Active FROM AssignmentRule WHERE SobjectType = 'Lead'"


@dataclass(frozen=True, slots=True)
class LeadAssignment:
    """`rule`: "active", "none", or an AssignmentRule Id (plan resolves names to Ids)."""

    rule: str = ASSIGN_ACTIVE

    def rest_headers(self) -> dict[str, str]:
        """Headers for a REST write of Leads (sObject Collections, sObject rows, composite)."""
        if self.rule == ASSIGN_ACTIVE:
            return {AUTO_ASSIGN_HEADER: "TRUE"}
        if self.rule == ASSIGN_NONE:
            return {AUTO_ASSIGN_HEADER: "FALSE"}
        return {AUTO_ASSIGN_HEADER: self.rule}

    @property
    def needs_active_rule_id(self) -> bool:
        """A bulk job can only name a rule by Id: `active` must be looked up first."""
        return self.rule == ASSIGN_ACTIVE

    def job_properties(self, active_rule_id: str | None) -> dict[str, str]:
        """Extra properties of a Bulk API 2.0 ingest job writing Leads. `active_rule_id` is the
        org's active Lead rule (None: the org has none, so nothing is assigned, as with TRUE)."""
        if self.rule == ASSIGN_ACTIVE:
            return {JOB_RULE_PROPERTY: active_rule_id} if active_rule_id else {}
        if self.rule == ASSIGN_NONE:
            return {}
        return {JOB_RULE_PROPERTY: self.rule}


# Field updates never re-route: with no header Salesforce re-runs the active Lead assignment
# rule on REST updates (Sforce-Auto-Assign defaults to TRUE). An update says "no rule" (REST
# header FALSE; a Bulk job that names none), creates and upserts say what the config says.
FIELD_UPDATE_ASSIGNMENT = LeadAssignment(ASSIGN_NONE)
