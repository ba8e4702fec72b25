"""Bulk API 2.0, driven step by step: query jobs, and ingest jobs whose results are read back.

Why step by step (not simple-salesforce's one-call helpers): the job id reaches the caller
(`on_job`) after the job is created and before any data is uploaded, so a run killed at any
point can resolve the job later (`bulk_job_results`); and per-record results are read back
from the result files and aligned to the input by a key field. The ingest job is created with
the REST call simple-salesforce's `create_job` makes, plus `assignmentRuleId`, which that
method cannot send (salesforce/assignment.py).
"""

from __future__ import annotations

import csv
import io
import json
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime
from operator import itemgetter
from typing import Any

from simple_salesforce import Salesforce
from simple_salesforce.bulk2 import JobState, Operation, ResultsType, SFBulk2Handler, _Bulk2Client
from simple_salesforce.util import call_salesforce

from leadsync.emails import normalise_email
from leadsync.retry import Transient
from leadsync.salesforce.assignment import (
    ACTIVE_LEAD_RULE_SOQL,
    FIELD_UPDATE_ASSIGNMENT,
    LeadAssignment,
)
from leadsync.salesforce.errors import (
    BULK_JOB_FAILED,
    NOT_PROCESSED,
    RESULT_UNKNOWN,
    SalesforceError,
)
from leadsync.salesforce.model import (
    SaveError,
    SaveResult,
)
from leadsync.salesforce.queries import Queries
from leadsync.salesforce.soql import identifier
from leadsync.salesforce.wire import (
    _failure,
    _locked,
)

BULK_QUERY_PAGE = 50_000  # rows per Bulk API 2.0 query results page (maxRecords)
MAX_JOB_BYTES = 64 * 1024 * 1024  # one ingest job's CSV; Salesforce allows 100 MB (150 MB base64)
TERMINAL_STATES = (JobState.job_complete, JobState.failed, JobState.aborted)


