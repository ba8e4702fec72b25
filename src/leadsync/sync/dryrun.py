"""`sync --dry-run`: the real run's path, with nothing written anywhere.

The dry run is not a second implementation of the sync. It runs the real steps (read, check
who is already in Salesforce, write, add to campaigns: sync/account.py) with three stand-ins,
so it cannot disagree with the real run about who would be created, excluded or skipped:

- `DryLedger`: the state store with the ledger's writes kept in memory (the state file stays
  byte-for-byte the same; a later step of the run still sees what an earlier one "wrote");
- the dry-run Lead writer (sync/writers.py `DryRunWriter`): records each Lead as one the run
  would create (`PREDICTED`), and remembers it for the books and accounts that follow;
- `DryRunMembers`: instead of creating CampaignMembers, asks who is a member already.

What the dry run adds is only the telling: `samples` of each outcome, and in-doubt writes
counted as pending (the next real run settles them from Salesforce).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from leadsync.salesforce.model import SaveError, SaveResult
from leadsync.state.model import LedgerEntry, StateStore
from leadsync.sync import ledger
from leadsync.sync.applied import BookView
from leadsync.sync.classify import PREDICTED
from leadsync.sync.report import BookTally

if TYPE_CHECKING:
    from leadsync.sync.account import AccountSync

SAMPLES = 5  # members named per outcome in a dry run's report
SAMPLE_STATES = ("created", "excluded", "skipped", "failed")
WOULD_CREATE = "has every value the Lead needs"
IN_DOUBT = "in doubt: the next sync resolves it from Salesforce"


class DryLedger:
    """The state store as a dry run sees it: ledger writes are kept in memory and read back
    over the stored rows; watermarks and sweep times are not moved; the rest is the store's."""

    def __init__(self, store: StateStore) -> None:
        self._store = store
        self._entries: dict[tuple[str, int, int], LedgerEntry] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def ledger_put(self, entries: Sequence[LedgerEntry]) -> None:
        for entry in entries:
            self._entries[(entry.account, entry.book_id, entry.contact_id)] = entry

    def ledger_get(
        self, account: str, book_id: int, contact_ids: Iterable[int]
    ) -> dict[int, LedgerEntry]:
        ids = list(contact_ids)
        found = self._store.ledger_get(account, book_id, ids)
        for cid in ids:
            entry = self._entries.get((account, book_id, cid))
            if entry is not None:
                found[cid] = entry
        return found

    def ledger_known(self, account: str, book_id: int, contact_ids: Iterable[int]) -> set[int]:
        ids = list(contact_ids)
        mine = {cid for cid in ids if (account, book_id, cid) in self._entries}
        return self._store.ledger_known(account, book_id, ids) | mine

    def ledger_iter(
        self, account: str, book_id: int, states: Sequence[str] | None = None
    ) -> Iterator[LedgerEntry]:
        """This run's entries first, in the order it read them (the order the dry run's samples
        name members in), then the stored rows it did not touch, in the store's order."""
        mine = {c: e for (a, b, c), e in self._entries.items() if a == account and b == book_id}
        yield from (e for e in mine.values() if states is None or e.state in states)
        for entry in self._store.ledger_iter(account, book_id, states):  # type: ignore[arg-type]
            if entry.contact_id not in mine:
                yield entry

    def ledger_ids(self, account: str, book_id: int, state: str) -> Iterator[int]:
        """The store's question asked over this run's entries too (see ledger_iter)."""
        for entry in self.ledger_iter(account, book_id, [state]):
            if entry.attempt is None:
                yield entry.contact_id

    def ledger_without_member(
        self, account: str, book_id: int, not_run: str | None = None
    ) -> Iterator[LedgerEntry]:
        for entry in self.ledger_iter(account, book_id, ["created", "excluded"]):
            if ledger.awaits_member(entry) and (not_run is None or entry.last_run != not_run):
                yield entry

    def set_watermark(self, account: str, book_id: int, value: str) -> None:
        return None

    def set_last_sweep(self, account: str, book_id: int, value: str) -> None:
        return None


def start_book(parent: AccountSync, book: BookView, tally: BookTally) -> None:
    """A dry run's book: its samples, and its writes left in doubt counted as pending."""
    parent.ctx.samples[(parent.account.name, book.id)] = {k: [] for k in SAMPLE_STATES}
    for entry in parent.store.ledger_in_doubt(parent.account.name):
        if entry.book_id == book.id:
            tally.move(None, "pending", entry.reason_code)


def sample(parent: AccountSync, entry: LedgerEntry) -> None:
    """Name `entry` among the samples of the outcome it just reached (the first SAMPLES)."""
    rows = parent.ctx.samples.get((parent.account.name, entry.book_id), {}).get(entry.state)
    if rows is not None and len(rows) < SAMPLES:
        reason = WOULD_CREATE if entry.state == "created" else entry.reason or ""
        rows.append({"email": entry.email, "reason": reason})


class DryRunMembers:
    """CampaignMembers a dry run would add: everyone the campaign step would send, except
    those in the campaign already (asked of Salesforce) or added earlier in this run."""

    def __init__(self, parent: AccountSync) -> None:
        self.parent = parent

    def create(
        self, entries: Sequence[LedgerEntry], records: Sequence[dict[str, Any]], field_name: str
    ) -> list[SaveResult]:
        """Per record: a success (would be added) or DUPLICATE_VALUE (a member already)."""
        predicted = self.parent.ctx.predicted_members
        members = self._members_already(records, field_name)
        results: list[SaveResult] = []
        for entry, record in zip(entries, records, strict=True):
            key = (record["CampaignId"], entry.email)
            if key in predicted or (record["CampaignId"], record[field_name]) in members:
                results.append(SaveResult(False, None, (SaveError(ledger.DUPLICATE_VALUE, ""),)))
            else:
                predicted.add(key)
                results.append(SaveResult(True, PREDICTED))
        return results

    def _members_already(
        self, records: Sequence[dict[str, Any]], field_name: str
    ) -> set[tuple[str, str]]:
        """(campaign id, record Id) of the records that are campaign members now."""
        wanted: dict[str, list[str]] = defaultdict(list)
        for record in records:
            if record[field_name] != PREDICTED:
                wanted[record["CampaignId"]].append(record[field_name])
        found: set[tuple[str, str]] = set()
        for campaign_id, ids in wanted.items():
            present = self.parent.sf.campaign_member_ids(campaign_id, field_name, ids)
            short = {i[:15] for i in present}
            found |= {(campaign_id, i) for i in ids if i[:15] in short}
        return found
