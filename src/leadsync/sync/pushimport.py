"""The push's Dotdigital imports: write-ahead, send, settle (push.py reads and decides).

An import's members are stored with `attempt` (`import:sending:<run>:<n>`) before it is sent, and
with the import's id (`import:<id>`) as soon as Dotdigital accepts it, before its status is read.
A run starts by settling what a killed run left so (`resolve_in_doubt`): an import whose id is
known is asked for its outcome; one whose id never came back is sent again (an import is an
upsert by email into the book's member set: sending it twice leaves each person once).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from leadsync.dotdigital.errors import DotdigitalError
from leadsync.dotdigital.model import ImportOutcome
from leadsync.errors import LimitReached, RemoteError
from leadsync.state.model import PushEntry
from leadsync.sync import pushmap, wire
from leadsync.sync.applied import BookView
from leadsync.sync.pushmap import evolve
from leadsync.sync.pushtally import PushTally
from leadsync.sync.write_errors import of_exception

if TYPE_CHECKING:
    from leadsync.sync.engine import AccountSync

SENDING = "import:sending:"
IMPORT = "import:"


def tally_of(parent: AccountSync, book: BookView | None, book_id: int) -> PushTally:
    """The run's tally of one pushing book (created on first use)."""
    tallies: dict[tuple[str, int], PushTally] = parent.ctx.push_tallies
    key = (parent.account.name, book_id)
    if key not in tallies:
        tallies[key] = PushTally(
            account=parent.account.name,
            book_id=book_id,
            book=book.name if book else f"(address book {book_id})",
            campaign_id=(book.campaign_id if book else None) or "",
            campaign=(book.campaign_name if book else None) or "",
            clear=parent.account.clear_address_books,
        )
    return tallies[key]


def count_written(tally: PushTally, entry: PushEntry, kinds: Mapping[str, str]) -> None:
    """A member an import wrote (or, in a dry run, would write): added or updated. `kinds`
    holds this run's decisions; an earlier run's member with a known contact id was updated."""
    kind = kinds.get(entry.member_id) or ("updated" if entry.contact_id else "added")
    tally.count(kind)
    tally.sample(kind, entry.email, f"{entry.person_type or 'person'} {entry.person_id}")


def _count_failed(tally: PushTally, entry: PushEntry, code: str, reason: str) -> None:
    tally.count("failed")
    tally.reasons[code] += 1
    tally.sample("failed", entry.email, reason)


