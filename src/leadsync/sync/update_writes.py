"""The update step's writes, and what each did for each link (a `Side`).

Salesforce: sObject Collections updates, 200 records a call, or Bulk API 2.0 update jobs from
sync.bulk_threshold records on. Dotdigital: one v3 bulk import per batch, whose id is stored
(update mark `import:dotdigital`) before its status is read; the next run waits for an import
a killed run left in flight (`settle_import`) before it reads anything, so an old import can
never land after a newer one. A failure for now leaves the link pending; a refusal becomes a
note per field that holds the refused value, so that value is not sent again until the data
changes (sync/links.py `without_repeated_failures`); a record gone from Salesforce unlinks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from leadsync.dotdigital.model import ImportOutcome
from leadsync.errors import LimitReached, RemoteError
from leadsync.salesforce.errors import TRANSIENT_RECORD_CODES as TRANSIENT_CODES
from leadsync.salesforce.model import SaveResult
from leadsync.state.model import Link
from leadsync.sync import halving, wire, write_errors
from leadsync.sync.updates import FieldNote, FieldRule, LinkPlan

if TYPE_CHECKING:
    from leadsync.sync.update_step import UpdateStep

COLLECTION = 200  # one sObject Collections update
IMPORT_MARK = "import:dotdigital"
CONVERTED_LEAD = "CANNOT_UPDATE_CONVERTED_LEAD"
GONE_CODES = frozenset({"ENTITY_IS_DELETED"})


@dataclass(slots=True)
class Side:
    """One side's outcome for one link in this round."""

    ok: bool = True
    pending: str | None = None  # why the write failed for now
    error: dict[str, Any] | None = None  # last error (pending) for the report
    notes: list[FieldNote] = field(default_factory=list)
    gone: str | None = None  # the record is gone: unlink
    reread: bool = False  # what was seen of the record is stale (a Lead converted since)


