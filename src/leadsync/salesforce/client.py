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

import csv
import io
import json
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import quote_plus

import requests
import urllib3.exceptions
from simple_salesforce import Salesforce
from simple_salesforce.bulk2 import JobState, Operation, ResultsType, SFBulk2Handler, _Bulk2Client
from simple_salesforce.exceptions import SalesforceError as SimpleSalesforceError
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceOperationError,
)
from simple_salesforce.util import call_salesforce

from leadsync import logs
from leadsync.config.model import ASSIGN_NONE, SalesforceConfig
from leadsync.retry import RetryPolicy
from leadsync.salesforce import auth
from leadsync.salesforce.assignment import (
    ACTIVE_LEAD_RULE_SOQL,
    LEAD_RULES_SOQL,
    LeadAssignment,
)
from leadsync.salesforce.errors import (
    BULK_JOB_FAILED,
    NOT_PROCESSED,
    RESULT_UNKNOWN,
    UNABLE_TO_LOCK_ROW,
    RequestLimitExceeded,
    SalesforceError,
    SessionExpired,
)
from leadsync.salesforce.model import (
    FieldInfo,
    ObjectDescribe,
    PicklistValue,
    SaveError,
    SaveResult,
)
from leadsync.salesforce.soql import (
    MAX_GET_QUERY_CHARS,
    encoded_length,
    field_list,
    identifier,
    in_queries,
    looks_like_id,
    normalise_email,
    normalise_emails,
    quote,
)

T = TypeVar("T")
log = logs.get("salesforce")
# Salesforce's edge names every answer with a request id (support asks for it); both spellings.
REQUEST_ID_HEADERS = ("X-SFDC-Request-Id", "X-Request-Id")
_ATTEMPTS = re.compile(r" after \d+ attempts$")  # the final error's words; a retry line counts

COLLECTION_SIZE = 200  # sObject Collections maximum per call
BULK_QUERY_PAGE = 50_000  # rows per Bulk API 2.0 query results page (maxRecords)
# Composite: at most 25 subrequests, of which at most 5 queries (query-more included) or
# sObject Collections; the whole composite request counts as ONE call against the org's limit.
COMPOSITE_QUERIES = 5
# A campaign has a few member statuses (2 by default): the statuses of 200 campaigns fit the
# 2,000 rows of one result page for up to 10 statuses each.
STATUS_CAMPAIGNS_PER_QUERY = 200
MAX_JOB_BYTES = 64 * 1024 * 1024  # one ingest job's CSV; Salesforce allows 100 MB (150 MB base64)
DEFAULT_TIMEOUT = (10.0, 120.0)
TERMINAL_STATES = (JobState.job_complete, JobState.failed, JobState.aborted)
# Field updates never re-route: with no header Salesforce re-runs the active Lead assignment
# rule on REST updates (Sforce-Auto-Assign defaults to TRUE). An update says "no rule", in the
# words salesforce/assignment.py has for it (REST header FALSE; a Bulk job that names none).
FIELD_UPDATE_ASSIGNMENT = LeadAssignment(ASSIGN_NONE)
_EXCERPT = 200


