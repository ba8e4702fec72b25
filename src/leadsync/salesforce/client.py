"""A thin layer over unmodified simple-salesforce: auth forms, retries, escaped SOQL, writes.

What it adds to simple-salesforce, and why:
- one place that maps every failure to leadsync's errors: transient (retried with capped
  exponential backoff + full jitter, then raised with `transient=True` so the sync leaves
  records pending), ambiguous (a create whose outcome is unknown: raised at once with
  `ambiguous=True`, never re-sent blindly, see below), REQUEST_LIMIT_EXCEEDED (a clean stop), INVALID_SESSION_ID (one re-login
  where the auth form allows it), and per-record errors (returned in SaveResult, never raised);
- an exact count of HTTP requests (`calls`) and the org's API usage from every response's
  Sforce-Limit-Info, bulk calls included (simple-salesforce parses it only on REST calls);
- Bulk API 2.0 driven step by step, so the job id reaches the caller before any data is
  uploaded (crash recovery needs it) and per-record results are read back and aligned;
- the last HTTP exchange (endpoint, status, Salesforce's request id) in the debug log, in every
  retry line and at the end of the error a failed call raises.
- the same Lead assignment on both write paths (salesforce/assignment.py): the
  `Sforce-Auto-Assign` header on REST writes, `assignmentRuleId` on ingest jobs, which
  simple-salesforce's `create_job` cannot send (so the job is created here with the same
  REST call it makes, see `_create_ingest_job`); creates and upserts alike.

Retrying and idempotency: reads (describe, queries, bulk result files) are retried on every
transient failure. A create (sObject Collections POST) is retried only when Salesforce surely did
not apply it: the connection could not be opened (ConnectTimeout, NewConnectionError), 503, 429,
a request-level UNABLE_TO_LOCK_ROW, an expired session. When the request was sent and the answer
is lost (connection dropped, read timeout, a cut-off body) or is 500/502/504, Salesforce may have
created the records already; without a duplicate rule a second POST would create them twice.
So the client raises SalesforceError(ambiguous=True) and the caller settles the records from
what Salesforce holds. Bulk API 2.0 steps keep retrying: creating a job twice leaves an empty
job, and the upload/close steps belong to a job id the caller recorded (on_job) before any data
went out, so the caller resolves that job from its results whatever the steps' outcome.

It carries no lead rules: which records to write and what an error means for a member is the
sync's business.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import requests

from leadsync.retry import Transient
from leadsync.salesforce.assignment import (
    FIELD_UPDATE_ASSIGNMENT,
    LeadAssignment,
)
from leadsync.salesforce.bulk import BulkJobs
from leadsync.salesforce.errors import (
    RESULT_UNKNOWN,
)
from leadsync.salesforce.model import SaveResult
from leadsync.salesforce.queries import COMPOSITE_QUERIES as COMPOSITE_QUERIES
from leadsync.salesforce.queries import STATUS_CAMPAIGNS_PER_QUERY as STATUS_CAMPAIGNS_PER_QUERY
from leadsync.salesforce.soql import identifier
from leadsync.salesforce.wire import (
    _excerpt,
    _failure,
    _json_values,
    _locked,
    _save_result,
)

COLLECTION_SIZE = 200  # sObject Collections maximum per call


class SalesforceClient(BulkJobs):
    """One org, one auth form; lazily logged in on the first call.

    Composed by concern: transport.py (session, login, retried steps, error mapping),
    queries.py (describe, SOQL, Composite), bulk.py (Bulk API 2.0 jobs); sObject Collections
    writes (create, upsert, update) are here.
    """

    def worker(self) -> SalesforceClient:
        """A client for one more thread of `sync --jobs N`: its own HTTP session, call count and
        last exchange (none of which may be shared between threads), sharing what is the org's
        and not the thread's: the login (no extra login call per worker), the describe cache
        (no extra describe), the active Lead assignment rule, and the latest API usage figures (the org's daily count, which
        every runner sees; each worker then reads its own responses' Sforce-Limit-Info)."""
        session = requests.Session()
        session.trust_env = self._session.trust_env
        session.verify = self._session.verify
        session.cert = self._session.cert
        child = SalesforceClient(
            self.cfg,
            session=session,
            retry=self.retry,
            timeout=self.timeout,
            bulk_poll=self._bulk_poll,
            bulk_poll_max=self._bulk_poll_max,
            bulk_timeout=self._bulk_timeout,
            poll_sleep=self._poll_sleep,
        )
        child._describes = self._describes  # one dict; a race only fetches a describe twice
        child._active_lead_rule = self._active_lead_rule  # likewise, the org's one rule
        child._token = self._token
        child._usage = self.api_usage()
        return child

    # -- writes: sObject Collections ---------------------------------------------------------------

    def write_headers(
        self, allow_duplicate_save: bool, assignment: LeadAssignment | None
    ) -> dict[str, str]:
        """The headers of an sObject Collections write, create or upsert: the duplicate-rule
        header and, for Leads, `Sforce-Auto-Assign` carrying `assignment` (none when None)."""
        flag = "true" if allow_duplicate_save else "false"
        return {
            "Sforce-Duplicate-Rule-Header": (
                f"allowSave={flag}, includeRecordDetails=true, runAsCurrentUser=true"
            ),
            **(assignment.rest_headers() if assignment is not None else {}),
        }

    def create(
        self,
        sobject: str,
        records: Sequence[Mapping[str, Any]],
        *,
        allow_duplicate_save: bool = False,
        assignment: LeadAssignment | None = None,
    ) -> list[SaveResult]:
        """Insert through sObject Collections (200 a call, allOrNone false), results in order.

        Records that fail with UNABLE_TO_LOCK_ROW are resubmitted within the retry budget;
        if still locked they come back with that code (transient: leave pending).
        `assignment` (Leads): which assignment rule Salesforce runs on them.
        """
        name = identifier(sobject)
        send = _Collection(name, "composite/sobjects", "POST", f"create {name}", False)
        return self._write_collections(
            send, records, self.write_headers(allow_duplicate_save, assignment)
        )

    def upsert(
        self,
        sobject: str,
        records: Sequence[Mapping[str, Any]],
        external_id_field: str,
        *,
        allow_duplicate_save: bool = False,
        assignment: LeadAssignment | None = None,
    ) -> list[SaveResult]:
        """Create or update by an External ID field through sObject Collections (PATCH
        composite/sobjects/{SObject}/{field}, 200 a call, allOrNone false); results in order,
        each with `created` (True: created, False: the record holding the key was updated).

        Unlike create(), an upsert is idempotent: sent twice it still leaves one record per key.
        So a lost answer (connection dropped, read timeout, 500/502/504) is simply asked again
        within the retry budget instead of being raised as ambiguous. `assignment` (Leads): as
        for create(); Salesforce runs the rule on the records the upsert creates.
        """
        name = identifier(sobject)
        path = f"composite/sobjects/{name}/{identifier(external_id_field)}"
        send = _Collection(name, path, "PATCH", f"upsert {name}", True)
        return self._write_collections(
            send, records, self.write_headers(allow_duplicate_save, assignment)
        )

    def update(
        self,
        sobject: str,
        records: Sequence[Mapping[str, Any]],
        *,
        allow_duplicate_save: bool = False,
    ) -> list[SaveResult]:
        """Update records by Id (each record carries `Id`) through sObject Collections (PATCH
        composite/sobjects, 200 a call, allOrNone false); results in order. Only the fields a
        record carries are written. Sent with `Sforce-Auto-Assign: FALSE` (FIELD_UPDATE_ASSIGNMENT):
        without it Salesforce re-runs the active Lead assignment rule on every REST update, and
        a field update would hand the Lead to a new owner. Idempotent: a lost answer is asked
        again within the retry budget."""
        name = identifier(sobject)
        send = _Collection(name, "composite/sobjects", "PATCH", f"update {name}", True)
        rows = [{("id" if k == "Id" else k): v for k, v in r.items()} for r in records]
        headers = self.write_headers(allow_duplicate_save, FIELD_UPDATE_ASSIGNMENT)
        return self._write_collections(send, rows, headers)

    def _write_collections(
        self,
        send: _Collection,
        records: Sequence[Mapping[str, Any]],
        headers: Mapping[str, str],
    ) -> list[SaveResult]:
        """The records in collections of 200, results in input order; records that fail with
        UNABLE_TO_LOCK_ROW are resubmitted within the retry budget."""
        results: list[SaveResult | None] = [None] * len(records)
        for start in range(0, len(records), COLLECTION_SIZE):
            pending = list(range(start, min(start + COLLECTION_SIZE, len(records))))

            def attempt(_n: int) -> None:
                nonlocal pending
                raw = self._send_collection(send, [records[i] for i in pending], headers)
                if not isinstance(raw, list) or len(raw) != len(pending):
                    # The request reached Salesforce; what it did is unknown. Transient per
                    # record: the caller re-checks before writing again.
                    unknown = _failure(
                        RESULT_UNKNOWN,
                        "sObject Collections answered with an unexpected body: "
                        + _excerpt(repr(raw)),
                    )
                    for i in pending:
                        results[i] = unknown
                    return
                pending = self._record_results(pending, raw, results)
                if pending:
                    raise Transient(self._locked_note(send.sobject, len(pending)))

            self.retry.run(attempt)
        return [r if r is not None else _failure(RESULT_UNKNOWN, "no result") for r in results]

    @staticmethod
    def _record_results(
        pending: list[int], raw: list[Any], results: list[SaveResult | None]
    ) -> list[int]:
        """Record one collection's results; the indexes still locked (UNABLE_TO_LOCK_ROW)."""
        locked: list[int] = []
        for i, item in zip(pending, raw, strict=True):
            result = _save_result(item)
            results[i] = result
            if _locked(result):
                locked.append(i)
        return locked

    def _send_collection(
        self, send: _Collection, batch: Sequence[Mapping[str, Any]], headers: Mapping[str, str]
    ) -> Any:
        """Send one collection. A refusal of the whole request (e.g. JSON_PARSER_ERROR, one
        record Salesforce cannot parse) is raised: isolating the record at fault is the
        sync's rule (sync/halving.py), not the client's."""
        body = {
            "allOrNone": False,
            "records": [{"attributes": {"type": send.sobject}, **_json_values(r)} for r in batch],
        }
        return self._call(
            send.what,
            lambda sf: sf.restful(send.path, method=send.method, json=body, headers=dict(headers)),
            idempotent=send.idempotent,
        )


class _Collection:
    """How one kind of sObject Collections write is sent: create (POST, not idempotent) or
    upsert by an External ID field (PATCH, idempotent)."""

    __slots__ = ("idempotent", "method", "path", "sobject", "what")

    def __init__(self, sobject: str, path: str, method: str, what: str, idempotent: bool) -> None:
        self.sobject = sobject
        self.path = path
        self.method = method
        self.what = what
        self.idempotent = idempotent
