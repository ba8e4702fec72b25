"""The write-ahead mark: what a Lead write in flight was, so a later run can settle it. Pure.

Before any record of a batch leaves, its ledger entries are stored with `attempt` set to this
mark (docs/ARCHITECTURE.md, "the exactly-once argument"). A run killed before the answer is
stored leaves the entries in doubt; the next run decodes the mark to learn how to look the
write up: a Bulk API 2.0 job by its result files, anything else by key or by email.

The ledger stores the mark as text, and the text is a stored format: states written by every
earlier version must still decode to the same meaning. The forms are

    coll:<run id>:<batch>        an sObject Collections create of one batch
    key:coll:<run id>:<batch>    the same as an upsert on the Lead key (leadsync.leadkey)
    bulk:<run id>:<batch>        a Bulk API 2.0 write before Salesforce named a job
    bulkjob:<id>,<id>,...        a Bulk API 2.0 write and the jobs it created so far
    key:bulkjob:<id>,...         the same as an upsert on the Lead key

`key:` says the write can be looked up by key and safely sent again. Text in none of these
forms (none is written today) decodes as a Collections create: looked up by email under the
in-doubt grace, the most careful reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

KEYED = "key:"
COLLECTIONS = "coll:"
BULK = "bulk:"
BULK_JOBS = "bulkjob:"

Kind = Literal["collections", "bulk"]


@dataclass(frozen=True, slots=True)
class WriteAhead:
    """One write in flight. `batch`: "<run id>:<random>" naming it until Salesforce names a
    job; `job_ids`: the Bulk jobs Salesforce created for it (recorded before any upload)."""

    kind: Kind
    keyed: bool = False
    batch: str = ""
    job_ids: tuple[str, ...] = ()

    def with_job(self, job_id: str) -> WriteAhead:
        """The mark once Salesforce created one more job for this write."""
        return WriteAhead("bulk", self.keyed, self.batch, (*self.job_ids, job_id))

    def encode(self) -> str:
        """The text the ledger stores (the forms in the module docstring)."""
        key = KEYED if self.keyed else ""
        if self.kind == "bulk" and self.job_ids:
            return f"{key}{BULK_JOBS}{','.join(self.job_ids)}"
        if self.kind == "bulk":
            return f"{BULK}{self.batch}"  # never keyed: written before the key mattered
        return f"{key}{COLLECTIONS}{self.batch}"

    @classmethod
    def decode(cls, text: str) -> WriteAhead:
        """The mark a stored `attempt` names; total: every text decodes (see the docstring)."""
        keyed = text.startswith(KEYED)
        rest = text.removeprefix(KEYED)
        if rest.startswith(BULK_JOBS):
            jobs = tuple(j for j in rest.removeprefix(BULK_JOBS).split(",") if j)
            return cls("bulk", keyed, job_ids=jobs)
        if rest.startswith(BULK):
            return cls("bulk", keyed, batch=rest.removeprefix(BULK))
        return cls("collections", keyed, batch=rest.removeprefix(COLLECTIONS))