class BulkJobs(Queries):
    """Bulk API 2.0 query and ingest jobs (insert, upsert, update) and their results."""

    def bulk_query(
        self, soql: str, *, include_deleted: bool = False, page_size: int = BULK_QUERY_PAGE
    ) -> Iterator[dict[str, Any]]:
        """Every record of a SOQL query through a Bulk API 2.0 query job (query or queryAll):
        create the job, wait for it, read its CSV results page by page (Sforce-Locator).

        Records come nested as the REST API nests them (`Lead.Email` -> {"Lead": {"Email"}},
        a relationship whose every cell is empty -> None); cells are text as the CSV has them,
        an empty cell None. Creating a query job twice only reads twice: retried like a read.
        """
        operation = Operation.query_all if include_deleted else Operation.query
        created = self._call(
            "bulk query job", lambda sf: self._bulk(sf).create_job(operation, query=soql)
        )
        if not isinstance(created, Mapping) or not created.get("id"):
            raise self._unexpected("bulk query job", created)
        job_id = str(created["id"])
        info = self._wait_job(job_id, is_query=True)
        if info.get("state") != JobState.job_complete:
            raise SalesforceError(
                f"bulk query job {job_id} ended {info.get('state')}: "
                f"{info.get('errorMessage') or 'no error message'}",
                code=BULK_JOB_FAILED,
                transient=info.get("state") == JobState.aborted,
            )
        locator = ""
        while True:
            page = self._call(
                f"bulk query results {job_id}",
                lambda sf, at=locator: self._bulk(sf).get_query_results(job_id, at, page_size),
            )
            if not isinstance(page, Mapping) or not isinstance(page.get("records"), str):
                raise self._unexpected("bulk query results", page)
            for row in csv.DictReader(io.StringIO(page["records"], newline="")):
                yield _nested(row)
            locator = str(page.get("locator") or "")
            if not locator:
                return

    def job_options(
        self, assignment: LeadAssignment | None, external_id_field: str | None = None
    ) -> dict[str, str]:
        """The properties of a Bulk API 2.0 ingest job, insert or upsert: its operation,
        `externalIdFieldName` for an upsert and `assignmentRuleId` for `assignment`, `active`
        resolved to the org's active Lead rule Id (one SOQL query per client: a run uses one
        rule throughout)."""
        operation = Operation.upsert if external_id_field else Operation.insert
        options = {"operation": operation.value}
        if external_id_field:
            options["externalIdFieldName"] = identifier(external_id_field)
        if assignment is None:
            return options
        active: str | None = None
        if assignment.needs_active_rule_id:
            if not self._active_lead_rule:
                rows = list(self.query(ACTIVE_LEAD_RULE_SOQL))
                self._active_lead_rule.append(str(rows[0]["Id"]) if rows else None)
            active = self._active_lead_rule[0]
        return {**options, **assignment.job_properties(active)}

    def bulk_update(
        self,
        sobject: str,
        records: Sequence[Mapping[str, Any]],
        *,
        on_job: Callable[[str], None] | None = None,
    ) -> list[SaveResult]:
        """Update records by Id through Bulk API 2.0 (`operation: update`), results aligned by
        Id. The job names no assignment rule, so none runs (Bulk jobs run only the rule they
        name). An empty cell leaves a field as it is; `#N/A` clears it (a None value here)."""
        rows = [{k: ("#N/A" if v is None else v) for k, v in r.items()} for r in records]
        options = {
            **self.job_options(FIELD_UPDATE_ASSIGNMENT),
            "operation": Operation.update.value,
        }
        return self._bulk_write(sobject, rows, "Id", on_job, options)

    def bulk_insert(
        self,
        sobject: str,
        records: Sequence[Mapping[str, Any]],
        *,
        key_field: str,
        on_job: Callable[[str], None] | None = None,
        assignment: LeadAssignment | None = None,
    ) -> list[SaveResult]:
        """Insert through Bulk API 2.0; per-record results aligned to input order by key_field.

        `on_job(job_id)` runs after the job is created and BEFORE any data is uploaded, so a
        caller that records it can always resolve the job after a crash (bulk_job_results).
        Several jobs are used when the data is large, or to resubmit rows that hit
        UNABLE_TO_LOCK_ROW; `on_job` is called for each. `assignment` (Leads): which
        assignment rule every job names, as `create` tells REST.
        """
        return self._bulk_write(sobject, records, key_field, on_job, self.job_options(assignment))

    def bulk_upsert(
        self,
        sobject: str,
        records: Sequence[Mapping[str, Any]],
        *,
        external_id_field: str,
        key_field: str,
        on_job: Callable[[str], None] | None = None,
        assignment: LeadAssignment | None = None,
    ) -> list[SaveResult]:
        """Upsert by an External ID field through Bulk API 2.0 (`operation: upsert`,
        `externalIdFieldName`), driven like bulk_insert; each success carries `created` from
        the job's sf__Created column. `assignment` (Leads): the rule each job names; it runs
        on the records the job creates, as on a bulk insert."""
        options = self.job_options(assignment, external_id_field)
        return self._bulk_write(sobject, records, key_field, on_job, options)

    def _bulk_write(
        self,
        sobject: str,
        records: Sequence[Mapping[str, Any]],
        key_field: str,
        on_job: Callable[[str], None] | None,
        options: Mapping[str, str],
    ) -> list[SaveResult]:
        """Rows through ingest jobs created with `options` (job_options), results aligned to
        the input by key_field; rows hit by UNABLE_TO_LOCK_ROW go again in a new job."""
        name = identifier(sobject)
        identifier(key_field)
        results: list[SaveResult | None] = [None] * len(records)
        keyed = _key_of(key_field)
        keys = [keyed(r.get(key_field)) for r in records]
        pending = list(range(len(records)))

        def attempt(_n: int) -> None:
            nonlocal pending
            for chunk in _byte_chunks(pending, records):
                rows = [records[i] for i in chunk]
                job_id, info = self._run_job(name, rows, on_job, options)
                outcome = self._job_outcome(job_id, key_field, info, uploaded=len(rows))
                _align(outcome, chunk, keys, results)
            pending = [i for i in pending if _locked(results[i])]
            if pending:
                raise Transient(self._locked_note(name, len(pending)))

        self.retry.run(attempt)
        return [r if r is not None else _failure(RESULT_UNKNOWN, "no result") for r in results]

    def bulk_job_results(self, job_id: str, key_field: str) -> dict[str, SaveResult]:
        """Resolve a job left in doubt (e.g. by a crash): key -> result.

        An Open job never got (all of) its data: it is aborted and nothing was written, so
        the answer is empty. A job still processing is waited for. Keys are normalised like
        bulk_insert's (Email fields trimmed and lower-cased). Where one key has several rows,
        a success wins: that record exists.
        """
        identifier(key_field)
        info = self._get_job(job_id)
        state = info.get("state")
        if state == JobState.open:
            self._abort_quietly(job_id)
            return {}
        if state not in TERMINAL_STATES:
            info = self._wait_job(job_id)
        outcome = self._job_outcome(job_id, key_field, info)
        resolved: dict[str, SaveResult] = {}
        for key, result in outcome.rows:
            if key not in resolved or (result.success and not resolved[key].success):
                resolved[key] = result
        return resolved

    # -- bulk internals ----------------------------------------------------------------------------

    def _bulk(self, sf: Salesforce, sobject: str = "") -> _Bulk2Client:
        """simple-salesforce's own Bulk 2.0 step client, built on the current session."""
        handler = SFBulk2Handler(sf.session_id, sf.bulk2_url, session=sf.session)
        return _Bulk2Client(sobject, sf.bulk2_url, handler.headers, sf.session)

    def _run_job(
        self,
        sobject: str,
        rows: Sequence[Mapping[str, Any]],
        on_job: Callable[[str], None] | None,
        options: Mapping[str, str],
    ) -> tuple[str, Mapping[str, Any]]:
        data = _to_csv(rows)
        created = self._call(
            f"bulk create job {sobject}",
            lambda sf: self._create_ingest_job(sf, sobject, options),
        )
        if not isinstance(created, Mapping) or not created.get("id"):
            raise self._unexpected("bulk create job", created)
        job_id = str(created["id"])
        try:
            if created.get("state") != JobState.open:
                raise SalesforceError(
                    f"bulk job {job_id} was created in state {created.get('state')!r}, not Open",
                    code=BULK_JOB_FAILED,
                )
            if on_job is not None:
                on_job(job_id)
            self._call(
                f"bulk upload {job_id}",
                lambda sf: self._bulk(sf, sobject).upload_job_data(job_id, data),
            )
            self._call(f"bulk close {job_id}", lambda sf: self._bulk(sf, sobject).close_job(job_id))
        except BaseException:
            self._abort_quietly(job_id)
            raise
        return job_id, self._wait_job(job_id)

    def _create_ingest_job(self, sf: Salesforce, sobject: str, options: Mapping[str, str]) -> Any:
        """POST jobs/ingest: the request simple-salesforce's `_Bulk2Client.create_job` sends
        (same URL, headers and body, operation and externalIdFieldName included), plus
        assignmentRuleId, which that method has no parameter for (the library itself is left
        unmodified)."""
        client = self._bulk(sf, sobject)
        payload = {
            "columnDelimiter": "COMMA",
            "lineEnding": "LF",
            **options,
            "object": sobject,
            "contentType": "CSV",
        }
        response = call_salesforce(
            url=client._construct_request_url(None, False),
            method="POST",
            session=sf.session,
            headers=client._get_headers(client.JSON_CONTENT_TYPE, client.JSON_CONTENT_TYPE),
            data=json.dumps(payload, allow_nan=False),
        )
        return response.json()

    def _get_job(self, job_id: str, is_query: bool = False) -> Mapping[str, Any]:
        info = self._call(f"bulk job {job_id}", lambda sf: self._bulk(sf).get_job(job_id, is_query))
        if not isinstance(info, Mapping) or "state" not in info:
            raise self._unexpected(f"bulk job {job_id}", info)
        return info

    def _wait_job(self, job_id: str, is_query: bool = False) -> Mapping[str, Any]:
        delay = self._bulk_poll
        waited = 0.0
        while True:
            info = self._get_job(job_id, is_query)
            if info.get("state") in TERMINAL_STATES:
                return info
            if waited >= self._bulk_timeout:
                raise SalesforceError(
                    f"bulk job {job_id} still {info.get('state')} after {int(waited)} s; "
                    "a later run resolves it",
                    code="BULK_JOB_TIMEOUT",
                    transient=True,
                )
            self._poll_sleep(delay)
            waited += delay
            delay = min(self._bulk_poll_max, delay * 1.5)

    def _abort_quietly(self, job_id: str) -> None:
        """Abort a job that may still take data; never masks the error being handled."""
        try:
            info = self._get_job(job_id)
            if info.get("state") in (JobState.open, JobState.upload_complete):
                self._call(
                    f"bulk abort {job_id}", lambda sf: self._bulk(sf).abort_job(job_id, False)
                )
        except Exception:  # best effort: the caller's error is the one to report
            pass

    def _job_outcome(
        self, job_id: str, key_field: str, info: Mapping[str, Any], uploaded: int | None = None
    ) -> _JobOutcome:
        state = info.get("state")
        rows: list[tuple[str, SaveResult]] = []
        wanted = _results_to_read(info, uploaded)
        columns = {  # only what is used of each file: a 10,000-row file is 10,000 rows in memory
            ResultsType.successful: ("sf__Created", "sf__Id", key_field),
            ResultsType.failed: ("sf__Error", key_field),
            ResultsType.unprocessed: (key_field,),
        }
        try:
            successful, failed, unprocessed = (
                self._result_rows(job_id, kind, names) if kind in wanted else []
                for kind, names in columns.items()
            )
        except SalesforceError as exc:
            if state == JobState.aborted and not exc.transient:
                return _JobOutcome([], _failure(NOT_PROCESSED, f"bulk job {job_id} was aborted"))
            raise
        keyed = _key_of(key_field)
        for flag, record_id, key in successful:
            created = flag == "true" or str(flag or "").strip().lower() == "true"
            rows.append((keyed(key), SaveResult(True, record_id or None, created=created)))
        for error, key in failed:
            rows.append((keyed(key), _bulk_failure(error)))
        for (key,) in unprocessed:
            rows.append(
                (
                    keyed(key),
                    _failure(NOT_PROCESSED, f"bulk job {job_id} did not process this record"),
                )
            )
        if state == JobState.job_complete:
            missing = _failure(RESULT_UNKNOWN, f"bulk job {job_id} returned no result row")
        elif state == JobState.aborted:
            missing = _failure(NOT_PROCESSED, f"bulk job {job_id} was aborted")
        else:
            message = str(info.get("errorMessage") or "no error message")
            missing = _failure(BULK_JOB_FAILED, f"bulk job {job_id} failed: {message}")
        return _JobOutcome(rows, missing)

    def _result_rows(
        self, job_id: str, kind: ResultsType, names: Sequence[str]
    ) -> list[tuple[str | None, ...]]:
        """The `names` columns of one results CSV (None where a row or the header lacks one),
        decoded as UTF-8 whatever charset the response declares."""

        def fetch(sf: Salesforce) -> bytes:
            client = self._bulk(sf)
            url = client._construct_request_url(job_id, False) + "/" + kind.value
            headers = client._get_headers(client.JSON_CONTENT_TYPE, client.CSV_CONTENT_TYPE)
            return call_salesforce(
                url=url, method="GET", session=sf.session, headers=headers
            ).content

        content = self._call(f"bulk {kind.value} {job_id}", fetch)
        text = content.decode("utf-8-sig", errors="replace")
        del content
        if not text.strip():
            return []
        reader = csv.reader(io.StringIO(text, newline=""))
        header = next(reader, [])
        where = {name: i for i, name in enumerate(header)}  # a repeated name: the last, as
        picks = [where.get(name) for name in names]  # csv.DictReader would take
        if None not in picks:  # every column there: rows as long as the header take a getter
            width = max(picks) + 1
            getter = itemgetter(*picks) if len(picks) > 1 else lambda r, i=picks[0]: (r[i],)
            return [
                getter(row) if len(row) >= width else _picked(row, picks) for row in reader if row
            ]
        return [_picked(row, picks) for row in reader if row]


