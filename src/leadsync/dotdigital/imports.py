"""Bulk work Dotdigital runs in the background: v3 contact imports and member removals.

Why the caller hears of an import before its status: `on_submit(import_id)` runs as soon as
Dotdigital accepts it, so a run killed while the import runs can learn its outcome later
(`import_status`). Status reads are paced by the retry policy's backoff and bounded.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from leadsync.dotdigital.model import ImportOutcome
from leadsync.dotdigital.transport import Transport
from leadsync.dotdigital.wire import (
    _failures,
    _failures_by_id,
    _references,
)

STATUS_READS = 12  # status reads of one import or removal before the caller is told "running"
DELETE_CHUNK = 1000  # contact ids per "remove these members" request
RUNNING = frozenset({"NotFinished", "NotStarted", "Started", "InProgress", "Processing"})


class Imports(Transport):
    """v3 bulk contact imports and v2 address-book member removals, waited for."""

    def import_contacts(
        self,
        contacts: list[dict[str, Any]],
        *,
        merge: str = "overwrite",
        on_submit: Any = None,
        status_reads: int = STATUS_READS,
    ) -> ImportOutcome:
        """v3 bulk import (`PUT /contacts/v3/import`), then its status until it has finished.

        `contacts` are v3 contact requests (matchIdentifier, identifiers, dataFields, lists).
        `on_submit(import_id)` runs as soon as Dotdigital has accepted the import, before its
        status is read: the caller records the id (write-ahead) so a run killed while the import
        runs can learn its outcome later (`import_status`). Polling the status is waiting on the
        service, paced by the retry policy's backoff; after `status_reads` reads an import still
        running is returned as such (`running`), never abandoned silently.
        """
        body = self._json(
            "PUT", "/contacts/v3/import", json={"mergeOption": merge, "contacts": contacts}
        )
        import_id = body.get("importId") if isinstance(body, dict) else None
        if not import_id:
            raise self._unexpected("PUT /contacts/v3/import", 202, body)
        if on_submit is not None:
            on_submit(str(import_id))
        return self.wait_import(str(import_id), status_reads=status_reads)

    def wait_import(self, import_id: str, *, status_reads: int = STATUS_READS) -> ImportOutcome:
        """Read an import's status until it is no longer running (at most `status_reads`)."""
        outcome = self.import_status(import_id)
        reads = 1
        while outcome.running and reads < status_reads:
            self._pace(reads, f"import {import_id} still running")
            outcome = self.import_status(import_id)
            reads += 1
        return outcome

    def import_status(self, import_id: str) -> ImportOutcome:
        """`GET /contacts/v3/import/{id}`: the status, and per-record results once finished."""
        what = "GET /contacts/v3/import/{id}"
        body = self._json("GET", f"/contacts/v3/import/{import_id}")
        if not isinstance(body, dict) or not body.get("status"):
            raise self._unexpected(what, 200, body)
        return ImportOutcome(
            import_id=import_id,
            status=str(body["status"]),
            created=_references(body.get("created")),
            updated=_references(body.get("updated")),
            failures=_failures(body.get("failures")),
            failed_ids=_failures_by_id(body.get("failures")),
            unnamed_failures=sum(
                1
                for f in body.get("failures") or []
                if isinstance(f, dict) and f.get("contactId") is None
            ),
        )

    def remove_members(self, book_id: int, contact_ids: Iterable[int]) -> bool:
        """Remove contacts from one address book (`POST .../contacts/delete`, the contacts stay
        in the account), then wait for the removal to complete. True when Dotdigital reports
        it done; False when it was still running after the status reads (removing again is
        harmless: a contact that is no longer a member is ignored)."""
        ids = sorted({int(i) for i in contact_ids})
        done = True
        for start in range(0, len(ids), DELETE_CHUNK):
            chunk = ids[start : start + DELETE_CHUNK]
            body = self._json(
                "POST", f"/v2/address-books/{int(book_id)}/contacts/delete", json=chunk
            )
            deletion = body.get("id") if isinstance(body, dict) else None
            status = str(body.get("status") or "") if isinstance(body, dict) else ""
            reads = 0
            while deletion and status in RUNNING and reads < STATUS_READS:
                if reads:
                    self._pace(reads, f"removal {deletion} still running")
                progress = self._json("GET", f"/v2/contacts/deletion/{deletion}")
                status = str(progress.get("status") or "") if isinstance(progress, dict) else ""
                reads += 1
            done = done and status not in RUNNING
        return done