class UpdateWrites:
    def __init__(self, step: UpdateStep) -> None:
        self.step = step
        self.name = step.name
        self.store = step.store
        self.run_id = step.run_id

    def _pending(self, why: str, error: write_errors.WriteError) -> Side:
        return Side(ok=False, pending=why, error=error.stamped(self.run_id, wire.now()))

    def _all_pending(
        self, cids: Sequence[int], why: str, error: write_errors.WriteError
    ) -> dict[int, Side]:
        """A whole write failed for now: each of its links stays pending, with its cause."""
        stamped = error.stamped(self.run_id, wire.now())
        return {cid: Side(ok=False, pending=why, error=stamped) for cid in cids}

    def _refused(
        self, link: Link, values: Mapping[str, Any], system: str, code: str, message: str
    ) -> Side:
        rules = self.step.fields.rules(link.sobject)
        return Side(ok=False, notes=refused(values, system, code, message, rules))

    # -- Salesforce ------------------------------------------------------------------------------

    def salesforce(
        self, found: Mapping[int, Link], plans: Mapping[int, LinkPlan]
    ) -> dict[int, Side]:
        sides: dict[int, Side] = {}
        by_object: dict[str, list[int]] = {}
        for cid, plan in plans.items():
            if plan.to_salesforce:
                by_object.setdefault(found[cid].sobject, []).append(cid)
        for sobject, cids in sorted(by_object.items()):
            bulk = len(cids) >= self.step.settings.bulk_threshold
            size = len(cids) if bulk else COLLECTION
            for start in range(0, len(cids), size):
                batch = cids[start : start + size]
                sides.update(self._salesforce_batch(sobject, bulk, batch, found, plans))
        return sides

    def _salesforce_batch(
        self,
        sobject: str,
        bulk: bool,
        batch: Sequence[int],
        found: Mapping[int, Link],
        plans: Mapping[int, LinkPlan],
    ) -> dict[int, Side]:
        """One Collections call (or Bulk API 2.0 job) and what it did for each link."""
        records = [{"Id": found[c].record_id, **plans[c].to_salesforce} for c in batch]
        sf = self.step.sf
        self.step.ctx.checkpoint()
        self.step.held.verify()
        try:
            if bulk:
                results = sf.bulk_update(sobject, records)
            else:
                allow = self.step.settings.allow_duplicate_save
                results = halving.split_refused(
                    halving.refusing(lambda rs: sf.update(sobject, rs, allow_duplicate_save=allow)),
                    records,
                    halving.refusal,
                )
        except LimitReached:
            raise  # nothing of this batch is recorded: re-derived by the next run
        except RemoteError as exc:
            error = write_errors.of_exception(exc)
            if exc.transient:
                return self._all_pending(batch, f"Salesforce update failed for now: {exc}", error)
            return {
                cid: self._refused(
                    found[cid], plans[cid].to_salesforce, "Salesforce", error.error_class, str(exc)
                )
                for cid in batch
            }
        return {
            cid: self._salesforce_side(found[cid], plans[cid], result)
            for cid, result in zip(batch, results, strict=True)
        }

    def _salesforce_side(self, link: Link, plan: LinkPlan, result: SaveResult) -> Side:
        if result.success:
            return Side()
        err = result.errors[0] if result.errors else None
        code = err.status_code if err else "UNKNOWN"
        message = err.message if err else "no error message"
        if code in GONE_CODES:
            return Side(
                ok=False, gone=f"{link.sobject} {link.record_id} is gone from Salesforce ({code})"
            )
        if code in TRANSIENT_CODES or code == CONVERTED_LEAD:
            # A Lead converted since it was read: read again by Id next run, which finds it
            # converted and follows its Contact from then on.
            side = self._pending(
                f"Salesforce: {code}: {message}", write_errors.of_record(code, message)
            )
            side.reread = code == CONVERTED_LEAD
            return side
        return self._refused(link, plan.to_salesforce, "Salesforce", code, message)

    # -- Dotdigital ------------------------------------------------------------------------------

    def settle_import(self) -> bool:
        """A Dotdigital import a killed run left in flight: wait for it before reading, so it
        cannot land after a newer one; what it wrote reads back as a change. False when it is
        still running after the client's status reads: the updates wait for the next run."""
        import_id = self.store.update_mark(self.name, IMPORT_MARK)
        if import_id:
            if self.step.dd.wait_import(import_id).running:
                return False
            self.store.set_update_marks(self.name, {IMPORT_MARK: None})
        return True

    def dotdigital(
        self, found: Mapping[int, Link], plans: Mapping[int, LinkPlan]
    ) -> dict[int, Side]:
        cids = [cid for cid, plan in plans.items() if plan.to_dotdigital]
        if not cids:
            return {}
        contacts = [
            {
                "matchIdentifier": "contactId",
                "identifiers": {"contactId": cid},
                "dataFields": plans[cid].to_dotdigital,
            }
            for cid in cids
        ]
        self.step.ctx.check_stop()
        self.step.held.verify()
        try:
            outcome = self.step.dd.import_contacts(
                contacts,
                # write-ahead: the id is stored before the status is read (settle_import)
                on_submit=lambda iid: self.store.set_update_marks(self.name, {IMPORT_MARK: iid}),
            )
        except LimitReached:
            raise
        except RemoteError as exc:
            if not exc.transient:
                raise
            why = f"Dotdigital import failed for now: {exc}"
            return self._all_pending(cids, why, write_errors.of_exception(exc))
        if outcome.running:  # the next run waits for it (settle_import), then reads it back
            why = f"Dotdigital import {outcome.import_id} still running"
            return self._all_pending(
                cids, why, write_errors.of_record("NotFinished", why, "Dotdigital")
            )
        self.store.set_update_marks(self.name, {IMPORT_MARK: None})
        return self._import_sides(found, cids, plans, outcome)

    def _import_sides(
        self,
        found: Mapping[int, Link],
        cids: Sequence[int],
        plans: Mapping[int, LinkPlan],
        outcome: ImportOutcome,
    ) -> dict[int, Side]:
        """Per-contact outcome of an import no longer running: those it lists as updated (or
        created) succeeded, those it lists as failed failed, the rest (a failure it could not
        name, e.g. a contact id that no longer exists) failed too, with the import's reason.
        An import that ended without writing (RejectedByWatchdog, Failed) leaves all pending."""
        if not outcome.finished:
            why = f"Dotdigital import ended {outcome.status}"
            error = write_errors.of_record(outcome.status, why, "Dotdigital")
            return self._all_pending(cids, why, error)
        done = set(outcome.updated.values()) | set(outcome.created.values())
        unnamed = ("contactNotFound", "the import did not update this contact (is it gone?)")
        sides: dict[int, Side] = {}
        for cid in cids:
            if cid in done:
                continue
            code, message = outcome.failed_ids.get(cid) or unnamed
            sides[cid] = self._refused(
                found[cid], plans[cid].to_dotdigital, "Dotdigital", code, message
            )
        return sides


def refused(
    values: Mapping[str, Any], system: str, code: str, message: str, rules: Sequence[FieldRule]
) -> list[FieldNote]:
    """An update the other system refused: one note per field it carried, holding the value
    that was refused (so the same value is not sent again until the data changes)."""
    reason = f"{system} refused the update: {code}: {message}"
    notes = []
    for name, value in values.items():
        if system == "Salesforce":  # Salesforce field -> the value Dotdigital had
            df = next((r.datafield for r in rules if r.salesforce == name), name)
            notes.append(
                FieldNote("update_failed", name, df, None, value, "dotdigital", reason, code)
            )
        else:  # datafield -> the value Salesforce had
            fld = next((r.salesforce for r in rules if r.datafield == name), name)
            notes.append(
                FieldNote("update_failed", fld, name, value, None, "salesforce", reason, code)
            )
    return notes