class PushImports:
    """The imports of one account's push, and those a killed run left in flight."""

    def __init__(self, parent: AccountSync) -> None:
        self.parent = parent
        self.account = parent.account
        self.store = parent.store
        self.dd = parent.dd
        self.run_id = parent.run_id

    def resolve_in_doubt(self) -> None:
        groups: dict[str, list[PushEntry]] = defaultdict(list)
        for entry in self.store.push_in_doubt(self.account.name):
            groups[entry.attempt or ""].append(entry)
        for attempt, group in groups.items():
            if attempt.startswith(SENDING) or not attempt.startswith(IMPORT):
                self.back_to_pending(group, None)  # never accepted, or unknown: send again
                continue
            import_id = attempt.removeprefix(IMPORT)
            try:
                outcome = self.dd.import_status(import_id)
            except DotdigitalError as exc:
                if exc.status == 404:  # the service no longer knows it: send again
                    self.back_to_pending(group, None)
                    continue
                if not exc.transient:
                    raise
                self.keep_in_doubt(group, of_exception(exc).error_class, str(exc))
                continue
            self.settle(group, outcome, {})

    def send(self, book_id: int, entries: list[PushEntry], kinds: Mapping[str, str]) -> None:
        """One import of `entries` into the book, recorded before it is sent and settled."""
        now = wire.now()
        attempt = f"{SENDING}{self.run_id}:{uuid.uuid4().hex[:8]}"
        marked = [
            evolve(
                e,
                attempt=attempt,
                attempted_at=now,
                tries=e.tries + 1,
                last_run=self.run_id,
                updated_at=now,
            )
            for e in entries
        ]
        self.store.push_put(marked)  # write-ahead: stored BEFORE the import is sent
        records: dict[str, dict[str, Any]] = {}
        for e in marked:  # one record per email: the book holds a person once
            records.setdefault(e.email, pushmap.import_record(e, book_id))

        def on_submit(import_id: str) -> None:
            marked[:] = [evolve(e, attempt=f"{IMPORT}{import_id}") for e in marked]
            self.store.push_put(marked)  # the id, before the status is read

        try:
            outcome = self.dd.import_contacts(list(records.values()), on_submit=on_submit)
        except LimitReached:
            if marked[0].attempt == attempt:
                self.back_to_pending(marked, None)
            raise
        except RemoteError as exc:
            sent = marked[0].attempt != attempt
            if not exc.transient and not sent:
                self.back_to_pending(marked, None)
                raise
            error = of_exception(exc)
            if sent:  # accepted: its outcome is read by the next run
                self.keep_in_doubt(marked, error.error_class, error.message)
            else:
                self.back_to_pending(marked, (error.error_class, error.message))
            return
        self.settle(marked, outcome, kinds)

    def settle(
        self, marked: Sequence[PushEntry], outcome: ImportOutcome, kinds: Mapping[str, str]
    ) -> None:
        """Per member, what an import that is no longer running did; `kinds` says whether this
        run's members were added or updated (an earlier run's: known contact id = updated)."""
        if outcome.running:
            self.keep_in_doubt(
                marked, "IMPORT_RUNNING", f"import {outcome.import_id} is still running"
            )
            return
        now = wire.now()
        self.store.push_put([self._settled(e, outcome, kinds, now) for e in marked])

    def _settled(
        self, entry: PushEntry, outcome: ImportOutcome, kinds: Mapping[str, str], now: str
    ) -> PushEntry:
        """One member after a finished (or failed) import, counted in its book's tally."""
        tally = self.tally(entry.book_id)
        done = dict(attempt=None, attempted_at=None, last_run=self.run_id, updated_at=now)
        cid = outcome.created.get(entry.email, outcome.updated.get(entry.email))
        if outcome.finished and cid is not None:
            count_written(tally, entry, kinds)
            return evolve(
                entry, state="pushed", contact_id=cid, reason_code=None, reason=None, **done
            )
        if outcome.finished and entry.email in outcome.failures:
            code, text = outcome.failures[entry.email]
            reason = f"Dotdigital refused it: {text} ({code})"
            _count_failed(tally, entry, code, reason)
            return evolve(entry, state="failed", reason_code=code, reason=reason, **done)
        if outcome.status == "Failed" or outcome.finished:
            why = (
                f"import {outcome.import_id} ended as {outcome.status}"
                if not outcome.finished
                else f"import {outcome.import_id} did not report this member"
            )
            tally.count("pending")
            tally.error(f"IMPORT_{outcome.status.upper()}", why, entry.email)
            return evolve(entry, state="pending", reason_code="TRANSIENT", reason=why, **done)
        # RejectedByWatchdog and the like: the data, not the moment
        reason = f"Dotdigital ended import {outcome.import_id} as {outcome.status}, writing nothing"
        _count_failed(tally, entry, outcome.status, reason)
        return evolve(
            entry, state="failed", reason_code=pushmap.IMPORT_REJECTED, reason=reason, **done
        )

    def back_to_pending(
        self, entries: Sequence[PushEntry], error: tuple[str, str] | None
    ) -> list[PushEntry]:
        now = wire.now()
        code, why = error if error else (None, None)
        out = [
            evolve(
                e,
                state="pending",
                attempt=None,
                attempted_at=None,
                reason_code="TRANSIENT" if error else None,
                reason=why,
                last_run=self.run_id,
                updated_at=now,
            )
            for e in entries
        ]
        self.store.push_put(out)
        if error is not None:
            for e in out:
                tally = self.tally(e.book_id)
                tally.count("pending")
                tally.error(str(code), str(why), e.email)
        return out

    def keep_in_doubt(self, entries: Sequence[PushEntry], error_class: str, message: str) -> None:
        """The import's outcome cannot be learnt now: its members stay in doubt (the attempt is
        kept), the next run asks again; this run is incomplete."""
        for e in entries:
            tally = self.tally(e.book_id)
            tally.count("in_doubt")
            tally.error(error_class, message, e.email)

    def tally(self, book_id: int) -> PushTally:
        book = next((b for b in self.account.books if b.id == book_id), None)
        return tally_of(self.parent, book, book_id)