def _align(
    outcome: _JobOutcome, chunk: list[int], keys: list[str], results: list[SaveResult | None]
) -> None:
    """Each input row of `chunk` gets its key's next result row, in file order (rows with
    the same key are matched in order), or the outcome's `missing`."""
    first: dict[str, SaveResult] = {}
    more: dict[str, deque[SaveResult]] = {}  # the second and later rows of a key
    for key, result in outcome.rows:
        if key in first:
            more.setdefault(key, deque()).append(result)
        else:
            first[key] = result
    for i in chunk:
        found = first.pop(keys[i], None)
        if found is None:
            queue = more.get(keys[i])
            found = queue.popleft() if queue else outcome.missing
        results[i] = found


def _picked(row: list[str], picks: list[int | None]) -> tuple[str | None, ...]:
    return tuple(row[i] if i is not None and i < len(row) else None for i in picks)


class _JobOutcome:
    """Result rows of one bulk job (key, result) and what an input row without one gets."""

    __slots__ = ("missing", "rows")

    def __init__(self, rows: list[tuple[str, SaveResult]], missing: SaveResult) -> None:
        self.rows = rows
        self.missing = missing


def _nested(row: Mapping[str, Any]) -> dict[str, Any]:
    """A Bulk query CSV row shaped like a REST record: `Rel.Field` columns under `Rel`."""
    out: dict[str, Any] = {}
    for column, cell in row.items():
        value = cell if cell != "" else None
        rel, dot, name = str(column).partition(".")
        if not dot:
            out[column] = value
            continue
        group = out.get(rel)
        if not isinstance(group, dict):
            group = out[rel] = {}
        group[name] = value
    for key, value in list(out.items()):
        if isinstance(value, dict) and all(v is None for v in value.values()):
            out[key] = None
    return out


