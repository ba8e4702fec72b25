"""The links of one account as the update step's run sees them (sync/links.py: what they become).

A real run reads and stores links in the state. A dry run stores nothing, yet must evaluate what
the real run would: the links it would make now (new ledger entries, people the push wrote) and
the links it would change (a converted Lead, a deleted record) are kept here, in memory, and
read back over the stored ones. Every read and write of links in the update step goes through
this class, so the dry run cannot see other links than the real run.

A real run keeps the links of its last round of linking (at most LINK_BATCH) the same way: they
are stored once, when evaluated (or at the end of the step, `flush`), not once when made and
again when evaluated, nor read back and decoded in between. Storing a new link early protects
nothing: a link is made from the ledger, so one lost with a killed run is made again next run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from leadsync.state.model import Link
from leadsync.sync import links, wire

if TYPE_CHECKING:
    from leadsync.sync.update_step import UpdateStep

LINK_BATCH = 12_000  # ledger entries linked per round (a last round is kept, not stored)


class RunLinks:
    def __init__(self, step: UpdateStep) -> None:
        self.step = step
        self.store = step.store
        self.name = step.name
        # Links made or changed now and not stored: all of a dry run's, and a real run's last
        # round of new links until they are evaluated (put) or flushed
        self.fresh: dict[int, Link] = {}

    def link_new(self) -> None:
        """Ledger entries with a Salesforce record, and people the push wrote, with no link
        yet -> new (pending) links."""
        while True:
            entries = self.store.ledger_unlinked(self.name, LINK_BATCH)
            pushed = self.store.push_unlinked(self.name, LINK_BATCH)
            now = wire.now()
            made: dict[int, Link] = {}
            for link in [
                *(links.from_entry(e, self.step.run_id, now) for e in entries),
                *(links.from_pushed(p, self.step.run_id, now) for p in pushed),
            ]:
                if link is not None and link.contact_id not in made:
                    made[link.contact_id] = link
            last = (len(entries) < LINK_BATCH and len(pushed) < LINK_BATCH) or not made
            if self.step.dry or last:
                # the last round: kept until evaluated (a dry run stores nothing at all)
                self.fresh.update(made)
                if not self.step.dry:
                    self.step.tally.add("linked", len(made))
                return
            self.store.links_put(list(made.values()))  # more to come: the query skips these
            self.step.tally.add("linked", len(made))

    def counts(self) -> dict[str, int]:
        """Links by object (Lead, Contact), the dry run's new ones included."""
        counts = self.store.links_count(self.name)
        for link in self.fresh.values():
            counts[link.sobject] = counts.get(link.sobject, 0) + 1
        return counts

    def flush(self) -> None:
        """Store the new links this real run made and did not evaluate (a contact gone from
        Dotdigital, a record gone from Salesforce): pending, as made."""
        if not self.step.dry and self.fresh:
            self.put(list(self.fresh.values()))

    def pending_ids(self) -> set[int]:
        """Contacts whose link is pending: evaluated whether or not anything changed."""
        return {k.contact_id for k in self.store.links_with_outcome(self.name, ["pending"])}

    def get(self, ids: Sequence[int]) -> dict[int, Link]:
        found = self.store.links_get(self.name, ids)
        for cid in ids:
            if cid in self.fresh and cid not in found:
                found[cid] = self.fresh[cid]
        return found

    def for_records(self, record_ids: Sequence[str]) -> dict[str, Link]:
        found = self.store.links_for_records(self.name, record_ids)
        for link in self.fresh.values():
            found.setdefault(link.record_id, link)
        return found

    def put(self, changed: Sequence[Link]) -> None:
        if self.step.dry:
            for link in changed:
                self.fresh[link.contact_id] = link
            return
        if changed:
            self.step.held.verify()
            self.store.links_put(list(changed))
            for link in changed:
                self.fresh.pop(link.contact_id, None)  # stored: the store holds it now
