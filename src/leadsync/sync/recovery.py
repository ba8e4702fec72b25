"""Crash recovery: settle Lead writes left in doubt from what Salesforce holds.

A write is in doubt when its entries carry a write-ahead mark (sync/write_ahead.py) and no
outcome: a run was killed between sending and storing the answer, or the answer was lost
(`ambiguous`). Before a run writes anything new it settles every such entry (`resolve`), and a
writer settles at once a write whose outcome it could not learn (`settle`):

- a Bulk API 2.0 write by its jobs' result files (recorded before any upload);
- an upsert on the Lead key by that key: found means created, absent means it never happened,
  so it is safe to send again;
- a Collections create by email: found means created; absent means "never happened" only once
  Salesforce itself answered it, or sync.in_doubt_grace has passed since it was sent (a request
  whose client went away may still be running at Salesforce). Until then it waits, in doubt.

When Salesforce cannot be asked now, the entries stay in doubt for the next run.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from leadsync.errors import RemoteError
from leadsync.leadkey import lead_key
from leadsync.salesforce.errors import BULK_JOB_FAILED, RESULT_UNKNOWN, SalesforceError
from leadsync.salesforce.model import SaveResult
from leadsync.state.model import LedgerEntry
from leadsync.sync import ledger, write_errors
from leadsync.sync.mapping import normalise_email
from leadsync.sync.wire import now as _now
from leadsync.sync.wire import parse as _parse_iso
from leadsync.sync.write_ahead import WriteAhead
from leadsync.sync.write_errors import WriteError

if TYPE_CHECKING:
    from leadsync.sync.account import AccountSync


class InDoubt:
    """Settles one account's in-doubt Lead writes (see the module docstring)."""

    def __init__(self, parent: AccountSync) -> None:
        self.parent = parent
        self.ctx = parent.ctx
        self.account = parent.account
        self.sf = parent.sf
        self.settings = parent.settings
        self.run_id = parent.run_id

    @property
    def key(self) -> str | None:
        """The Lead upsert key field, when the org has it usable (AccountSync.create_leads)."""
        return self.parent.key

    def resolve(self, entries: Sequence[LedgerEntry]) -> None:
        """Settle writes a previous run left in flight, from what Salesforce holds."""
        if not entries:
            return
        by_mark: dict[WriteAhead, list[LedgerEntry]] = defaultdict(list)
        for entry in entries:
            by_mark[WriteAhead.decode(entry.attempt or "")].append(entry)
        for mark, group in by_mark.items():
            # An upsert is looked up by its key while the org still has the field; a create
            # (or an upsert whose key field has gone since) by email, under the grace rule.
            keyed = mark.keyed and self.key is not None
            self.settle(group, mark.job_ids, keyed=keyed)

    def settle(
        self,
        group: Sequence[LedgerEntry],
        job_ids: Sequence[str],
        error: WriteError | None = None,
        *,
        keyed: bool,
        answered: bool = False,
    ) -> list[LedgerEntry]:
        """In-doubt entries -> created / outcome from a bulk job / back to pending / waiting.

        Used at the start of a run (crash recovery) and right after a write whose outcome is
        unknown (ambiguous: the client does not re-send creates blindly). `keyed`: the write
        was an upsert on the Lead key, so it is looked up by key and, when absent, safe to send
        again. A create not found stays in doubt (waiting) until sync.in_doubt_grace has passed
        since it was sent: it may still be running at Salesforce; unless Salesforce itself
        `answered` it (a 500: the request is over, whatever it did). When Salesforce cannot be
        asked now (a transient error), the entries stay in doubt (attempt kept): the next run
        resolves them before it writes anything. `error`: why the write failed; it becomes the
        last_error of entries that go back to pending or stay in doubt.
        """
        now = _now()
        before = {e.contact_id: e for e in group}
        ident = key_of if keyed else _email_of
        settled: list[LedgerEntry] = []
        unknown: list[LedgerEntry] = []
        try:
            results = self._job_results(job_ids, self.key if keyed and self.key else "Email")
            for entry in group:
                result = results.get(ident(entry))
                if result is not None and known(result):
                    settled.append(
                        ledger.after_save(entry, result, entry.campaign_id, self.run_id, now)
                    )
                else:
                    unknown.append(entry)
            found = self._own_leads(unknown, keyed) if unknown else {}
        except RemoteError as exc:
            if not exc.transient:
                raise
            why = write_errors.still_in_doubt(error, exc)
            kept = [ledger.with_last_error(e, why, self.run_id, now) for e in group]
            self.parent.put_counted(kept, before)
            return kept  # still in doubt (attempt kept): the next run settles them
        waiting: list[LedgerEntry] = []
        for entry in unknown:
            lead_id = found.get(ident(entry).casefold() if keyed else ident(entry))
            if lead_id:
                settled.append(ledger.created(entry, lead_id, entry.campaign_id, self.run_id, now))
            elif keyed or job_ids or answered or self._grace_over(entry):
                settled.append(ledger.back_to_pending(entry, self.run_id, now, error=error))
            elif error is not None:  # may still be running at Salesforce: not re-sent yet
                waiting.append(ledger.with_last_error(entry, error, self.run_id, now))
            else:
                waiting.append(entry)
        # A write of this run that waits keeps its error: the run is incomplete until it settles.
        self.parent.put_counted(settled + (waiting if error else []), before)
        for entry in waiting:
            self.ctx.tally(self.account, entry.book_id).waiting_in_doubt += 1
        return settled + waiting

    def _job_results(self, job_ids: Sequence[str], key_field: str) -> dict[str, SaveResult]:
        """Per-record outcomes of bulk jobs left in doubt, by alignment key (a success wins)."""
        results: dict[str, SaveResult] = {}
        for job_id in job_ids:
            for key, result in self.sf.bulk_job_results(job_id, key_field=key_field).items():
                if key not in results or (result.success and not results[key].success):
                    results[key] = result
        return results

    def _grace_over(self, entry: LedgerEntry) -> bool:
        """Has sync.in_doubt_grace passed since this write was sent? (No time recorded: an
        entry written before leadsync kept one counts as old.)"""
        sent = entry.attempted_at or entry.updated_at
        if not sent:
            return True
        age = datetime.now(UTC) - _parse_iso(sent)
        return age.total_seconds() >= self.settings.in_doubt_grace

    def _own_leads(self, entries: Sequence[LedgerEntry], keyed: bool) -> dict[str, str]:
        """Lowercased key (or email) -> Lead Id, for entries whose write is in doubt."""
        if not keyed:
            return self._own_leads_by_email([e.email for e in entries])
        assert self.key is not None
        rows = self.sf.find_by(
            "Lead", self.key, [key_of(e) for e in entries], fields=("Id", self.key)
        )
        out: dict[str, str] = {}
        for row in sorted(rows, key=lambda r: str(r.get("Id"))):
            out.setdefault(str(row.get(self.key) or "").casefold(), str(row["Id"]))
        return out

    def _own_leads_by_email(self, emails: Sequence[str]) -> dict[str, str]:
        """Normalised email -> Lead Id, for emails whose write is in doubt (converted included:
        a Lead we created and someone converted since is still ours)."""
        rows = self.sf.find_by_emails("Lead", emails, fields=("Id", "Email"))
        out: dict[str, str] = {}
        for row in sorted(rows, key=lambda r: str(r.get("Id"))):
            key = normalise_email(str(row.get("Email") or ""))
            out.setdefault(key, str(row["Id"]))
        return out

    # -- 2. read new members -------------------------------------------------------------------


def known(result: SaveResult) -> bool:
    """False when the client could not learn what happened to the record (re-check by email),
    or when a bulk job failed as a whole before reaching it (says nothing about the record)."""
    return not (
        not result.success
        and result.errors
        and result.errors[0].status_code in (RESULT_UNKNOWN, BULK_JOB_FAILED)
    )


def key_of(entry: LedgerEntry) -> str:
    """The Lead key value of a member's Lead (`<account>:<contact id>`)."""
    return lead_key(entry.account, entry.contact_id)


def _email_of(entry: LedgerEntry) -> str:
    return entry.email


def answered(exc: Exception) -> bool:
    """Salesforce itself answered the write with 500 (UNKNOWN_EXCEPTION): the request has
    finished, so a lookup now sees all it did. A lost connection, a read timeout or a gateway's
    502/504 say nothing of the sort: the request may still be running."""
    return isinstance(exc, SalesforceError) and exc.status == 500
