"""What every account's sync shares: the run's id, applied view, store, Salesforce client,
tallies, and the checkpoints where a stop request or the API budget ends the run.

A checkpoint (`check_stop`, `checkpoint`) is a point between batches where everything written
so far is also recorded: a stop there ends the run as "interrupted" with nothing in doubt.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from leadsync.errors import LimitReached
from leadsync.salesforce.assignment import LeadAssignment
from leadsync.salesforce.client import SalesforceClient
from leadsync.state.model import StateStore
from leadsync.sync.applied import AccountView, AppliedView
from leadsync.sync.mapping import LeadMapping, lead_constants
from leadsync.sync.report import BookTally
from leadsync.sync.update_report import UpdateTally
from leadsync.sync.wire import iso_seconds

Progress = Callable[[str, int], None]
StopHook = Callable[[], object]  # truthy once a stop was requested; a str is the reason


class StopRequested(Exception):
    """Raised at a checkpoint once the stop hook fires; ends the run as "interrupted"."""


@dataclass
class Run:
    """What every account's sync shares: run id, applied view, store, Salesforce, tallies."""

    run_id: str
    view: AppliedView
    store: StateStore
    sf: SalesforceClient
    dry_run: bool
    progress: Progress | None
    stop: StopHook | None = None
    force_sweep: bool = False  # `sync --sweep`
    # The run's start to the microsecond (runs list newest first by it, even within a second);
    # reports say `started_at`, to the second.
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    started_at: str = ""
    tallies: dict[tuple[str, int], BookTally] = field(default_factory=dict)
    samples: dict[tuple[str, int], dict[str, list[dict[str, str]]]] = field(default_factory=dict)
    # Dry run only: what the real run would have written by now, in book order.
    # email -> (account, book) of the Lead an earlier book would have created
    predicted_leads: dict[str, tuple[str, str]] = field(default_factory=dict)
    predicted_members: set[tuple[str, str]] = field(default_factory=set)  # (campaign id, email)
    _mapping: dict[str, LeadMapping] = field(default_factory=dict)
    # The push (sync/push.py): per (account, book id) what it did; in a dry run, per account,
    # the people it would have written (email -> entry), so lead creation excludes them too.
    push_tallies: dict[tuple[str, int], Any] = field(default_factory=dict)
    predicted_pushed: dict[str, dict[str, Any]] = field(default_factory=dict)
    any_pushed: dict[str, bool] = field(default_factory=dict)  # account -> push table not empty
    # The account loop's record (AccountLoop): accounts selected, synced, skipped as locked;
    # the Salesforce clients of --jobs workers (their calls count in the report).
    selected: list[str] = field(default_factory=list)
    synced: list[str] = field(default_factory=list)
    skipped_locked: list[dict[str, str]] = field(default_factory=list)
    sf_workers: list[SalesforceClient] = field(default_factory=list)
    # the API calls of --jobs worker processes, per system (sync/workers.py merges them)
    worker_calls: dict[str, int] = field(default_factory=lambda: {"salesforce": 0, "dotdigital": 0})
    update_tallies: dict[str, UpdateTally] = field(default_factory=dict)  # account -> counts

    def for_worker(self, sf: SalesforceClient, store: StateStore) -> Run:
        """This run as one `--jobs` worker sees it: its own Salesforce client and store, the
        same tallies, mapping cache and records of the run (shared objects, not copies)."""
        return replace(self, sf=sf, store=store)

    def update_tally(self, account: str) -> UpdateTally:
        if account not in self.update_tallies:
            self.update_tallies[account] = UpdateTally(account)
        return self.update_tallies[account]

    @property
    def assignment(self) -> LeadAssignment:
        """defaults.assignment_rule as applied: the same owner on Collections and Bulk."""
        return LeadAssignment(self.view.assignment_rule)

    def __post_init__(self) -> None:
        if not self.started_at:
            self.started_at = iso_seconds(self.started)

    def mapping(self, account: AccountView) -> LeadMapping:
        if account.name not in self._mapping:
            describe = self.sf.describe("Lead")
            self._mapping[account.name] = LeadMapping(
                rows=account.rows,
                fields=describe.fields,
                lead_status=self.view.lead_status,
                constants=lead_constants(self.view.defaults),
            )
        return self._mapping[account.name]

    def tally(self, account: AccountView, book_id: int) -> BookTally:
        key = (account.name, book_id)
        if key not in self.tallies:
            book = next((b for b in account.books if b.id == book_id), None)
            self.tallies[key] = BookTally(
                account=account.name,
                book_id=book_id,
                book=book.name if book else f"(address book {book_id})",
                campaign_id=book.campaign_id if book else None,
                campaign=book.campaign_name if book else None,
            )
        return self.tallies[key]

    def check_stop(self) -> None:
        """A checkpoint: end the run here if a stop was requested (everything so far recorded)."""
        requested = self.stop() if self.stop is not None else None
        if requested:
            why = requested if isinstance(requested, str) else "a stop request"
            raise StopRequested(
                f"stopped by {why} after finishing and recording the batch in flight; "
                "run `leadsync sync` again to continue"
            )

    def checkpoint(self) -> None:
        """Between write batches: stop if asked, then check the API budget (a dry run sends
        no write, so its batches are not held to the budget)."""
        self.check_stop()
        if not self.dry_run:
            self.check_budget()

    def check_budget(self) -> None:
        """Stop before the org's daily API allowance passes the configured share (a share of
        1 or more leaves the decision to Salesforce: REQUEST_LIMIT_EXCEEDED also stops)."""
        usage = self.sf.api_usage()
        if not usage:
            return
        used, total = usage
        share = self.view.settings.max_api_share
        if share < 1 and total > 0 and used >= share * total:
            raise LimitReached(
                f"Salesforce API usage is {used}/{total} requests today, at or above "
                f"sync.max_api_share {share:g}; stopping so other integrations keep their "
                "share. Re-run after the allowance resets (or raise max_api_share)."
            )


class _NoLock:
    """A dry run writes nothing, so it takes no lock and has none to lose."""

    def verify(self) -> None:
        return None


NO_LOCK = _NoLock()


def new_run_id() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
