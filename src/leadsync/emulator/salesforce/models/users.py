"""Users: seeded, read only through the API. Every API session acts as the integration user
(`user_id`, the first seeded user); the others own records only through the Lead assignment
rules (assignment.py).
"""

from __future__ import annotations

from leadsync.emulator.salesforce.ids import KEY_PREFIXES
from leadsync.emulator.salesforce.models.base import OrgState
from leadsync.emulator.salesforce.models.sessions import DEFAULT_USERS


class Users(OrgState):
    """User records, and storing read-only (metadata-like) records under chosen ids."""

    users: list[dict]

    def _seed_users(self) -> None:
        people = self.users or [DEFAULT_USERS[0]]
        for i, user in enumerate(people):
            rid = self.user_id if i == 0 else self.ids.new(KEY_PREFIXES["User"])
            name = str(user.get("name") or user["username"])
            self._put_system("User", rid, {"Username": user["username"], "Name": name})

    def _put_system(self, sobject: str, rid: str, values: dict) -> None:
        """Store a read-only (metadata-like) record under a chosen Id."""
        now = self.now()
        record = dict(self.objects[sobject].template)
        record.update(values)
        record.update(
            Id=rid, IsDeleted=False, CreatedDate=now, CreatedById=self.user_id, LastModifiedDate=now,
            LastModifiedById=self.user_id, SystemModstamp=now,
        )  # fmt: skip
        self.records[sobject][rid] = record
