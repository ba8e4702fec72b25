"""Step 3 of an account's sync: linked people changed on either side -> field updates.

After push and Lead creation, AccountSync.run hands the account to UpdateStep, which:

1. settles a Dotdigital import a killed run left in flight (waits for it: its values then read
   back like any other change), then links the ledger's new people (sync/links.py);
2. reads what changed: each book's members modified since its update mark (v3 `~modified`,
   less the overlap window; one call per book when nothing changed) and the Leads and Contacts
   whose SystemModstamp moved since theirs (queryAll, so deleted and merged-away records come
   too; one call per object). Only linked people are kept;
3. per linked pair and mapped field, applies the row's direction against the merge base
   (sync/updates.py), from the values just read and, for the side that did not change, the
   values the link saw last;
4. writes in batches: Salesforce through sObject Collections updates (200 a call; Bulk API 2.0
   update jobs from sync.bulk_threshold on), Dotdigital through one v3 bulk import per batch;
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

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import TYPE_CHECKING, Any

from leadsync.dotdigital.model import Contact, ImportOutcome
from leadsync.errors import LimitReached, RemoteError
from leadsync.salesforce.errors import TRANSIENT_RECORD_CODES as TRANSIENT_CODES
from leadsync.salesforce.errors import SalesforceError
from leadsync.salesforce.model import SaveResult
from leadsync.state.model import Link
from leadsync.sync import links, write_errors
from leadsync.sync.update_report import UpdateTally
from leadsync.sync.updates import FieldNote, FieldRule, LinkPlan, plan_link, rules_for

if TYPE_CHECKING:
    from leadsync.sync.engine import AccountSync

CHUNK = 2000  # links evaluated, written and stored per round
COLLECTION = 200  # one sObject Collections update
READ_CHUNK = 2000  # changed Salesforce rows matched against links per round
LINK_BATCH = 5000  # ledger entries linked per round
ONE_BY_ONE = 20  # contacts read one by one at most; more: their books are read in full
IMPORT_MARK = "import:dotdigital"
EPOCH = "1970-01-01T00:00:00Z"
CONVERTED_LEAD = "CANNOT_UPDATE_CONVERTED_LEAD"
GONE_CODES = frozenset({"ENTITY_IS_DELETED"})


@dataclass(slots=True)
class _Side:
    """One side's outcome for one link in this round."""

    ok: bool = True
    pending: str | None = None  # why the write failed for now
    error: dict[str, Any] | None = None  # last error (pending) for the report
    notes: list[FieldNote] = field(default_factory=list)
    gone: str | None = None  # the record is gone: unlink
    reread: bool = False  # what was seen of the record is stale (a Lead converted since)