class SalesforceClient:
    """One org, one auth form; lazily logged in on the first call."""

    def __init__(
        self,
        cfg: SalesforceConfig,
        *,
        session: requests.Session | None = None,
        retry: RetryPolicy | None = None,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        bulk_poll: float = 0.25,
        bulk_poll_max: float = 5.0,
        bulk_timeout: float = 4 * 3600.0,
        poll_sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.cfg = cfg
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self.calls = 0
        self._bulk_poll = bulk_poll
        self._bulk_poll_max = bulk_poll_max
        self._bulk_timeout = bulk_timeout
        self._poll_sleep = poll_sleep
        self._session = session or requests.Session()
        if cfg.ca_bundle:
            # With trust_env on, REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE silently override
            # session.verify; the configured bundle must win.
            self._session.trust_env = False
            self._session.verify = cfg.ca_bundle
        self._last_headers: Mapping[str, str] | None = None
        # Salesforce's clock as its last answer stated it (the HTTP Date header): an
        # incremental read takes its own start from its first answer (no extra call).
        self.last_date: datetime | None = None
        self._last_exchange = ""  # "POST https://host/path -> 503, request id ..." (no query)
        self._instrument(self._session)
        self._usage: tuple[int, int] | None = None
        self._sf: Salesforce | None = None
        self._token: auth.Token | None = None
        self._describes: dict[str, ObjectDescribe] = {}
        self._active_lead_rule: list[str | None] = []  # looked up once per client

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

    # -- reads ----------------------------------------------------------------------------------

    def describe(self, sobject: str) -> ObjectDescribe:
        """Field metadata, fetched once per client (a refresh describes each object once)."""
        name = identifier(sobject)
        if name not in self._describes:
            raw = self._call(f"describe {name}", lambda sf: sf.restful(f"sobjects/{name}/describe"))
            if not isinstance(raw, Mapping) or not isinstance(raw.get("fields"), list):
                raise self._unexpected(f"describe {name}", raw)
            self._describes[name] = _describe(name, raw)
        return self._describes[name]

    def query(self, soql: str, *, include_deleted: bool = False) -> Iterator[dict[str, Any]]:
        """Every record of a SOQL query, following nextRecordsUrl; `attributes` dropped.

        `include_deleted`: queryAll, which also returns deleted records still in the recycle
        bin (IsDeleted true), e.g. CampaignMembers removed from a Campaign since the last read.
        """
        if not include_deleted and encoded_length(soql) > MAX_GET_QUERY_CHARS:
            # too long for a GET's URI: a Composite subrequest (also one API call)
            return iter(self.query_many([soql]))
        return self.query_sized(soql, include_deleted=include_deleted)[1]

    def query_sized(
        self, soql: str, *, include_deleted: bool = False
    ) -> tuple[int, Iterator[dict[str, Any]]]:
        """(totalSize, every record) of a SOQL query: the first page is read here, so a caller
        can see how many records come before it reads them (and read them another way: a
        first page that says "many" decides for a Bulk API 2.0 query job without a COUNT())."""
        page = self._call("query", lambda sf: sf.query(soql, include_deleted=include_deleted))
        if not isinstance(page, Mapping) or not isinstance(page.get("records"), list):
            raise self._unexpected("query", page)
        return int(page.get("totalSize") or 0), self._pages(page)

    def _pages(self, page: Any) -> Iterator[dict[str, Any]]:
        while True:
            if not isinstance(page, Mapping) or not isinstance(page.get("records"), list):
                raise self._unexpected("query", page)
            for record in page["records"]:
                yield _plain(record)
            if page.get("done", True) or not page.get("nextRecordsUrl"):
                return
            next_url = str(page["nextRecordsUrl"])
            page = self._call(
                "query_more", lambda sf, u=next_url: sf.query_more(u, identifier_is_url=True)
            )

    def query_count(self, soql: str, *, include_deleted: bool = False) -> int:
        """`SELECT COUNT() FROM ...`: how many records a query would return (one call)."""
        page = self._call("query count", lambda sf: sf.query(soql, include_deleted=include_deleted))
        if not isinstance(page, Mapping) or not isinstance(page.get("totalSize"), int):
            raise self._unexpected("query count", page)
        return int(page["totalSize"])

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

    def find_by_emails(
        self,
        sobject: str,
        emails: Iterable[str],
        fields: Sequence[str] = ("Id", "Email"),
        extra_where: str | None = None,
    ) -> list[dict[str, Any]]:
        """Records whose Email is one of `emails` (trimmed, lower-cased, de-duplicated).

        Values are quoted by format_soql and split over as many queries as needed;
        `extra_where` is the caller's own SOQL condition (no data), ANDed to each query.
        """
        values = normalise_emails(emails)
        if not values:
            return []
        head = f"SELECT {field_list(fields)} FROM {identifier(sobject)}"
        tail = f"AND ({extra_where})" if extra_where else ""
        return self.query_many(list(in_queries(head, "Email", values, tail=tail)))

    def find_by(
        self, sobject: str, field: str, values: Iterable[str], fields: Sequence[str] = ("Id",)
    ) -> list[dict[str, Any]]:
        """Records whose `field` is one of `values` (exact strings, de-duplicated; SOQL compares
        text case-insensitively), over as many quoted IN queries as needed."""
        wanted = [v for v in dict.fromkeys(str(v) for v in values) if v]
        if not wanted:
            return []
        head = f"SELECT {field_list(fields)} FROM {identifier(sobject)}"
        return self.query_many(list(in_queries(head, field, wanted)))

    def query_many(self, soqls: Sequence[str]) -> list[dict[str, Any]]:
        """Every record of several SOQL queries (all pages), `attributes` dropped.

        Why: the org's daily allowance counts HTTP requests, and an existence check of 10,000
        emails is 10 IN queries (soql.in_queries). One short query goes as a plain GET; a
        longer one, or two or more, travel as GET subrequests of Composite requests (5
        queries each, the most Salesforce allows; a subrequest's url is not bound by the
        16,384-byte URI limit), each composite request counting as ONE API call. Queries are
        idempotent: a subrequest that fails transiently is asked again (within the retry
        budget) in a later composite request, and a page that is not the last (done false)
        is followed through its nextRecordsUrl the same way.
        """
        if not soqls:
            return []
        if len(soqls) == 1 and encoded_length(soqls[0]) <= MAX_GET_QUERY_CHARS:
            return list(self.query(soqls[0]))
        base = f"/services/data/v{self._connect().sf_version}"
        todo = deque((f"{base}/query?q={quote_plus(soql, safe='')}", 0) for soql in soqls)
        rows: list[dict[str, Any]] = []
        failed = ""
        while todo:
            batch = [todo.popleft() for _ in range(min(COMPOSITE_QUERIES, len(todo)))]
            answers = self._composite_get([url for url, _ in batch])
            again: list[tuple[str, int]] = []
            for (url, tries), (status, body) in zip(batch, answers, strict=True):
                if 200 <= status < 300:
                    if not isinstance(body, Mapping) or not isinstance(body.get("records"), list):
                        raise self._unexpected("composite query", body)
                    rows.extend(_plain(record) for record in body["records"])
                    if not body.get("done", True) and body.get("nextRecordsUrl"):
                        todo.append((str(body["nextRecordsUrl"]), 0))
                    continue
                error = self._map_error(
                    "composite query",
                    SalesforceGeneralError(url, status, "composite", body),
                    tries + 1,
                )
                if not error.transient or not self.retry.allows(tries + 1):
                    raise self._with_exchange(error)
                again.append((url, tries + 1))
                failed = f"salesforce: {self._failed(error)}"
            if again:
                self.retry.pause(max(tries for _, tries in again), why=failed)
                todo.extendleft(reversed(again))
        return rows

    def _composite_get(self, urls: Sequence[str]) -> list[tuple[int, Any]]:
        """One Composite request of independent GET subrequests: (status, body) of each, in
        the order given (matched by referenceId, not by position)."""
        body = {
            "allOrNone": False,
            "collateSubrequests": False,
            "compositeRequest": [
                {"method": "GET", "url": url, "referenceId": f"q{i}"} for i, url in enumerate(urls)
            ],
        }
        raw = self._call(
            "composite query", lambda sf: sf.restful("composite", method="POST", json=body)
        )
        items = raw.get("compositeResponse") if isinstance(raw, Mapping) else None
        if not isinstance(items, list):
            raise self._unexpected("composite query", raw)
        by_ref = {str(item.get("referenceId")): item for item in items if isinstance(item, Mapping)}
        out: list[tuple[int, Any]] = []
        for i in range(len(urls)):
            item = by_ref.get(f"q{i}")
            status = item.get("httpStatusCode") if item is not None else None
            if not isinstance(status, int):
                raise self._unexpected("composite query", raw)
            out.append((status, item.get("body")))
        return out

    def find_campaigns(self, names_or_ids: Iterable[str]) -> list[dict[str, Any]]:
        """Campaigns named (or with the Id) given, in ONE query: Id and Name of each match."""
        wanted = [str(v).strip() for v in names_or_ids if v and str(v).strip()]
        wanted = list(dict.fromkeys(wanted))
        if not wanted:
            return []
        ids = [v for v in wanted if looks_like_id(v, "701")]
        clauses = [f"Name IN {quote(wanted)}"]
        if ids:
            clauses.append(f"Id IN {quote(ids)}")
        return list(self.query(f"SELECT Id, Name FROM Campaign WHERE {' OR '.join(clauses)}"))

    def campaign_names(self, limit: int = 2000) -> list[str]:
        """Names of the most recently modified campaigns (one query, at most `limit`): the
        candidates for a "did you mean" when a linked campaign is not found."""
        rows = self.query(
            f"SELECT Name FROM Campaign ORDER BY LastModifiedDate DESC LIMIT {int(limit)}"
        )
        return [str(r["Name"]) for r in rows if r.get("Name")]

    def campaign_member_statuses(self, campaign_ids: Iterable[str]) -> dict[str, list[str]]:
        """Status labels of each campaign (one query), keyed by the id as given and as returned."""
        ids = list(dict.fromkeys(str(i) for i in campaign_ids if i))
        out: dict[str, list[str]] = {i: [] for i in ids}
        if not ids:
            return out
        head = "SELECT CampaignId, Label FROM CampaignMemberStatus"
        queries = in_queries(head, "CampaignId", ids, max_values=STATUS_CAMPAIGNS_PER_QUERY)
        for row in self.query_many(list(queries)):
            cid = str(row.get("CampaignId") or "")
            label = row.get("Label")
            if label is None:
                continue
            targets = {cid} | {i for i in ids if len(i) == 15 and cid.startswith(i)}
            for key in targets:
                out.setdefault(key, []).append(str(label))
        return out

    def campaign_member_ids(
        self, campaign_id: str, field: str, record_ids: Iterable[str]
    ) -> set[str]:
        """Which of `record_ids` (values of CampaignMember `field`: LeadId or ContactId) are
        members of the campaign already; Ids as Salesforce returns them (18 characters)."""
        values = list(dict.fromkeys(str(i) for i in record_ids if i))
        if not values:
            return set()
        head = f"SELECT {identifier(field)} FROM CampaignMember"
        tail = f"AND CampaignId = {quote(campaign_id)}"
        rows = self.query_many(list(in_queries(head, field, values, tail=tail)))
        return {str(row[field]) for row in rows if row.get(field)}

    def lead_statuses(self) -> list[dict[str, Any]]:
        """LeadStatus rows: ApiName, MasterLabel, IsDefault, IsConverted, SortOrder."""
        return list(
            self.query(
                "SELECT ApiName, MasterLabel, IsDefault, IsConverted, SortOrder FROM LeadStatus"
            )
        )

    def lead_assignment_rules(self) -> list[dict[str, Any]]:
        """The org's Lead AssignmentRule rows: Id, Name, Active (at most one is active)."""
        return list(self.query(LEAD_RULES_SOQL))

    # -- Lead assignment: one place for every Lead write (creates and upserts) ------------------

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

    def api_usage(self) -> tuple[int, int] | None:
        """(used, total) daily API requests from the latest Sforce-Limit-Info, if seen yet."""
        if self._usage is not None:
            return self._usage
        usage = (self._sf.api_usage or {}).get("api-usage") if self._sf else None
        return (int(usage.used), int(usage.total)) if usage else None

    # -- writes ---------------------------------------------------------------------------------

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
            attempt = 0
            while pending:
                attempt += 1
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
                    break
                locked: list[int] = []
                for i, item in zip(pending, raw, strict=True):
                    result = _save_result(item)
                    results[i] = result
                    if _locked(result):
                        locked.append(i)
                if locked and self.retry.allows(attempt):
                    self.retry.pause(attempt, why=self._locked_note(send.sobject, len(locked)))
                    pending = locked
                else:
                    pending = []
        return [r if r is not None else _failure(RESULT_UNKNOWN, "no result") for r in results]

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
        keys = [_key(key_field, r.get(key_field)) for r in records]
        pending = list(range(len(records)))
        attempt = 0
        while pending:
            attempt += 1
            for chunk in _byte_chunks(pending, records):
                rows = [records[i] for i in chunk]
                job_id, info = self._run_job(name, rows, on_job, options)
                outcome = self._job_outcome(job_id, key_field, info, uploaded=len(rows))
                by_key: dict[str, deque[SaveResult]] = {}
                for key, result in outcome.rows:
                    by_key.setdefault(key, deque()).append(result)
                for i in chunk:
                    queue = by_key.get(keys[i])
                    results[i] = queue.popleft() if queue else outcome.missing
            locked = [i for i in pending if _locked(results[i])]
            if locked and self.retry.allows(attempt):
                self.retry.pause(attempt, why=self._locked_note(name, len(locked)))
                pending = locked
            else:
                pending = []
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

    # -- bulk internals -------------------------------------------------------------------------

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
        for flag, record_id, key in successful:
            created = str(flag or "").strip().lower() == "true"
            rows.append(
                (_key(key_field, key), SaveResult(True, record_id or None, created=created))
            )
        for error, key in failed:
            rows.append((_key(key_field, key), _bulk_failure(error)))
        for (key,) in unprocessed:
            rows.append(
                (
                    _key(key_field, key),
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
        return [
            tuple(row[i] if i is not None and i < len(row) else None for i in picks)
            for row in reader
            if row
        ]

    # -- transport ------------------------------------------------------------------------------

    def _instrument(self, session: requests.Session) -> None:
        """Count every request the session sends and read Sforce-Limit-Info off every answer.

        Wrapping `send` (not a response hook) counts attempts whose connection dropped too,
        and covers login, REST and bulk alike since they all share this session.
        """
        original_send = session.send

        def send(request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
            self.calls += 1
            if kwargs.get("timeout") is None:
                kwargs["timeout"] = self.timeout
            self._last_headers = None
            where = logs.endpoint(request.method or "", request.url or "")
            self._last_exchange = f"{where} -> no answer"
            try:
                response = original_send(request, **kwargs)
            except requests.RequestException as exc:
                self._last_exchange = f"{where} -> {type(exc).__name__}"
                log.debug("salesforce: %s", self._last_exchange)
                raise
            self._last_headers = response.headers
            self._note_date(response.headers.get("Date"))
            self._last_exchange = _exchange(where, response)
            log.debug("salesforce: %s", self._last_exchange)
            info = response.headers.get("Sforce-Limit-Info")
            if info:
                usage = Salesforce.parse_api_usage(info).get("api-usage")
                if usage is not None:
                    self._usage = (int(usage.used), int(usage.total))
            return response

        session.send = send  # type: ignore[method-assign]

    def _note_date(self, raw: str | None) -> None:
        if not raw:
            return
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return
        if when is not None and when.tzinfo is not None:
            self.last_date = when

    def _connect(self) -> Salesforce:
        if self._sf is None:
            token = self._token or self._call_raw(
                "login", lambda: auth.login(self.cfg, self._session)
            )
            self._token = token
            self._sf = Salesforce(
                instance_url=token.instance_url,
                session_id=token.access_token,
                session=self._session,
                version=self.cfg.api_version,
            )
        return self._sf

    def _call(self, what: str, fn: Callable[[Salesforce], T], *, idempotent: bool = True) -> T:
        """Run one API step with retries, one re-login on INVALID_SESSION_ID, error mapping.

        `idempotent=False` (creates): an outcome-unknown failure is raised at once, ambiguous.
        """
        renewed = False
        while True:
            sf = self._connect()
            try:
                return self._call_raw(what, lambda sf=sf: fn(sf), idempotent=idempotent)
            except SessionExpired:
                if renewed or not auth.can_renew(self.cfg):
                    raise
                renewed = True
                log.info("salesforce: %s: session expired; logging in again", what)
                self._sf = self._token = None  # log in again, then retry the step once

    def _call_raw(self, what: str, fn: Callable[[], T], *, idempotent: bool = True) -> T:
        attempt = 0
        while True:
            attempt += 1
            try:
                return fn()
            except requests.exceptions.SSLError as exc:
                raise SalesforceError(
                    f"{what}: TLS verification failed for {self.cfg.instance_url} "
                    f"({type(exc).__name__}); set {self.cfg.setting('ca_bundle')} if the org "
                    "uses a private CA",
                    code="TLS_ERROR",
                ) from None
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
            ) as exc:
                if not idempotent and not _never_sent(exc):
                    raise self._with_exchange(
                        SalesforceError(
                            f"{what}: {type(exc).__name__} after the request was sent "
                            f"(attempt {attempt}); Salesforce may have applied it, so it is not "
                            "sent again blindly",
                            code="CONNECTION_ERROR",
                            ambiguous=True,
                        )
                    ) from None
                error = SalesforceError(
                    f"{what}: {type(exc).__name__} after {attempt} attempts",
                    code="CONNECTION_ERROR",
                    transient=True,
                )
            except requests.HTTPError as exc:  # token endpoint 5xx
                status = exc.response.status_code if exc.response is not None else None
                error = SalesforceError(
                    f"{what}: HTTP {status} after {attempt} attempts",
                    status=status,
                    transient=True,
                )
            except SalesforceExpiredSession as exc:
                raise self._session_expired(what, exc) from None
            except SimpleSalesforceError as exc:
                error = self._map_error(what, exc, attempt, idempotent=idempotent)
                if error.ambiguous:
                    raise self._with_exchange(error) from None
            except SalesforceOperationError as exc:
                raise SalesforceError(
                    f"{what}: {_excerpt(str(exc))}", code=BULK_JOB_FAILED
                ) from None
            except ValueError as exc:  # a 2xx body that is not JSON
                raise SalesforceError(
                    f"{what}: unreadable response ({type(exc).__name__}): {_excerpt(str(exc))}",
                    code="UNEXPECTED_RESPONSE",
                ) from None
            if not error.transient or not self.retry.allows(attempt):
                raise self._with_exchange(error)
            self.retry.pause(
                attempt, self._retry_after(error.status), why=f"salesforce: {self._failed(error)}"
            )

    def _retry_after(self, status: int | None) -> float | None:
        """Seconds a 429/503 asked us to wait (Retry-After), when the answer said so."""
        if status not in (429, 503) or not self._last_headers:
            return None
        value = self._last_headers.get("Retry-After")
        try:
            return max(0.0, float(value)) if value else None
        except ValueError:
            return None

    def _failed(self, error: SalesforceError) -> str:
        """A retry line's account of a failed call: our words, Salesforce's, the exchange."""
        said = _ATTEMPTS.sub("", str(error).removeprefix("Salesforce: "))
        return f"{said}; {self._last_exchange}"

    def _locked_note(self, sobject: str, count: int) -> str:
        return (
            f"salesforce: {count} {sobject} record{'s' if count != 1 else ''} UNABLE_TO_LOCK_ROW; "
            f"{self._last_exchange}"
        )

    def _with_exchange(self, error: SalesforceError) -> SalesforceError:
        """The error, its message ending with the endpoint, status and request id it came from
        (request-level failures only: per-record reasons stay Salesforce's own words)."""
        if self._last_exchange and self._last_exchange not in str(error):
            error.args = (f"{error.args[0]} [{self._last_exchange}]", *error.args[1:])
        return error

    def _map_error(
        self, what: str, exc: SimpleSalesforceError, attempt: int, *, idempotent: bool = True
    ) -> SalesforceError:
        status = int(exc.status) if exc.status else None
        code, message, fields = _api_error(exc.content)
        # 429 means "slow down" whatever the body says; REQUEST_LIMIT_EXCEEDED (403) is the
        # daily allowance, except its ConcurrentPerOrgLongTxn flavour, which passes with time.
        if (
            code == "REQUEST_LIMIT_EXCEEDED"
            and status != 429
            and "concurrent" not in message.lower()
        ):
            raise RequestLimitExceeded(
                f"the org's API request limit is exceeded ({message or code}) during {what}. "
                "The run stops here with everything recorded; re-run when the allowance resets."
            ) from None
        transient = (status is not None and (status >= 500 or status == 429)) or code in (
            UNABLE_TO_LOCK_ROW,
            "SERVER_UNAVAILABLE",
        )
        ambiguous = not idempotent and transient and _outcome_unknown(status, code)
        detail = message or _excerpt(str(exc.content))
        suffix = f" after {attempt} attempts" if transient else ""
        if ambiguous:
            suffix = (
                f" (attempt {attempt}); Salesforce may have applied it, "
                "so it is not sent again blindly"
            )
        return SalesforceError(
            f"{what}: {code or 'HTTP ' + str(status)}: {detail}{suffix}",
            code=code,
            status=status,
            transient=transient,
            fields=fields,
            detail=detail,
            ambiguous=ambiguous,
        )

    def _session_expired(self, what: str, exc: SimpleSalesforceError) -> SessionExpired:
        code, message, _ = _api_error(exc.content)
        if auth.can_renew(self.cfg):
            hint = "logging in again did not help; check the user and connected app"
        else:
            hint = (
                "the configured access_token cannot be renewed by leadsync; get a new token "
                f"and set {self.cfg.setting('auth.access_token')}"
            )
        return SessionExpired(
            f"{what}: session invalid or expired ({code or 'HTTP 401'}: {message or 'no message'}); "
            + hint
        )

    def _unexpected(self, what: str, body: Any) -> SalesforceError:
        return SalesforceError(
            f"{what}: unexpected response: {_excerpt(repr(body))}", code="UNEXPECTED_RESPONSE"
        )


def _exchange(where: str, response: requests.Response) -> str:
    """`POST https://host/path -> 503, request id 4f3c...` for logs and error messages."""
    rid = next((response.headers[h] for h in REQUEST_ID_HEADERS if response.headers.get(h)), None)
    return f"{where} -> {response.status_code}" + (f", request id {rid}" if rid else "")


def _never_sent(exc: BaseException) -> bool:
    """True when the connection could not even be opened, so no request reached Salesforce.

    requests wraps urllib3's NewConnectionError / ConnectTimeoutError (refused, unreachable,
    DNS, connect timeout) in a ConnectionError whose first argument is a MaxRetryError with the
    cause as `reason`. Anything else (reset, remote disconnect, read timeout) may have happened
    after the request was on the wire.
    """
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    stack: list[BaseException] = [exc]
    seen: set[int] = set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, urllib3.exceptions.ConnectTimeoutError):  # NewConnectionError too
            return True
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            stack.append(reason)
        stack.extend(a for a in current.args if isinstance(a, BaseException))
        if current.__cause__ is not None:
            stack.append(current.__cause__)
    return False


def _outcome_unknown(status: int | None, code: str | None) -> bool:
    """A server error that may come after the work was done (500/502/504); 503 is a refusal
    ("unavailable": nothing was done), and UNABLE_TO_LOCK_ROW is a refusal whatever its status."""
    return status is not None and status >= 500 and status != 503 and code != UNABLE_TO_LOCK_ROW


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


class _JobOutcome:
    """Result rows of one bulk job (key, result) and what an input row without one gets."""

    __slots__ = ("missing", "rows")

    def __init__(self, rows: list[tuple[str, SaveResult]], missing: SaveResult) -> None:
        self.rows = rows
        self.missing = missing


# -- pure helpers -------------------------------------------------------------------------------


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


def _plain(value: Any) -> Any:
    """OrderedDicts to dicts, top-level `attributes` dropped (callers want field values)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items() if k != "attributes"}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _describe(name: str, raw: Mapping[str, Any]) -> ObjectDescribe:
    fields: dict[str, FieldInfo] = {}
    for f in raw["fields"]:
        if not isinstance(f, Mapping) or not f.get("name"):
            continue
        picklist = tuple(
            PicklistValue(
                value=str(p.get("value")),
                label=str(p.get("label") or p.get("value")),
                active=bool(p.get("active", True)),
                default=bool(p.get("defaultValue", False)),
            )
            for p in (f.get("picklistValues") or [])
            if isinstance(p, Mapping) and p.get("value") is not None
        )
        fields[str(f["name"])] = FieldInfo(
            name=str(f["name"]),
            label=str(f.get("label") or f["name"]),
            type=str(f.get("type") or "string"),
            nillable=bool(f.get("nillable", True)),
            createable=bool(f.get("createable", False)),
            defaulted_on_create=bool(f.get("defaultedOnCreate", False)),
            length=int(f.get("length") or 0),
            custom=bool(f.get("custom", False)),
            restricted_picklist=bool(f.get("restrictedPicklist", False)),
            picklist_values=picklist,
            external_id=bool(f.get("externalId", False)),
            unique=bool(f.get("unique", False)),
            updateable=bool(f.get("updateable", f.get("createable", False))),
        )
    return ObjectDescribe(name=str(raw.get("name") or name), fields=fields)


def _api_error(content: Any) -> tuple[str | None, str, tuple[str, ...]]:
    """(errorCode, message, fields) from a REST error body (a JSON list, usually)."""
    item = content[0] if isinstance(content, list) and content else content
    if isinstance(item, Mapping):
        code = item.get("errorCode") or item.get("statusCode") or item.get("error")
        message = item.get("message") or item.get("error_description") or ""
        fields = tuple(str(f) for f in (item.get("fields") or ()))
        return (str(code) if code else None), _excerpt(str(message)), fields
    return None, _excerpt(str(content or "")), ()


def _save_result(raw: Any) -> SaveResult:
    if not isinstance(raw, Mapping):
        return _failure(RESULT_UNKNOWN, "unreadable result: " + _excerpt(repr(raw)))
    errors = tuple(_save_error(e) for e in (raw.get("errors") or []) if isinstance(e, Mapping))
    success = bool(raw.get("success"))
    if not success and not errors:
        errors = (SaveError("UNKNOWN_ERROR", "Salesforce reported a failure without errors"),)
    created = raw.get("created")
    return SaveResult(
        success=success,
        id=raw.get("id") or None,
        errors=errors,
        created=created if isinstance(created, bool) and success else None,
    )


def _save_error(raw: Mapping[str, Any]) -> SaveError:
    code = str(raw.get("statusCode") or raw.get("errorCode") or "UNKNOWN_ERROR")
    matched: list[str] = []
    duplicate = raw.get("duplicateResult")
    if isinstance(duplicate, Mapping):
        for match in duplicate.get("matchResults") or []:
            if not isinstance(match, Mapping):
                continue
            for record in match.get("matchRecords") or []:
                rec = record.get("record") if isinstance(record, Mapping) else None
                rid = rec.get("Id") or rec.get("id") if isinstance(rec, Mapping) else None
                if rid and rid not in matched:
                    matched.append(str(rid))
    return SaveError(
        status_code=code,
        message=str(raw.get("message") or ""),
        fields=tuple(str(f) for f in (raw.get("fields") or ())),
        matched_ids=tuple(matched),
    )


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


def _failure(code: str, message: str) -> SaveResult:
    return SaveResult(False, None, (SaveError(code, message),))


def _locked(result: SaveResult | None) -> bool:
    return (
        result is not None
        and not result.success
        and any(e.status_code == UNABLE_TO_LOCK_ROW for e in result.errors)
    )


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
    if key_field.lower().endswith("email"):
        return normalise_email(value)
    return "" if value is None else str(value).strip()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _json_values(record: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k): _json_value(v) for k, v in record.items() if k != "attributes"}


def _to_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """CSV with a stable, sorted header (simple-salesforce's own conversion uses a set)."""
    columns = sorted({str(k) for row in rows for k in row if k != "attributes"})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return out.getvalue()


def _byte_chunks(indexes: list[int], records: Sequence[Mapping[str, Any]]) -> list[list[int]]:
    """Split rows so each job's CSV stays well under the ingest upload limit."""
    chunks: list[list[int]] = [[]]
    size = 0
    for i in indexes:
        approx = sum(len(_cell(v).encode()) + 3 for v in records[i].values()) + 1
        if chunks[-1] and size + approx > MAX_JOB_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(i)
        size += approx
    return [c for c in chunks if c]


def _excerpt(text: str) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= _EXCERPT else flat[: _EXCERPT - 1] + "…"
