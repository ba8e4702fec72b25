"""Step 1 of an account's sync: the push (Salesforce -> Dotdigital), around the pure pushmap.

For each book with `push_campaign_members`, the linked Campaign's members (Leads and Contacts,
with their mapped fields) are imported into the book through Dotdigital's bulk import, never one
call per contact; with `clear_address_books: true` the book is first emptied of everyone who is
not (or no longer) one of them. It runs under the account's lock, before lead creation, and a
person it pushes is never turned into a Lead (`exclude_pushed`).

Reading is incremental: the first push of a book (and any change of its campaign, statuses,
rows or clear setting) reads every member; later ones read only CampaignMembers, Leads and
Contacts changed since the book's Salesforce mark (the latest SystemModstamp read, less
sync.overlap_seconds), plus deleted members (queryAll). With clearing, Dotdigital's side is read
the same way (members added or changed since the book's Dotdigital mark). An idle run costs one
Salesforce query per pushing book, and one Dotdigital read when it clears.

Crash safety, with the lead sync's discipline (engine.py):
1. Record before writing: what a read changes is stored in push_members before anything is
   written to Dotdigital (members who left are stored `left` before they are removed).
2. Write-ahead: an import's members are stored with `attempt` before it is sent, and with the
   import's id as soon as Dotdigital accepts it (before its status is read); pushimport.py.
3. Resolve first (pushimport.py): a run starts by settling what a killed run left in flight.
   An import whose id is known is asked for its outcome; one whose id never came back is sent
   again: an import is an upsert by email into the book's member set, so sending it twice
   leaves each person once, with the same values. Removing a member twice is as harmless.
4. The marks move last, after everything read has been recorded and written.
`held.verify()` runs before every batch of remote writes, as in lead creation.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from leadsync.emails import normalise_email
from leadsync.state.model import LedgerEntry, PushEntry, PushMark
from leadsync.sync import ledger, pushmap, wire
from leadsync.sync.applied import BookView
from leadsync.sync.pushimport import PushImports, count_written, tally_of
from leadsync.sync.pushmap import CURRENT, PushRules, Wanted, evolve

if TYPE_CHECKING:
    from leadsync.sync.engine import AccountSync

READ_CHUNK = 2000  # CampaignMember rows decided per round of push-table lookups
IMPORT_RECORDS = 10_000  # contacts per Dotdigital import (one write-ahead unit)
FULL_READ_DAYS = 14  # deleted members stay in Salesforce's recycle bin 15 days: read all before


class PushAccount:
    """The push of one account: settle what a killed run left in flight, then each book."""

    def __init__(self, parent: AccountSync) -> None:
        self.parent = parent
        self.ctx = parent.ctx
        self.account = parent.account
        self.store = parent.store
        self.dd = parent.dd
        self.run_id = parent.run_id
        self.imports = PushImports(parent)

    def run(self) -> None:
        if not self.ctx.dry_run:
            self.imports.resolve_in_doubt()
        for book in self.account.push_books:
            self.ctx.check_stop()
            PushBook(self, book).run()


class PushBook:
    """One pushing book: read Salesforce (and, clearing, Dotdigital), record, remove, import."""

    def __init__(self, owner: PushAccount, book: BookView) -> None:
        self.owner = owner
        self.ctx = owner.ctx
        self.store = owner.store
        self.dd = owner.dd
        self.sf = owner.parent.sf
        self.held = owner.parent.held
        self.run_id = owner.run_id
        self.dry = owner.ctx.dry_run
        acct = owner.account
        self.book = book
        self.rules = PushRules.of(
            account=acct.name,
            book_id=book.id,
            book=book.name,
            campaign_id=book.campaign_id or "",
            campaign=book.campaign_name or "",
            statuses=book.member_statuses,
            lead_rows=acct.rows,
            contact_rows=acct.contact_rows,
            datafield_types=acct.datafield_types,
            clear=acct.clear_address_books,
        )
        self.tally = tally_of(owner.parent, book, book.id)
        self.overlap = timedelta(seconds=self.ctx.view.settings.overlap_seconds)
        # This run's decisions, by member id: stored at once in a real run, only remembered in
        # a dry run (what the real run would store), so both read the same "current" members.
        self.decided: dict[str, PushEntry] = {}
        self.kinds: dict[str, str] = {}  # member id -> added | updated (this run)
        self.leavers: list[PushEntry] = []  # left the Campaign in this run
        self.answered: datetime | None = None  # Salesforce's time when it answered the read

    def run(self) -> None:
        mark = self.store.push_mark(self.rules.account, self.book.id)
        fingerprint = self.rules.fingerprint()
        same = mark is not None and mark.fingerprint == fingerprint
        full = not same or mark is None or not mark.salesforce or _stale(mark.full_at)
        self.tally.full_read = full
        high = self.read_salesforce(None if full else _since(mark, self.overlap))
        dd_mark = mark.dotdigital if same and mark is not None else None
        if self.rules.clear:
            dd_mark = self.clear_outsiders(dd_mark)
            self.remove_leavers()
        else:
            self.count_leavers()
        self.write_pending()
        if self.dry:
            return
        old_high = mark.salesforce if same and mark is not None and not full else None
        new = PushMark(
            self.rules.account,
            self.book.id,
            salesforce=_later(old_high, high),
            dotdigital=dd_mark,
            fingerprint=fingerprint,
            full_at=wire.now() if full else (mark.full_at if mark is not None else None),
        )
        self.held.verify()
        self.store.set_push_mark(new)
        self.tally.watermark = new.salesforce

    # -- 1. Salesforce: who should be in the book -------------------------------------------------

    def read_salesforce(self, since: datetime | None) -> str | None:
        """Read the Campaign's members (all, or those changed since), decide and record each.

        Returns where the next read starts: Salesforce's time when it answered this read (the
        Date of its first answer; members changed after that are read next time, those it
        committed late are caught by the overlap), else the latest SystemModstamp read."""
        soql = pushmap.member_query(self.rules, since)
        high: datetime | None = None
        high_raw: str | None = None
        seen: set[str] = set()
        batch: list[Wanted] = []
        for row in self.read_rows(soql, since):
            want = pushmap.wanted(self.rules, row)
            if not want.member_id:
                continue
            self.tally.count("read")
            seen.add(want.member_id)
            if want.stamp is not None and (high is None or want.stamp > high):
                high, high_raw = want.stamp, wire.iso(want.stamp)
            batch.append(want)
            if len(batch) >= READ_CHUNK:
                self.decide(batch)
                batch = []
        self.decide(batch)
        if since is None:
            self.unseen(seen)
        if self.answered is not None:
            return wire.iso(self.answered)
        return high_raw

    def read_rows(self, soql: str, since: datetime | None) -> Iterable[dict[str, Any]]:
        """The rows of the member query: first counted (one call, whose answer's Date is
        where the next read starts), then read through the REST query API, or a Bulk API 2.0
        query job from sync.bulk_threshold rows on (a few calls, whatever the size)."""
        deleted = since is not None  # incremental: queryAll, deleted members included
        before = self.sf.last_date
        count_soql = pushmap.member_query(self.rules, since, count=True)
        count = self.sf.query_count(count_soql, include_deleted=deleted)
        if self.sf.last_date is not before:
            self.answered = self.sf.last_date
        self.tally.bulk_read = count >= self.ctx.view.settings.bulk_threshold
        if not count:
            return ()
        if self.tally.bulk_read:
            return self.sf.bulk_query(soql, include_deleted=deleted)
        return self.sf.query(soql, include_deleted=deleted)

    def decide(self, batch: list[Wanted]) -> None:
        if not batch:
            return
        old = self.store.push_get(self.rules.account, self.book.id, [w.member_id for w in batch])
        now = wire.now()
        changed: list[PushEntry] = []
        for want in batch:
            decision = pushmap.decide(
                self.rules, want, old.get(want.member_id), run_id=self.run_id, now=now
            )
            changed += decision.store
            self.note(decision.kind, want, decision.store)
        self.record(changed)
        self.ctx.check_stop()  # cut short: the mark stays, the next run reads again

    def note(self, kind: str, want: Wanted, stored: list[PushEntry]) -> None:
        if kind in ("added", "updated"):
            self.kinds[want.member_id] = kind
        elif kind == "unchanged":
            self.tally.count("unchanged")
        elif kind in ("skipped", "failed"):
            entry = stored[-1]
            self.tally.count(kind)
            self.tally.reasons[entry.reason_code or kind] += 1
            self.tally.sample(kind, want.email or f"(member {want.member_id})", entry.reason or "")
        self.leavers += [e for e in stored if e.state == "left"]

    def unseen(self, seen: set[str]) -> None:
        """A full read: members the push table holds that Salesforce no longer lists left."""
        now = wire.now()
        gone: list[PushEntry] = []
        for entry in self.store.push_iter(self.rules.account, self.book.id, sorted(CURRENT)):
            if entry.member_id in seen or entry.attempt is not None or "|" in entry.member_id:
                continue
            if entry.member_id.startswith("dd:"):
                continue
            gone.append(pushmap.left_unseen(entry, self.run_id, now))
        self.leavers += gone
        self.record(gone)

    def record(self, entries: list[PushEntry]) -> None:
        for e in entries:
            self.decided[e.member_id] = e
        if entries and not self.dry:
            self.store.push_put(entries)

    # -- 2. Dotdigital: who must leave the book ----------------------------------------------------

    def count_leavers(self) -> None:
        """clear_address_books: false: people who left the Campaign stay in the book."""
        for entry in self.leavers:
            self.tally.count("left")
            self.tally.sample("left", entry.email, entry.reason or "")

    def remove_leavers(self) -> None:
        """clear_address_books: true: members who left (this run or before) leave the book,
        unless another member of the Campaign has the same email."""
        leaving = {e.member_id: e for e in self._stored("left")}
        leaving.update({e.member_id: e for e in self.leavers})
        entries = [e for e in leaving.values() if e.state == "left"]
        keep = self.current_emails([e.email for e in entries])
        now = wire.now()
        kept = [
            evolve(e, state="removed", reason="another member of the Campaign has this email: kept")
            for e in entries
            if e.email in keep or not e.email
        ]
        go = [e for e in entries if e.email and e.email not in keep]
        if kept:
            self.record(kept)
        if not go:
            return
        if self.dry:
            self.would_remove([(e.email, e.reason or "") for e in go])
            return
        ids = self.contact_ids(go)
        if not self.remove(list(ids.values()), [e.email for e in go]):
            return
        done = [
            evolve(
                e,
                state="removed",
                contact_id=ids.get(e.member_id, e.contact_id),
                last_run=self.run_id,
                updated_at=now,
            )
            for e in go
        ]
        self.record(done)
        for e in done:
            self.tally.count("removed")
            self.tally.reasons[e.reason_code or pushmap.LEFT_CAMPAIGN] += 1

    def contact_ids(self, entries: list[PushEntry]) -> dict[str, int]:
        """member id -> Dotdigital contact id (asked by email when no import reported it)."""
        out: dict[str, int] = {}
        for e in entries:
            cid = e.contact_id if e.contact_id is not None else self.dd.contact_id_of(e.email)
            if cid is not None:
                out[e.member_id] = cid
        return out

    def clear_outsiders(self, dd_mark: str | None) -> str | None:
        """clear_address_books: true: members of the book who are not pushed people of its
        Campaign (added on the Dotdigital side) leave it. Reads the members added or changed
        since the book's Dotdigital mark (all of them the first time); returns the new mark:
        Dotdigital's time at the first answer of this read."""
        since = None
        if dd_mark:
            since = wire.parse(dd_mark) - self.overlap
        before = self.dd.last_date
        started: datetime | None = None
        outsiders: dict[int, str] = {}
        pages = self.dd.book_members(self.book.id, modified_since=since, datafields=())
        for page in pages:
            if started is None:
                started = self.dd.last_date
            emails = [normalise_email(c.email) for c in page]
            keep = self.current_emails(emails) | self.leaving_emails(emails)
            for contact in page:
                email = normalise_email(contact.email)
                if email not in keep:
                    outsiders[contact.id] = email
            self.ctx.check_stop()
        if started is None and self.dd.last_date is not before:
            started = self.dd.last_date
        if started is None:
            started = self.dd.server_time()
        self.remove_outsiders(outsiders)
        return wire.iso(started)

    def remove_outsiders(self, outsiders: dict[int, str]) -> None:
        if not outsiders:
            return
        reason = f"not a member of campaign {self.rules.campaign!r} (clear_address_books: true)"
        if self.dry:
            self.would_remove([(email, reason) for email in outsiders.values()])
            return
        if not self.remove(list(outsiders), list(outsiders.values())):
            return
        now = wire.now()
        rows = [
            PushEntry(
                account=self.rules.account,
                book_id=self.book.id,
                member_id=f"dd:{cid}",
                email=email,
                state="removed",
                campaign_id=self.rules.campaign_id,
                contact_id=cid,
                reason_code=pushmap.NOT_IN_CAMPAIGN,
                reason=reason,
                first_run=self.run_id,
                last_run=self.run_id,
                updated_at=now,
            )
            for cid, email in outsiders.items()
        ]
        self.store.push_put(rows)
        self.tally.count("removed", len(rows))
        self.tally.reasons[pushmap.NOT_IN_CAMPAIGN] += len(rows)

    def remove(self, contact_ids: list[int], emails: Sequence[str]) -> bool:
        """Take `contact_ids` out of the book (the account lock checked first). False when
        Dotdigital was still removing members: `emails` stay to be removed by the next run."""
        self.ctx.checkpoint()
        self.held.verify()
        if not contact_ids or self.dd.remove_members(self.book.id, contact_ids):
            return True
        for email in emails:
            self.tally.count("pending")
            self.tally.error("REMOVAL_RUNNING", "Dotdigital was still removing members", email)
        return False

    def would_remove(self, who: Sequence[tuple[str, str]]) -> None:
        """Dry run: the (email, reason) a real run would take out of the book."""
        for email, reason in who:
            self.tally.count("removed")
            self.tally.sample("removed", email, reason)

    def current_emails(self, emails: Iterable[str]) -> set[str]:
        """Of `emails`, those a current member of this book's push has (this run's decisions
        first: in a dry run they are not stored)."""
        wanted = {e for e in emails if e}
        found = self.store.push_by_email(self.rules.account, wanted, self.book.id)
        out: set[str] = set()
        for email, entries in found.items():
            for e in entries:
                state = self.decided[e.member_id].state if e.member_id in self.decided else e.state
                if state in CURRENT:
                    out.add(email)
        out |= {e.email for e in self.decided.values() if e.state in CURRENT and e.email in wanted}
        return out

    def leaving_emails(self, emails: Iterable[str]) -> set[str]:
        """Of `emails`, those of members who left (remove_leavers takes them out)."""
        wanted = {e for e in emails if e}
        out = {e.email for e in self.leavers if e.email in wanted}
        for email, entries in self.store.push_by_email(
            self.rules.account, wanted, self.book.id
        ).items():
            if any(e.state == "left" for e in entries):
                out.add(email)
        return out

    # -- 3. imports --------------------------------------------------------------------------------

    def write_pending(self) -> None:
        """Every pending member of the book (this run's, and earlier runs' left pending) goes
        into the book through bulk imports."""
        pending = {e.member_id: e for e in self._stored("pending") if e.attempt is None}
        pending.update({k: e for k, e in self.decided.items() if e.state == "pending"})
        entries = sorted(pending.values(), key=lambda e: e.member_id)
        if self.dry:
            self.predict(entries)
            return
        for start in range(0, len(entries), IMPORT_RECORDS):
            self.ctx.checkpoint()
            self.held.verify()
            self.owner.imports.send(
                self.book.id, entries[start : start + IMPORT_RECORDS], self.kinds
            )

    def predict(self, entries: list[PushEntry]) -> None:
        """Dry run: who the imports would add or update (nothing is sent)."""
        for e in entries:
            count_written(self.tally, e, self.kinds)
            self.ctx.predicted_pushed.setdefault(self.rules.account, {})[e.email] = e

    def _stored(self, state: str) -> list[PushEntry]:
        """Stored entries in `state`, as this run's decisions leave them."""
        out = []
        for e in self.store.push_iter(self.rules.account, self.book.id, [state]):  # type: ignore[list-item]
            current = self.decided.get(e.member_id, e)
            if current.state == state:
                out.append(current)
        return out


