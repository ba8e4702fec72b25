"""Both sides' values of each link about to be evaluated: read this run, seen last, or read now.

A side that changed this run was just read (sync/update_changes.py). The other side is taken
from what the link saw last, when that covers every field mapped now; else (a new link, a row
added to the mapping since) it is read now: Salesforce records by Id, Dotdigital contacts one by
one, or their books in full when there are many. A record not found any more unlinks its pair;
a Lead found converted moves its link to the Contact, which is read the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from leadsync.dotdigital.model import Contact
from leadsync.state.model import Link
from leadsync.sync import links, wire

if TYPE_CHECKING:
    from leadsync.sync.update_step import UpdateStep

ONE_BY_ONE = 20  # contacts read one by one at most; more: their books are read in full


class LinkValues:
    def __init__(self, step: UpdateStep) -> None:
        self.step = step
        self.fields = step.fields
        self.tally = step.tally

    def salesforce(
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
                elif _covers(link.sf_seen, [r.salesforce for r in self.fields.rules(link.sobject)]):
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
        now = wire.now()
        run_id = self.step.run_id
        moved: list[Link] = []
        for sobject, by_id in wanted.items():
            fields = self.fields.described(sobject)
            rows = self.step.sf.find_by(sobject, "Id", list(by_id), fields=fields)
            seen = {str(r["Id"])[:15]: r for r in rows}
            for record_id, link in by_id.items():
                row = seen.get(record_id[:15])
                contact_id = links.converted_into(sobject, row) if row is not None else None
                if row is None:
                    why = f"{sobject} {record_id} is not in Salesforce any more (deleted)"
                    moved.append(links.unlinked(link, why, run_id, now))
                    self.tally.add("unlinked")
                    del found[link.contact_id]
                elif contact_id is not None:
                    same = self.fields.same_fields()
                    link = links.converted(link, contact_id, run_id, now, same)
                    found[link.contact_id] = link
                    moved.append(link)
                    self.tally.add("converted")
                else:
                    out[link.contact_id] = self._picked(sobject, row)
        self.step.links.put(moved)

    def _picked(self, sobject: str, row: Mapping[str, Any]) -> dict[str, Any]:
        return {r.salesforce: row.get(r.salesforce) for r in self.fields.rules(sobject)}

    def dotdigital(
        self, found: dict[int, Link], changed: Mapping[int, Contact]
    ) -> dict[int, dict[str, Any]]:
        """Raw Dotdigital values of each link: read this run, else seen last, else read now
        (a new link whose contact this run's ~modified reads did not bring: one the membership
        sweep found, or a retried pending member read in an earlier run)."""
        names = self.fields.datafields()
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
        dd = self.step.dd
        if len(ids) <= ONE_BY_ONE:
            return {c.id: c for c in map(dd.contact_by_id, ids) if c is not None}
        wanted = set(ids)
        books = {found[cid].book_id for cid in ids}
        out: dict[int, Contact] = {}
        for book in self.step.account.books:
            if book.id not in books:
                continue
            for page in dd.book_members(book.id, datafields=self.fields.datafields()):
                out.update((c.id, c) for c in page if c.id in wanted)
                self.step.ctx.check_stop()
        for cid in sorted(wanted - set(out))[:ONE_BY_ONE]:  # in a book no longer applied
            contact = dd.contact_by_id(cid)
            if contact is not None:
                out[cid] = contact
        return out


def _covers(seen: Mapping[str, Any] | None, names: Sequence[str]) -> bool:
    """Whether values seen earlier hold every field mapped now (a row added to the mapping
    since: that field was never read, which is not the same as read empty)."""
    return seen is not None and all(n in seen for n in names)
