"""Step 3 of an account's sync: linked people changed on either side -> field updates.

After push and Lead creation, AccountSync.run hands the account to UpdateStep, which:

1. settles a Dotdigital import a killed run left in flight (waits for it: its values then read
   back like any other change; update_writes.py), then links the ledger's new people
   (update_links.py, the transitions in links.py);
2. reads what changed: the Leads and Contacts whose SystemModstamp moved since their update
   mark (queryAll, so deleted and merged-away records come too; one call per object), then
   each book's members modified since its mark (v3 `~modified`, less the overlap window; one
   call per book when nothing changed; when the Lead step has just read that window, only the
   members modified since it started, the rest handed over: update_handover.py). Only linked
   people are kept (update_changes.py). The Dotdigital changes come in rounds of CHUNK, each
   evaluated and written (3-5) before the read goes on, then the rest (Salesforce-only
   changes, new and pending links) in rounds: memory stays bounded however many links a
   first read brings;
3. per linked pair and mapped field, applies the row's direction against the merge base
   (updates.py, the rows with their describe in update_fields.py), from the values just read
   and, for the side that did not change, the values the link saw last (update_values.py);
4. writes in batches: Salesforce through sObject Collections updates (200 a call; Bulk API 2.0
   update jobs from sync.bulk_threshold on), Dotdigital through one v3 bulk import per batch
   (update_writes.py);
5. stores each link (bases and seen values moved only by what a write really did), then the
   marks last.

Crash safety without a write-ahead per link: a write is an assignment, and the merge base moves
only once the write is recorded, so whatever a killed run wrote reads back on the next run as
"both sides hold the same value" (the base moves, nothing is written) or as an ordinary change
handled by the same rules; the marks move last, so nothing changed is skipped. The one write
recorded before it is known is a Dotdigital import: its id is stored before it is polled, and
the next run waits for it first, so an old import can never land after a newer one.

The account lock is verified before every batch of writes and before the marks move; the API
budget (sync.max_api_share) is checked between batches, as for creates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from leadsync.dotdigital.model import Contact
from leadsync.errors import LimitReached
from leadsync.state.model import Link
from leadsync.sync import links, wire
from leadsync.sync.run import StopRequested
from leadsync.sync.update_changes import ChangeReads
from leadsync.sync.update_fields import MappedFields
from leadsync.sync.update_links import RunLinks
from leadsync.sync.update_report import UpdateTally
from leadsync.sync.update_values import LinkValues
from leadsync.sync.update_writes import Side, UpdateWrites
from leadsync.sync.updates import FieldNote, LinkPlan, plan_link

if TYPE_CHECKING:
    from leadsync.sync.engine import AccountSync

CHUNK = 2000  # links evaluated, written and stored per round


class UpdateStep:
    """Step 3 for one account; its parts share this object (the run, the account, the tally)."""

    def __init__(self, parent: AccountSync) -> None:
        self.parent = parent
        self.ctx = parent.ctx
        self.account = parent.account
        self.name = parent.account.name
        self.dd = parent.dd
        self.sf = parent.sf
        self.store = parent.store
        self.held = parent.held
        self.settings = parent.settings
        self.run_id = parent.run_id
        self.dry = parent.ctx.dry_run
        self.tally: UpdateTally = parent.ctx.update_tally(self.name)
        self.fields = MappedFields(parent.account, parent.sf)
        self.links = RunLinks(self)
        self.changes = ChangeReads(self)
        self.values = LinkValues(self)
        self.writes = UpdateWrites(self)

    def run(self) -> None:
        if not (self.account.rows or self.account.contact_rows):
            return
        if not self.dry and not self.writes.settle_import():
            return  # an earlier run's import still runs: nothing is read or written now
        self.links.note_pending()
        self.links.link_new()
        try:
            self._update()
        except (StopRequested, LimitReached):
            self.links.flush()  # a stop records what was done: the links made too
            raise

    def _update(self) -> None:
        """Read what changed, evaluate, write and store each link; then the marks, last."""
        counts = self.links.counts()
        if not counts:
            return
        sf_changed = self.changes.read_salesforce(counts)
        self.changes.drop_seen(sf_changed)
        done: set[int] = set()
        for dd_changed in self.changes.dotdigital_rounds(CHUNK):
            # evaluated while the read goes on: a round's contacts are freed before the next
            self.ctx.checkpoint()
            self.evaluate(sorted(dd_changed), dd_changed, sf_changed)
            done.update(dd_changed)
        touched = set(sf_changed) | set(self.links.fresh) | self.links.pending_ids()
        ids = sorted(touched - done)
        for start in range(0, len(ids), CHUNK):
            self.ctx.checkpoint()
            self.evaluate(ids[start : start + CHUNK], {}, sf_changed)
        self.links.flush()  # new links nothing evaluated (a contact or record gone): as made
        if not self.dry:
            self.held.verify()
            self.store.set_update_marks(self.name, self.changes.marks)

    def evaluate(
        self,
        ids: Sequence[int],
        dd_changed: Mapping[int, Contact],
        sf_changed: Mapping[int, dict[str, Any]],
    ) -> None:
        """One round: the links of `ids` -> plans -> writes -> links stored."""
        found = {cid: k for cid, k in self.links.get(ids).items() if k.state == "linked"}
        sf_values = self.values.salesforce(found, sf_changed)
        dd_values = self.values.dotdigital(found, dd_changed)
        now = wire.now()
        plans: dict[int, LinkPlan] = {}
        repeated: dict[int, list[FieldNote]] = {}  # refusals that still hold: kept, not counted
        for cid, link in found.items():
            if cid not in sf_values or cid not in dd_values:
                continue  # unlinked while reading, or the contact is gone (recorded)
            if cid in dd_changed:
                found[cid] = link = links.with_email(link, dd_changed[cid].email)
            plan = plan_link(
                self.fields.rules(link.sobject), link.base, sf_values[cid], dd_values[cid]
            )
            plans[cid], repeated[cid] = links.without_repeated_failures(link, plan)
        if self.dry:
            self._preview(found, plans, sf_values)
            return
        sf_sides = self.writes.salesforce(found, plans)
        dd_sides = self.writes.dotdigital(found, plans)
        stored: list[Link] = []
        for cid, plan in plans.items():
            link, sf, dd = found[cid], sf_sides.get(cid, Side()), dd_sides.get(cid, Side())
            if sf.gone:
                stored.append(links.unlinked(link, sf.gone, self.run_id, now))
                self.tally.add("unlinked")
                continue
            notes = [*plan.notes, *sf.notes, *dd.notes]
            why = "; ".join(w for w in (sf.pending, dd.pending) if w) or None
            after = links.evaluated(
                link, plan, sf_values=sf_values[cid], dd_values=dd_values[cid],
                sf_ok=sf.ok, dd_ok=dd.ok, notes=[*notes, *repeated[cid]], run_id=self.run_id,
                now=now, pending_why=why,
            )  # fmt: skip
            stored.append(replace(after, sf_seen=None) if sf.reread else after)
            self._count(link, plan, sf, dd, notes)
        self.links.put(stored)

    def _count(
        self, link: Link, plan: LinkPlan, sf: Side, dd: Side, notes: list[FieldNote]
    ) -> None:
        if plan.to_salesforce and sf.ok:
            self.tally.add("updated_in_salesforce")
        if plan.to_dotdigital and dd.ok:
            self.tally.add("updated_in_dotdigital")
        kinds = {n.kind for n in notes}
        for kind, key in (
            ("conflict", "conflicts"),
            ("update_failed", "update_failed"),
            ("skipped", "update_skipped"),
        ):
            if kind in kinds:
                self.tally.add(key)
        if sf.pending or dd.pending:
            self.tally.add("update_pending")
            error = sf.error or dd.error
            if error is not None:
                self.tally.errors[link.contact_id] = (link.email, error)

    # -- dry run ---------------------------------------------------------------------------------

    def _preview(
        self, found: Mapping[int, Link], plans: Mapping[int, LinkPlan], sf_values: Mapping[int, Any]
    ) -> None:
        """Dry run: what the writes would change (samples) and how the run would count it."""
        for cid, plan in plans.items():
            link = found[cid]
            rules = {r.salesforce: r for r in self.fields.rules(link.sobject)}
            for fld, value in plan.to_salesforce.items():
                self.tally.sample(link.email, "salesforce", fld, sf_values[cid].get(fld), value)
            for df, value in plan.to_dotdigital.items():
                before = next(
                    (sf_values[cid].get(r.salesforce) for r in rules.values() if r.datafield == df),
                    None,
                )
                self.tally.sample(
                    link.email,
                    "dotdigital",
                    df,
                    link.dd_seen.get(df) if link.dd_seen else before,
                    value,
                )
            self._count(link, plan, Side(), Side(), plan.notes)