class UpdateStep:
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
        self._rules: dict[str, tuple[FieldRule, ...]] = {}
        self._fresh: dict[int, Link] = {}  # dry run: links the real run would make now
        self._marks: dict[str, str | None] = {}

    # -- orchestration -------------------------------------------------------------------------

    def run(self) -> None:
        if not (self.account.rows or self.account.contact_rows):
            return
        if not self.dry and not self.settle_import():
            return  # an earlier run's import still runs: nothing is read or written now
        self.link_new()
        counts = self.store.links_count(self.name)
        for link in self._fresh.values():
            counts[link.sobject] = counts.get(link.sobject, 0) + 1
        if not counts:
            return
        dd_changed = self.read_dotdigital()
        sf_changed = self.read_salesforce(counts)
        self._drop_seen(dd_changed, sf_changed)
        touched = set(dd_changed) | set(sf_changed) | set(self._fresh)
        touched |= {k.contact_id for k in self.store.links_with_outcome(self.name, ["pending"])}
        ids = sorted(touched)
        for start in range(0, len(ids), CHUNK):
            self.ctx.checkpoint()
            self.evaluate(ids[start : start + CHUNK], dd_changed, sf_changed)
        if not self.dry:
            self.held.verify()
            self.store.set_update_marks(self.name, self._marks)

    def _drop_seen(
        self, dd_changed: dict[int, Contact], sf_changed: dict[int, dict[str, Any]]
    ) -> None:
        """Forget what was read again with nothing new: the overlap window re-reads recent
        changes, and a value leadsync wrote reads back as it was written. Such people are
        not evaluated (an idle run needs no describe and no per-person work)."""
        ids = sorted(set(dd_changed) | set(sf_changed))
        for start in range(0, len(ids), READ_CHUNK):
            found = self._links_get(ids[start : start + READ_CHUNK])
            for cid, link in found.items():
                row = sf_changed.get(cid)
                if row is not None and _holds(row, link.sf_seen):
                    del sf_changed[cid]
                contact = dd_changed.get(cid)
                if (
                    contact is not None
                    and _holds(contact.datafields, link.dd_seen)
                    and contact.email.strip().lower() == link.email
                ):
                    del dd_changed[cid]
        self.tally.read_dotdigital = len(dd_changed)
        self.tally.read_salesforce = len(sf_changed)

    def _same_fields(self) -> set[str]:
        """Datafields mapped to the same field name for Leads and Contacts: their bases hold
        across a conversion."""
        lead = {r.datafield: r.salesforce for r in self.rules("Lead")}
        contact = {r.datafield: r.salesforce for r in self.rules("Contact")}
        return {df for df, name in lead.items() if contact.get(df) == name}

    def rules(self, sobject: str) -> tuple[FieldRule, ...]:
        if sobject not in self._rules:
            rows = self.account.rows if sobject == "Lead" else self.account.contact_rows
            describe = self.sf.describe(sobject)
            self._rules[sobject] = rules_for(sobject, rows, describe, self.account.datafield_types)
        return self._rules[sobject]

    # -- 1. links --------------------------------------------------------------------------------

    def settle_import(self) -> bool:
        """A Dotdigital import a killed run left in flight: wait for it before reading, so it
        cannot land after a newer one; what it wrote reads back as a change. False when it is
        still running after the client's status reads: the updates wait for the next run."""
        import_id = self.store.update_mark(self.name, IMPORT_MARK)
        if import_id:
            if self.dd.wait_import(import_id).running:
                return False
            self.store.set_update_marks(self.name, {IMPORT_MARK: None})
        return True

    def link_new(self) -> None:
        """Ledger entries with a Salesforce record, and people the push wrote, with no link
        yet -> new (pending) links."""
        while True:
            entries = self.store.ledger_unlinked(self.name, LINK_BATCH)
            pushed = self.store.push_unlinked(self.name, LINK_BATCH)
            now = _now()
            made: dict[int, Link] = {}
            for link in [
                *(links.from_entry(e, self.run_id, now) for e in entries),
                *(links.from_pushed(p, self.run_id, now) for p in pushed),
            ]:
                if link is not None and link.contact_id not in made:
                    made[link.contact_id] = link
            if self.dry:
                self._fresh.update(made)
                return
            if made:
                self.store.links_put(list(made.values()))
                self.tally.add("linked", len(made))
            if (len(entries) < LINK_BATCH and len(pushed) < LINK_BATCH) or not made:
                return

    # -- 2. what changed -------------------------------------------------------------------------

    def datafields(self) -> list[str]:
        rows = (*self.account.rows, *self.account.contact_rows)
        return sorted({r.datafield for r in rows})

    def read_dotdigital(self) -> dict[int, Contact]:
        """Linked contacts of the account's books modified since each book's update mark."""
        changed: dict[int, Contact] = {}
        started: datetime | None = None
        for book in self.account.books:
            source = f"dotdigital:{book.id}"
            # Where this read starts next time: the Lead step's mark of this run when it read
            # the book (taken before that read: whatever it saw is seen here too), else now.
            start = self.store.watermark(self.name, book.id) if book.create_leads else None
            if start is None:
                # Dotdigital's clock: its last answer's Date (an earlier read of this run, e.g.
                # the push's), which is before this read: a safe start; else ask it
                started = started or self.dd.last_date or self.dd.server_time()
                start = _iso(started)
            mark = self.store.update_mark(self.name, source)
            since = _parse(mark) - self._overlap() if mark else None
            for page in self.dd.book_members(
                book.id, modified_since=since, datafields=self.datafields()
            ):
                linked = self._links_get([c.id for c in page])
                for contact in page:
                    link = linked.get(contact.id)
                    if link is not None and link.state == "linked":
                        changed[contact.id] = contact
                self.ctx.check_stop()
            self._marks[source] = start
        self.tally.read_dotdigital = len(changed)
        return changed

    def read_salesforce(self, counts: Mapping[str, int]) -> dict[int, dict[str, Any]]:
        """Linked Leads and Contacts whose SystemModstamp moved since the object's update mark
        (queryAll: deleted and merged-away ones too), by contact id. Deleted records unlink
        their pair; a converted Lead moves its link to the Contact (read in full next)."""
        changed: dict[int, dict[str, Any]] = {}
        for sobject in ("Lead", "Contact"):
            if not counts.get(sobject) and not (
                sobject == "Contact" and self.tally.counts["converted"]
            ):
                continue  # fmt: skip
            source = f"salesforce:{sobject}"
            mark = self.store.update_mark(self.name, source)
            if mark is None:
                # First read of this object: every link of it is new (pending), read by Id;
                # changes from now on are those after the org's newest stamp.
                self._marks[source] = self._newest_stamp(sobject) or EPOCH
                continue
            since = _parse(mark) - self._overlap()
            top = mark
            try:
                rows = self._changed_rows(self._changed_soql(sobject, since))
            except SalesforceError as exc:
                if exc.code != "INVALID_FIELD":
                    raise
                rows = self._changed_rows(self._changed_soql(sobject, since, described=True))
            # Salesforce's clock when it answered the read's first page (its Date header): the
            # read saw every commit before it, so the next read may start there (less the
            # overlap) even when the newest record read is older, instead of re-reading the
            # same window run after run. Never later than that answer: a safe mark.
            answered = self.sf.last_date
            if answered is not None:
                top = max(top, answered.strftime("%Y-%m-%dT%H:%M:%SZ"), key=_key)
            for chunk in _chunks(rows, READ_CHUNK):
                top = max([top, *(str(r.get("SystemModstamp") or "") for r in chunk)], key=_key)
                self._match_changed(sobject, chunk, changed)
                self.ctx.check_stop()
            self._marks[source] = top
        self.tally.read_salesforce = len(changed)
        return changed

    def _changed_rows(self, soql: str) -> Iterator[dict[str, Any]]:
        """The rows of a change query: REST pages (2,000 rows a call), or, when the first page
        says sync.bulk_threshold rows or more have changed, one Bulk API 2.0 query job."""
        total, rows = self.sf.query_sized(soql, include_deleted=True)
        if total >= max(self.settings.bulk_threshold, READ_CHUNK + 1):
            return self.sf.bulk_query(soql, include_deleted=True)
        return rows

    def _match_changed(
        self, sobject: str, rows: Sequence[dict[str, Any]], changed: dict[int, dict[str, Any]]
    ) -> None:
        linked = self._links_for_records([str(r["Id"]) for r in rows])
        now = _now()
        moved: list[Link] = []
        for row in rows:
            link = linked.get(str(row["Id"]))
            if link is None or link.sobject != sobject:
                continue
            if _flag(row.get("IsDeleted")):
                master = row.get("MasterRecordId")
                why = f"merged into {master}" if master else "deleted"
                moved.append(
                    links.unlinked(
                        link,
                        f"{sobject} {link.record_id} was {why} in Salesforce",
                        self.run_id,
                        now,
                    )
                )
                self.tally.add("unlinked")
                changed.pop(link.contact_id, None)
            elif (
                sobject == "Lead"
                and _flag(row.get("IsConverted"))
                and row.get("ConvertedContactId")
            ):
                moved.append(
                    links.converted(
                        link, str(row["ConvertedContactId"]), self.run_id, now, self._same_fields()
                    )
                )
                self.tally.add("converted")
                changed.pop(link.contact_id, None)
            else:
                changed[link.contact_id] = row
        self._store_links(moved)

    def _changed_soql(self, sobject: str, since: datetime, *, described: bool = False) -> str:
        """The change query. Its fields come from the applied mapping (checked against the org
        by plan), so an idle run needs no describe; `described`: filtered by describe, for an
        org that dropped a mapped field since (the query answered INVALID_FIELD)."""
        if described:
            fields = self._fields(sobject, extra=("SystemModstamp", "IsDeleted", "MasterRecordId"))
        else:
            rows = self.account.rows if sobject == "Lead" else self.account.contact_rows
            converted = ("IsConverted", "ConvertedContactId") if sobject == "Lead" else ()
            names = ("Id", "SystemModstamp", "IsDeleted", *converted, *(r.salesforce for r in rows))
            fields = list(dict.fromkeys(names))
        return (
            f"SELECT {', '.join(fields)} FROM {sobject} "
            f"WHERE SystemModstamp >= {since.strftime('%Y-%m-%dT%H:%M:%SZ')} "
            "ORDER BY SystemModstamp"
        )

    def _fields(self, sobject: str, extra: Sequence[str] = ()) -> list[str]:
        described = self.sf.describe(sobject).fields
        wanted = ["Id", *(r.salesforce for r in self.rules(sobject) if r.info is not None)]
        if sobject == "Lead":
            wanted += ["IsConverted", "ConvertedContactId"]
        wanted += extra
        always = ("Id", "SystemModstamp", "IsDeleted")  # every object has them
        return list(dict.fromkeys(f for f in wanted if f in always or f in described))

    def _newest_stamp(self, sobject: str) -> str | None:
        soql = f"SELECT SystemModstamp FROM {sobject} ORDER BY SystemModstamp DESC LIMIT 1"
        for row in self.sf.query(soql):
            return str(row.get("SystemModstamp") or "") or None
        return None

    def _overlap(self) -> timedelta:
        return timedelta(seconds=self.settings.overlap_seconds)

    # -- 3. evaluate and write -------------------------------------------------------------------

    def evaluate(
        self,
        ids: Sequence[int],
        dd_changed: Mapping[int, Contact],
        sf_changed: Mapping[int, dict[str, Any]],
    ) -> None:
        """One round: the links of `ids` -> plans -> writes -> links stored."""
        found = {cid: k for cid, k in self._links_get(ids).items() if k.state == "linked"}
        sf_values = self._salesforce_values(found, sf_changed)
        dd_values = self._dotdigital_values(found, dd_changed)
        now = _now()
        plans: dict[int, LinkPlan] = {}
        repeated: dict[int, list[FieldNote]] = {}  # refusals that still hold: kept, not counted
        for cid, link in found.items():
            if cid not in sf_values or cid not in dd_values:
                continue  # unlinked while reading, or the contact is gone (recorded)
            if cid in dd_changed:
                found[cid] = link = links.with_email(link, dd_changed[cid].email)
            plan = plan_link(self.rules(link.sobject), link.base, sf_values[cid], dd_values[cid])
            plans[cid], repeated[cid] = links.without_repeated_failures(link, plan)
        if self.dry:
            self._preview(found, plans, sf_values)
            return
        sf_sides = self._write_salesforce(found, plans)
        dd_sides = self._write_dotdigital(found, plans)
        stored: list[Link] = []
        for cid, plan in plans.items():
            link, sf, dd = found[cid], sf_sides.get(cid, _Side()), dd_sides.get(cid, _Side())
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
        self._store_links(stored)

    def _count(self, link: Link, plan: LinkPlan, sf: _Side, dd: _Side, notes: list[FieldNote]):
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

    def _salesforce_values(
        self, found: dict[int, Link], changed: Mapping[int, dict[str, Any]]
    ) -> dict[int, dict[str, Any]]:
        """Raw Salesforce values of each link: read this run, else seen last, else read by Id
        now (new links). A record not found is gone: the pair is unlinked; a Lead found
        converted moves to its Contact, read in the same way."""
        out: dict[int, dict[str, Any]] = {}
        for _attempt in range(2):  # a Lead converted since: its Contact in the second pass
            wanted: dict[str, dict[str, Link]] = {}
            for cid, link in found.items():
                row = changed.get(cid)
                if cid in out:
                    continue
                if row is not None:  # read this run (a relinked pair's old row was dropped)
                    out[cid] = self._picked(link.sobject, row)
                elif _covers(link.sf_seen, [r.salesforce for r in self.rules(link.sobject)]):
                    out[cid] = dict(link.sf_seen or {})
                else:
                    wanted.setdefault(link.sobject, {})[link.record_id] = link
            if not wanted:
                break
            self._read_by_id(found, wanted, out)
        return out

    def _read_by_id(
        self, found: dict[int, Link], wanted: dict[str, dict[str, Link]], out: dict[int, Any]
    ) -> None:
        now = _now()
        moved: list[Link] = []
        for sobject, by_id in wanted.items():
            rows = self.sf.find_by(sobject, "Id", list(by_id), fields=self._fields(sobject))
            seen = {str(r["Id"])[:15]: r for r in rows}
            for record_id, link in by_id.items():
                row = seen.get(record_id[:15])
                if row is None:
                    why = f"{sobject} {record_id} is not in Salesforce any more (deleted)"
                    moved.append(links.unlinked(link, why, self.run_id, now))
                    self.tally.add("unlinked")
                    del found[link.contact_id]
                elif (
                    sobject == "Lead"
                    and _flag(row.get("IsConverted"))
                    and row.get("ConvertedContactId")
                ):
                    link = links.converted(
                        link, str(row["ConvertedContactId"]), self.run_id, now, self._same_fields()
                    )
                    found[link.contact_id] = link
                    moved.append(link)
                    self.tally.add("converted")
                else:
                    out[link.contact_id] = self._picked(sobject, row)
        self._store_links(moved)

    def _picked(self, sobject: str, row: Mapping[str, Any]) -> dict[str, Any]:
        return {r.salesforce: row.get(r.salesforce) for r in self.rules(sobject)}

    def _dotdigital_values(
        self, found: dict[int, Link], changed: Mapping[int, Contact]
    ) -> dict[int, dict[str, Any]]:
        """Raw Dotdigital values of each link: read this run, else seen last, else read now
        (a new link whose contact this run's ~modified reads did not bring: one the membership
        sweep found, or a retried pending member read in an earlier run)."""
        names = self.datafields()
        missing = [
            cid
            for cid, link in found.items()
            if cid not in changed and not _covers(link.dd_seen, names)
        ]
        fetched = self._fetch_contacts(found, missing) if missing else {}
        out: dict[int, dict[str, Any]] = {}
        for cid, link in found.items():
            contact = changed.get(cid) or fetched.get(cid)
            if contact is not None:
                out[cid] = {n: contact.datafields.get(n) for n in names}
            elif cid in missing:
                self.tally.add("update_skipped")  # the contact is gone from Dotdigital
            else:
                out[cid] = dict(link.dd_seen or {})
        return out

    def _fetch_contacts(self, found: Mapping[int, Link], ids: Sequence[int]) -> dict[int, Contact]:
        """A few contacts one by one; more than ONE_BY_ONE: their books read in full once
        (5,000 members a call), which costs less than a call per contact."""
        if len(ids) <= ONE_BY_ONE:
            return {c.id: c for c in map(self.dd.contact_by_id, ids) if c is not None}
        wanted = set(ids)
        books = {found[cid].book_id for cid in ids}
        out: dict[int, Contact] = {}
        for book in self.account.books:
            if book.id not in books:
                continue
            for page in self.dd.book_members(book.id, datafields=self.datafields()):
                out.update((c.id, c) for c in page if c.id in wanted)
                self.ctx.check_stop()
        for cid in sorted(wanted - set(out))[:ONE_BY_ONE]:  # in a book no longer applied
            contact = self.dd.contact_by_id(cid)
            if contact is not None:
                out[cid] = contact
        return out

    def _write_salesforce(
        self, found: Mapping[int, Link], plans: Mapping[int, LinkPlan]
    ) -> dict[int, _Side]:
        sides: dict[int, _Side] = {}
        by_object: dict[str, list[int]] = {}
        for cid, plan in plans.items():
            if plan.to_salesforce:
                by_object.setdefault(found[cid].sobject, []).append(cid)
        for sobject, cids in sorted(by_object.items()):
            bulk = len(cids) >= self.settings.bulk_threshold
            size = len(cids) if bulk else COLLECTION
            for start in range(0, len(cids), size):
                batch = cids[start : start + size]
                records = [{"Id": found[c].record_id, **plans[c].to_salesforce} for c in batch]
                self.ctx.checkpoint()
                self.held.verify()
                try:
                    if bulk:
                        results = self.sf.bulk_update(sobject, records)
                    else:
                        results = self.sf.update(
                            sobject,
                            records,
                            allow_duplicate_save=self.settings.allow_duplicate_save,
                        )
                except LimitReached:
                    raise  # nothing of this batch is recorded: re-derived by the next run
                except RemoteError as exc:
                    error = write_errors.of_exception(exc)
                    for cid in batch:
                        sides[cid] = self._refused_all(found[cid], plans[cid], error, exc)
                    continue
                for cid, result in zip(batch, results, strict=True):
                    sides[cid] = self._salesforce_side(found[cid], plans[cid], result)
        return sides

    def _refused_all(
        self, link: Link, plan: LinkPlan, error: write_errors.WriteError, exc: Exception
    ) -> _Side:
        stamped = error.stamped(self.run_id, _now())
        rules = self.rules(link.sobject)
        if getattr(exc, "transient", False):
            return _Side(
                ok=False, pending=f"Salesforce update failed for now: {exc}", error=stamped
            )
        return _Side(
            ok=False,
            notes=_refused(plan.to_salesforce, "Salesforce", error.error_class, str(exc), rules),
        )

    def _salesforce_side(self, link: Link, plan: LinkPlan, result: SaveResult) -> _Side:
        if result.success:
            return _Side()
        err = result.errors[0] if result.errors else None
        code = err.status_code if err else "UNKNOWN"
        message = err.message if err else "no error message"
        if code in GONE_CODES:
            return _Side(
                ok=False, gone=f"{link.sobject} {link.record_id} is gone from Salesforce ({code})"
            )
        if code in TRANSIENT_CODES or code == CONVERTED_LEAD:
            # A Lead converted since it was read: read again by Id next run, which finds it
            # converted and follows its Contact from then on.
            error = write_errors.of_record(code, message).stamped(self.run_id, _now())
            return _Side(
                ok=False,
                pending=f"Salesforce: {code}: {message}",
                error=error,
                reread=code == CONVERTED_LEAD,
            )
        rules = self.rules(link.sobject)
        return _Side(
            ok=False, notes=_refused(plan.to_salesforce, "Salesforce", code, message, rules)
        )

    def _write_dotdigital(
        self, found: Mapping[int, Link], plans: Mapping[int, LinkPlan]
    ) -> dict[int, _Side]:
        cids = [cid for cid, plan in plans.items() if plan.to_dotdigital]
        sides: dict[int, _Side] = {}
        if not cids:
            return sides
        contacts = [
            {
                "matchIdentifier": "contactId",
                "identifiers": {"contactId": cid},
                "dataFields": plans[cid].to_dotdigital,
            }
            for cid in cids
        ]
        self.ctx.check_stop()
        self.held.verify()
        try:
            outcome = self.dd.import_contacts(
                contacts,
                # write-ahead: the id is stored before the status is read (settle_import)
                on_submit=lambda iid: self.store.set_update_marks(self.name, {IMPORT_MARK: iid}),
            )
        except LimitReached:
            raise
        except RemoteError as exc:
            if not getattr(exc, "transient", False):
                raise
            error = write_errors.of_exception(exc).stamped(self.run_id, _now())
            why = f"Dotdigital import failed for now: {exc}"
            return {cid: _Side(ok=False, pending=why, error=error) for cid in cids}
        if outcome.running:  # the next run waits for it (settle_import), then reads it back
            why = f"Dotdigital import {outcome.import_id} still running"
            error = write_errors.of_record("NotFinished", why, "Dotdigital").stamped(
                self.run_id, _now()
            )
            return {cid: _Side(ok=False, pending=why, error=error) for cid in cids}
        self.store.set_update_marks(self.name, {IMPORT_MARK: None})
        return self._import_sides(found, cids, plans, outcome)

    def _import_sides(
        self,
        found: Mapping[int, Link],
        cids: Sequence[int],
        plans: Mapping[int, LinkPlan],
        outcome: ImportOutcome,
    ) -> dict[int, _Side]:
        """Per-contact outcome of an import no longer running: those it lists as updated (or
        created) succeeded, those it lists as failed failed, the rest (a failure it could not
        name, e.g. a contact id that no longer exists) failed too, with the import's reason.
        An import that ended without writing (RejectedByWatchdog, Failed) leaves all pending."""
        if not outcome.finished:
            why = f"Dotdigital import ended {outcome.status}"
            error = write_errors.of_record(outcome.status, why, "Dotdigital").stamped(
                self.run_id, _now()
            )
            return {cid: _Side(ok=False, pending=why, error=error) for cid in cids}
        done = set(outcome.updated.values()) | set(outcome.created.values())
        unnamed = ("contactNotFound", "the import did not update this contact (is it gone?)")
        sides: dict[int, _Side] = {}
        for cid in cids:
            if cid in done:
                continue
            code, message = outcome.failed_ids.get(cid) or unnamed
            sides[cid] = _Side(
                ok=False,
                notes=_refused(
                    plans[cid].to_dotdigital,
                    "Dotdigital",
                    code,
                    message,
                    self.rules(found[cid].sobject),
                ),
            )
        return sides

    # -- dry run ---------------------------------------------------------------------------------

    def _preview(
        self, found: Mapping[int, Link], plans: Mapping[int, LinkPlan], sf_values: Mapping[int, Any]
    ) -> None:
        for cid, plan in plans.items():
            link = found[cid]
            rules = {r.salesforce: r for r in self.rules(link.sobject)}
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
            self._count(link, plan, _Side(), _Side(), plan.notes)

    # -- store -----------------------------------------------------------------------------------

    def _links_get(self, ids: Sequence[int]) -> dict[int, Link]:
        found = self.store.links_get(self.name, ids)
        for cid in ids:
            if cid in self._fresh and cid not in found:
                found[cid] = self._fresh[cid]
        return found

    def _links_for_records(self, record_ids: Sequence[str]) -> dict[str, Link]:
        found = self.store.links_for_records(self.name, record_ids)
        for link in self._fresh.values():
            found.setdefault(link.record_id, link)
        return found

    def _store_links(self, changed: Sequence[Link]) -> None:
        if self.dry:
            for link in changed:
                self._fresh[link.contact_id] = link
            return
        if changed:
            self.held.verify()
            self.store.links_put(list(changed))


def _refused(
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


def _holds(values: Mapping[str, Any], seen: Mapping[str, Any] | None) -> bool:
    """Whether `values` (just read) still hold every value seen last (nothing new)."""
    return bool(seen) and all(values.get(k) == v for k, v in (seen or {}).items())


def _flag(value: Any) -> bool:
    """A Salesforce checkbox as REST (a boolean) or a Bulk query's CSV (text) gives it."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _covers(seen: Mapping[str, Any] | None, names: Sequence[str]) -> bool:
    """Whether values seen earlier hold every field mapped now (a row added to the mapping
    since: that field was never read, which is not the same as read empty)."""
    return seen is not None and all(n in seen for n in names)


def _chunks(rows: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    while chunk := list(islice(rows, size)):
        yield chunk


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def _key(stamp: str) -> datetime:
    return _parse(stamp) if stamp else datetime.min.replace(tzinfo=UTC)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


def _parse(text: str) -> datetime:
    """ISO 8601 as either system writes it (`Z`, `+00:00`, Salesforce's `+0000`)."""
    text = text.strip().replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = text[:-2] + ":" + text[-2:]
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