def _bulk_failure(error: str | None) -> SaveResult:
    """`sf__Error` is "CODE:message", sometimes with a trailing ":Field1,Field2 --"."""
    text = (error or "").strip()
    code, _, message = text.partition(":")
    fields: tuple[str, ...] = ()
    if message.endswith("--"):
        body = message[:-2].rstrip()
        head, sep, tail = body.rpartition(":")
        if (
            sep
            and tail.strip()
            and all(part.strip().replace("_", "").isalnum() for part in tail.split(","))
        ):
            message, fields = head, tuple(p.strip() for p in tail.split(",") if p.strip())
        else:
            message = body.rstrip(":").rstrip()
    if not code or not code.replace("_", "").isalnum() or code.upper() != code:
        code, message = "UNKNOWN_ERROR", text
    return SaveResult(False, None, (SaveError(code, message.strip(), fields),))


def _results_to_read(info: Mapping[str, Any], uploaded: int | None) -> set[ResultsType]:
    """Which result files of a finished job can hold a row: each read is an API call, and a
    10,000-lead sync runs two jobs. A JobComplete job's own counts say when a file is empty:
    no failed rows when numberRecordsFailed is 0, no unprocessed ones when it processed every
    row uploaded (unknown when resolving a job after a crash: then read), no successful ones
    when every processed row failed. Any other state, or counts missing: read all three."""
    every = {ResultsType.successful, ResultsType.failed, ResultsType.unprocessed}
    processed, failed = info.get("numberRecordsProcessed"), info.get("numberRecordsFailed")
    if info.get("state") != JobState.job_complete:
        return every
    if not all(type(n) is int for n in (processed, failed)):
        return every
    wanted = set(every)
    if failed == 0:
        wanted.discard(ResultsType.failed)
    if uploaded is not None and processed == uploaded:
        wanted.discard(ResultsType.unprocessed)
    if processed == failed:
        wanted.discard(ResultsType.successful)
    return wanted


