"""What changed on either side since the update marks, and where the next read starts.

Dotdigital: each book's members modified since its mark (v3 `~modified`, less the overlap
window; one call per book when nothing changed). Salesforce: the Leads and Contacts whose
SystemModstamp moved since the object's mark (queryAll, so deleted and merged-away records come
too; one call per object, or a Bulk API 2.0 query job from sync.bulk_threshold rows on). Only
linked people are kept. A deleted record unlinks its pair; a converted Lead moves its link to
its Contact (sync/links.py). The marks computed here are stored by the step, last.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from itertools import islice
from typing import TYPE_CHECKING, Any

from leadsync.dotdigital.model import Contact
from leadsync.emails import normalise_email
from leadsync.salesforce.errors import SalesforceError
from leadsync.state.model import Link
from leadsync.sync import links, wire
from leadsync.sync.update_handover import BookRead, then_the_rest

if TYPE_CHECKING:
    from leadsync.sync.update_step import UpdateStep

READ_CHUNK = 2000  # changed Salesforce rows matched against links per round
LINKS_AT_ONCE = 1000  # links read (decoded) at once for a page of Dotdigital changes
EPOCH = "1970-01-01T00:00:00Z"


class ChangeReads:
    """The reads of one account's changes; `marks` holds where the next ones start."""

    def __init__(self, step: UpdateStep) -> None:
        self.step = step
        self.tally = step.tally
        self.links = step.links
        self.marks: dict[str, str | None] = {}
        self.overlap = timedelta(seconds=step.settings.overlap_seconds)
        self._only_read = False  # see _only_links_from_the_read

    def dotdigital_rounds(self, size: int) -> Iterator[dict[int, Contact]]:
        """Linked contacts of the account's books modified since each book's update mark,
        less those read again with nothing new (`_seen_again`), in rounds of at most `size`:
        the step evaluates each round before the read goes on, so a first read of a large
        book never holds every new link's contact at once. A contact in two books comes once."""
        started: datetime | None = None
        given: set[int] = set()  # only kept when a contact can be in two of the books
        several = len(self.step.account.books) > 1
        round_: dict[int, Contact] = {}
        self.tally.read_dotdigital = 0
        self._only_read = self._only_links_from_the_read()  # before any link is evaluated
        for book in self.step.account.books:
            source = f"dotdigital:{book.id}"
            # Where this read starts next time: the Lead step's mark of this run when it read
            # the book (taken before that read: whatever it saw is seen here too), else now.
            start = (
                self.step.store.watermark(self.step.name, book.id) if book.create_leads else None
            )
            if start is None:
                # Dotdigital's clock: its last answer's Date (an earlier read of this run, e.g.
                # the push's), which is before this read: a safe start; else ask it
                started = started or self.step.dd.last_date or self.step.dd.server_time()
                start = wire.iso(started)
            mark = self.step.store.update_mark(self.step.name, source)
            since = wire.parse(mark) - self.overlap if mark else None
            for page in self._book_pages(book.id, since):
                for part in _parts(page, LINKS_AT_ONCE):  # few links decoded at once
                    linked = self.links.get([c.id for c in part])
                    for contact in part:
                        link = linked.get(contact.id)
                        if link is None or link.state != "linked" or contact.id in given:
                            continue
                        if not _seen_again(contact, link):
                            round_[contact.id] = contact
                        if several:
                            given.add(contact.id)
                self.step.ctx.check_stop()
                while len(round_) >= size:
                    ids = sorted(round_)[:size]
                    self.tally.read_dotdigital += len(ids)
                    yield {cid: round_.pop(cid) for cid in ids}
            self.marks[source] = start
        if round_:
            self.tally.read_dotdigital += len(round_)
            yield round_

    def _book_pages(self, book_id: int, since: datetime | None) -> Iterator[list[Contact]]:
        """The book's members modified since `since` (None: every member). When the Lead step
        has just read that same window (sync/update_handover.py), only the members modified
        since its read started are asked for, and the rest are the ones it read."""
        names = self.step.fields.datafields()
        read = self._handed_over(book_id, since, names)
        if read is None:
            return self.step.dd.book_members(book_id, modified_since=since, datafields=names)
        pages = self.step.dd.book_members(book_id, modified_since=read.started, datafields=names)
        return then_the_rest(pages, read)

    def _handed_over(
        self, book_id: int, since: datetime | None, names: Sequence[str]
    ) -> BookRead | None:
        """The Lead step's read of the book, when it covers exactly what this read must see:
        the same window, every datafield mapped. A first update read (no mark: every member)
        is covered by a read of every member, or when every link is one this run made from
        a member the Lead step read (a first sync): then no other linked member can change
        what is evaluated."""
        read = self.step.parent.handover.book(book_id)
        if read is None or self.step.dry or not set(names) <= read.datafields:
            return None
        if since is not None:
            return read if read.since == since else None
        return read if read.since is None or self._only_read else None

    def _only_links_from_the_read(self) -> bool:
        """Whether every link is a new one, not stored yet, of a member the Lead step read."""
        handed = self.step.parent.handover.contact_ids()
        if not handed or any(self.step.store.links_count(self.step.name).values()):
            return False
        return set(self.links.fresh) <= handed

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
            mark = self.step.store.update_mark(self.step.name, source)
            if mark is None:
                # First read of this object: every link of it is new (pending), read by Id;
                # changes from now on are those after the org's newest stamp.
                self.marks[source] = self._newest_stamp(sobject) or EPOCH
                continue
            self.marks[source] = self._read_object(sobject, mark, changed)
        self.tally.read_salesforce = len(changed)
        return changed

    def _read_object(self, sobject: str, mark: str, changed: dict[int, dict[str, Any]]) -> str:
        """The changed records of one object into `changed`; returns its next mark."""
        since = wire.parse(mark) - self.overlap
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
        answered = self.step.sf.last_date
        if answered is not None:
            top = max(top, wire.soql_datetime(answered), key=wire.stamp_key)
        for chunk in _chunks(rows, READ_CHUNK):
            stamps = (str(r.get("SystemModstamp") or "") for r in chunk)
            top = max([top, *stamps], key=wire.stamp_key)
            self._match_changed(sobject, chunk, changed)
            self.step.ctx.check_stop()
        return top

    def _changed_rows(self, soql: str) -> Iterator[dict[str, Any]]:
        """The rows of a change query: REST pages (2,000 rows a call), or, when the first page
        says sync.bulk_threshold rows or more have changed, one Bulk API 2.0 query job."""
        total, rows = self.step.sf.query_sized(soql, include_deleted=True)
        if total >= max(self.step.settings.bulk_threshold, READ_CHUNK + 1):
            return self.step.sf.bulk_query(soql, include_deleted=True)
        return rows

    def _match_changed(
        self, sobject: str, rows: Sequence[dict[str, Any]], changed: dict[int, dict[str, Any]]
    ) -> None:
        linked = self.links.for_records([str(r["Id"]) for r in rows])
        now = wire.now()
        run_id = self.step.run_id
        moved: list[Link] = []
        for row in rows:
            link = linked.get(str(row["Id"]))
            if link is None or link.sobject != sobject:
                continue
            gone = links.deleted_why(link, row)
            contact_id = links.converted_into(sobject, row)
            if gone is not None:
                moved.append(links.unlinked(link, gone, run_id, now))
                self.tally.add("unlinked")
                changed.pop(link.contact_id, None)
            elif contact_id is not None:
                same = self.step.fields.same_fields()
                moved.append(links.converted(link, contact_id, run_id, now, same))
                self.tally.add("converted")
                changed.pop(link.contact_id, None)
            else:
                changed[link.contact_id] = row
        self.links.put(moved)

    def _changed_soql(self, sobject: str, since: datetime, *, described: bool = False) -> str:
        """The change query. Its fields come from the applied mapping (checked against the org
        by plan), so an idle run needs no describe; `described`: filtered by describe, for an
        org that dropped a mapped field since (the query answered INVALID_FIELD)."""
        if described:
            extra = ("SystemModstamp", "IsDeleted", "MasterRecordId")
            fields = self.step.fields.described(sobject, extra=extra)
        else:
            fields = self.step.fields.mapped(sobject)
        return (
            f"SELECT {', '.join(fields)} FROM {sobject} "
            f"WHERE SystemModstamp >= {wire.soql_datetime(since)} "
            "ORDER BY SystemModstamp"
        )

    def _newest_stamp(self, sobject: str) -> str | None:
        soql = f"SELECT SystemModstamp FROM {sobject} ORDER BY SystemModstamp DESC LIMIT 1"
        for row in self.step.sf.query(soql):
            return str(row.get("SystemModstamp") or "") or None
        return None

    def drop_seen(self, sf_changed: dict[int, dict[str, Any]]) -> None:
        """Forget the records read again with nothing new: the overlap window re-reads recent
        changes, and a value leadsync wrote reads back as it was written. Such people are
        not evaluated (an idle run needs no describe and no per-person work)."""
        ids = sorted(sf_changed)
        for start in range(0, len(ids), READ_CHUNK):
            found = self.links.get(ids[start : start + READ_CHUNK])
            for cid, link in found.items():
                if _holds(sf_changed[cid], link.sf_seen):
                    del sf_changed[cid]
        self.tally.read_salesforce = len(sf_changed)


def _seen_again(contact: Contact, link: Link) -> bool:
    """A contact read again with nothing new (the Dotdigital side of `drop_seen`)."""
    return _holds(contact.datafields, link.dd_seen) and normalise_email(contact.email) == link.email


def _holds(values: Mapping[str, Any], seen: Mapping[str, Any] | None) -> bool:
    """Whether `values` (just read) still hold every value seen last (nothing new)."""
    return bool(seen) and all(values.get(k) == v for k, v in (seen or {}).items())


def _parts(items: Sequence[Contact], size: int) -> Iterator[Sequence[Contact]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _chunks(rows: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    while chunk := list(islice(rows, size)):
        yield chunk
