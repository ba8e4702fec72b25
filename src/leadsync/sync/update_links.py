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

from leadsync.state.model import LedgerEntry, Link
from leadsync.sync import links, wire

if TYPE_CHECKING:
    from leadsync.sync.update_step import UpdateStep

LINK_BATCH = 4_000  # ledger entries linked per round (a last round is kept, not stored)
DRY_BATCH = 12_000  # a dry run links (in memory only) at most this many


class RunLinks:
    def __init__(self, step: UpdateStep) -> None:
        self.step = step
        self.store = step.store
        self.name = step.name
        # Links made or changed now and not stored: all of a dry run's, and a real run's last
        # round of new links until they are evaluated (put) or flushed
        self.fresh: dict[int, Link] = {}
        # Contacts whose link is pending: those of earlier runs (read before this run links
        # anyone, `note_pending`) and those this step stored pending since; kept as ids so
        # the links this run made are not read back and decoded all at once
        self.pending: set[int] | None = None

    def link_new(self) -> None:
        """Ledger entries with a Salesforce record, and people the push wrote, with no link
        yet -> new (pending) links. This run's own entries come from memory when the Lead
        step kept them (AccountSync.remember), the rest from the store."""
        kept = self._kept_unlinked()
        not_run = self.step.run_id if kept is not None else None
        while self._link_round(kept, not_run):
            kept = None  # a round's entries and links are freed before the next is read

    def _link_round(self, kept: list[LedgerEntry] | None, not_run: str | None) -> bool:
        """One round of linking; True when more may come (this round was stored)."""
        limit = DRY_BATCH if self.step.dry else LINK_BATCH
        entries = self.store.ledger_unlinked(self.name, limit, not_run)
        pushed = self.store.push_unlinked(self.name, limit)
        full = len(entries) >= limit or len(pushed) >= limit
        if kept:
            entries = sorted([*kept, *entries], key=_by_book)
        now = wire.now()
        made: dict[int, Link] = {}
        for link in [
            *(links.from_entry(e, self.step.run_id, now) for e in entries),
            *(links.from_pushed(p, self.step.run_id, now) for p in pushed),
        ]:
            if link is not None and link.contact_id not in made:
                made[link.contact_id] = link
        if self.step.dry or not full or not made:
            # the last round: kept until evaluated (a dry run stores nothing at all)
            self.fresh.update(made)
            if not self.step.dry:
                self.step.tally.add("linked", len(made))
            return False
        self.store.links_put(list(made.values()))  # more to come: the query skips these
        self._track(list(made.values()))
        self.step.tally.add("linked", len(made))
        return True

    def _kept_unlinked(self) -> list[LedgerEntry] | None:
        """The created/excluded entries this run stored, with a record and no link yet (None:
        not kept, e.g. a dry run or too many: the store is asked for all of them)."""
        kept = self.step.parent.settled
        if kept is None or self.step.dry:
            return None
        entries = [
            e
            for e in kept.values()
            if e.state in ("created", "excluded") and (e.lead_id or e.matched_id)
        ]
        have = self.store.links_get(self.name, [e.contact_id for e in entries]) if entries else {}
        return [e for e in entries if e.contact_id not in have]

    def counts(self) -> dict[str, int]:
        """Links by object (Lead, Contact), the new ones not stored yet included."""
        counts = self.store.links_count(self.name)
        for link in self.fresh.values():
            counts[link.sobject] = counts.get(link.sobject, 0) + 1
        return counts

    def flush(self) -> None:
        """Store the new links this real run made and did not evaluate (a contact gone from
        Dotdigital, a record gone from Salesforce): pending, as made."""
        if not self.step.dry and self.fresh:
            self.put(list(self.fresh.values()))

    def note_pending(self) -> None:
        """Read the ids of the links left pending by earlier runs, before this run links its
        new people: the store then holds few of them, not every link this run makes."""
        self.pending = {k.contact_id for k in self.store.links_with_outcome(self.name, ["pending"])}

    def pending_ids(self) -> set[int]:
        """Contacts whose link is pending: evaluated whether or not anything changed."""
        if self.pending is None:
            self.note_pending()
        return set(self.pending or ())

    def get(self, ids: Sequence[int]) -> dict[int, Link]:
        fresh = self.fresh
        if self.step.dry:  # a dry run's links changed in memory may be stored ones too
            found = self.store.links_get(self.name, ids)
            for cid in ids:
                if cid in fresh and cid not in found:
                    found[cid] = fresh[cid]
            return found
        # A real run's new links are not stored until `put`, which takes them out of `fresh`:
        # the store is asked only for the others (most of a first run's ids are new links)
        mine = {cid: fresh[cid] for cid in ids if cid in fresh}
        rest = [cid for cid in ids if cid not in mine] if mine else ids
        return {**self.store.links_get(self.name, rest), **mine} if rest else mine

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
            self._track(changed)

    def _track(self, changed: Sequence[Link]) -> None:
        """Keep `pending` as the store's pending links (see note_pending)."""
        if self.pending is None:
            return
        for link in changed:
            if link.outcome == "pending" and link.state == "linked":
                self.pending.add(link.contact_id)
            else:
                self.pending.discard(link.contact_id)


def _by_book(entry: LedgerEntry) -> tuple[int, int]:
    """The store's order of unlinked entries: by book, then contact id."""
    return (entry.book_id, entry.contact_id)