# -- lead creation: pushed people are never Leads ---------------------------------------------


def exclude_pushed(
    parent: AccountSync, entries: Sequence[LedgerEntry], now: str
) -> tuple[list[LedgerEntry], list[LedgerEntry]]:
    """Split book members into (those the push wrote, now excluded with origin salesforce;
    the others, unchanged). A member is from Salesforce when the push table holds its email
    for a Salesforce person of this account in any book, whatever state Salesforce is in now
    (deleted Leads included); a dry run also counts the people its push would have written."""
    open_ = {
        id(e): e for e in entries if e.state not in ledger.TERMINAL and e.origin != "salesforce"
    }
    if not open_ or not _any_pushed(parent):
        return [], list(entries)
    found = pushed_people(parent, [e.email for e in open_.values()])
    if not found:
        return [], list(entries)
    excluded: list[LedgerEntry] = []
    rest: list[LedgerEntry] = []
    names = {b.id: b.name for b in parent.account.books}
    for entry in entries:
        push = found.get(entry.email) if id(entry) in open_ else None
        if push is None:
            rest.append(entry)
            continue
        where = {
            "campaign_id": push.campaign_id,
            "campaign": _campaign_name(parent, push),
            "book": names.get(push.book_id, str(push.book_id)),
            "book_id": push.book_id,
            "person_type": push.person_type,
            "salesforce_id": push.person_id,
        }
        excluded.append(ledger.from_salesforce(entry, push.person_id, where, parent.run_id, now))
    return excluded, rest


