"""Lead assignment rules: which rule a write runs, and running it on the records it creates.

Every API session acts as the integration user (`user_id`, the first seeded user); the other
seeded users own records only through assignment rules. A rule here is one rule entry without
criteria: it assigns every Lead it runs on to its owner. Which rule runs: REST creates follow
`Sforce-Auto-Assign` (TRUE or absent: the active Lead rule; FALSE: none; an AssignmentRule Id:
that rule, active or not); Bulk API 2.0 jobs run only the rule their `assignmentRuleId` names
(none when absent). At most one Lead rule is active. Upserts (sObject Collections PATCH by
External ID, Bulk 2.0 upsert jobs) run the rule on the records they create, as inserts do. Not
modelled: Salesforce documents that TRUE also re-runs the active rule on Leads a REST write
UPDATES; here updates (and Bulk update jobs) keep their owner.
"""

from __future__ import annotations

from leadsync.emulator.salesforce.exceptions import ApiError
from leadsync.emulator.salesforce.ids import KEY_PREFIXES, to18
from leadsync.emulator.salesforce.models.base import OrgState


class Assignment(OrgState):
    """AssignmentRule records (seeded, read only through the API, stored with Users._put_system)
    and the owner each assigns."""

    rule_owners: dict[str, str]  # AssignmentRule Id -> the User it assigns to

    def _seed_assignment_rules(self, specs: list[dict]) -> None:
        by_username = {u["Username"]: uid for uid, u in self.records["User"].items()}
        if sum(1 for s in specs if s.get("active")) > 1:
            raise ValueError("salesforce.assignment_rules: at most one Lead rule can be active")
        for n, spec in enumerate(specs):
            owner = by_username.get(spec["owner"])
            if owner is None:
                raise ValueError(
                    f"salesforce.assignment_rules[{n}].owner: no seeded user {spec['owner']!r} "
                    "(list it under salesforce.users)"
                )
            rid = self.ids.new(KEY_PREFIXES["AssignmentRule"])
            values = {
                "Name": spec["name"],
                "Active": bool(spec.get("active")),
                "SobjectType": "Lead",
            }
            self._put_system("AssignmentRule", rid, values)
            self.rule_owners[rid] = owner

    def _lead_rule(self, rule_id: str) -> str | None:
        id18 = to18(rule_id)
        rule = self.records["AssignmentRule"].get(id18 or "")
        return id18 if rule is not None and rule["SobjectType"] == "Lead" else None

    def rule_for_header(self, sobject: str, header: str | None) -> str | None:
        """The rule a REST create of `sobject` records runs, per `Sforce-Auto-Assign`."""
        if sobject != "Lead":
            return None  # Case and Account rules are not modelled
        value = (header or "TRUE").strip()
        if value.upper() == "TRUE":
            return next(
                (rid for rid, r in self.records["AssignmentRule"].items()
                 if r["Active"] and r["SobjectType"] == "Lead"),
                None,
            )  # fmt: skip
        if value.upper() == "FALSE":
            return None
        if to18(value) is None:
            raise ApiError(400, "MALFORMED_ID", f"Sforce-Auto-Assign: malformed id {value}")
        rule = self._lead_rule(value)
        if rule is None:
            raise ApiError(
                400,
                "INVALID_CROSS_REFERENCE_KEY",
                f"Sforce-Auto-Assign: {value} is not a Lead assignment rule",
            )
        return rule

    def rule_for_job(self, sobject: str, rule_id: object) -> str | None:
        """The rule a Bulk API 2.0 job runs: only the one its assignmentRuleId names."""
        if rule_id is None:
            return None
        rule = self._lead_rule(str(rule_id)) if sobject == "Lead" else None
        if rule is None:
            raise ApiError(
                400,
                "INVALIDJOB",
                f"InvalidJob : assignmentRuleId {rule_id} is not a {sobject} assignment rule",
            )
        return rule

    def assign(self, sobject: str, rid: str, rule_id: str | None) -> None:
        """Run an assignment rule on a record just created: its owner becomes the rule's."""
        if rule_id is None:
            return
        with self.lock:
            record = self.records[sobject].get(rid)
            if record is not None:
                record["OwnerId"] = self.rule_owners[rule_id]