def _key(key_field: str, value: Any) -> str:
    """Alignment key: trimmed; email fields also lower-cased (ids stay case-sensitive)."""
    return _key_of(key_field)(value)


def _key_of(key_field: str) -> Callable[[Any], str]:
    """`_key` for one key field, chosen once for a whole result file."""
    if key_field.lower().endswith("email"):
        return normalise_email
    return _trimmed


def _trimmed(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _cell(value: Any) -> str:
    if type(value) is str:  # most cells
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _to_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """CSV with a stable, sorted header (simple-salesforce's own conversion uses a set)."""
    columns = sorted({str(k) for row in rows for k in row if k != "attributes"})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(columns)
    writer.writerows([_cell(row.get(c)) for c in columns] for row in rows)
    return out.getvalue()


def _byte_chunks(indexes: list[int], records: Sequence[Mapping[str, Any]]) -> list[list[int]]:
    """Split rows so each job's CSV stays well under the ingest upload limit."""
    chunks: list[list[int]] = [[]]
    size = 0
    for i in indexes:
        values = records[i].values()
        text = "".join([_cell(v) for v in values])  # one encode per row, not per cell
        approx = (len(text) if text.isascii() else len(text.encode())) + 3 * len(values) + 1
        if chunks[-1] and size + approx > MAX_JOB_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(i)
        size += approx
    return [c for c in chunks if c]