def _any_pushed(parent: AccountSync) -> bool:
    """Has the push ever recorded anyone for this account (asked once per run, after the push
    step): most accounts never push, and their lead creation then asks nothing more."""
    name = parent.account.name
    known: dict[str, bool] = parent.ctx.any_pushed
    if name not in known:
        known[name] = bool(parent.store.push_counts(name))
    return known[name] or bool(parent.ctx.predicted_pushed.get(name))


def pushed_people(parent: AccountSync, emails: Sequence[str]) -> dict[str, PushEntry]:
    """Normalised email -> the push entry that makes this person one from Salesforce."""
    out: dict[str, PushEntry] = {}
    found = parent.store.push_by_email(parent.account.name, emails)
    for email, rows in found.items():
        for row in rows:
            if row.person_id and row.state in pushmap.FROM_SALESFORCE_STATES:
                out.setdefault(email, row)
    predicted = parent.ctx.predicted_pushed.get(parent.account.name, {})
    for email in emails:
        if email in predicted and email not in out:
            out[email] = predicted[email]
    return out


def _campaign_name(parent: AccountSync, push: PushEntry) -> str | None:
    for book in parent.account.books:
        if book.campaign_id and push.campaign_id and book.campaign_id[:15] == push.campaign_id[:15]:
            return book.campaign_name
    return None


def _since(mark: PushMark | None, overlap: timedelta) -> datetime | None:
    moment = wire.parse_stamp(mark.salesforce) if mark is not None else None
    return moment - overlap if moment is not None else None


def _later(old: str | None, new: str | None) -> str | None:
    if old is None or new is None:
        return new or old
    a, b = wire.parse_stamp(old), wire.parse_stamp(new)
    return new if a is None or (b is not None and b > a) else old


def _stale(full_at: str | None) -> bool:
    """The last full read is older than Salesforce keeps deleted members: read everything."""
    if not full_at:
        return True
    at = wire.parse_stamp(full_at)
    return at is None or datetime.now(UTC) - at > timedelta(days=FULL_READ_DAYS)
