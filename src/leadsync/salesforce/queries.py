"""Reads: describe, SOQL queries (REST, paged), and many queries per call through Composite.

Why Composite: the org's daily allowance counts HTTP requests, and up to five queries travel as
the subrequests of ONE Composite request (see `query_many`); a query too long for a GET's URI
goes that way too (soql.MAX_GET_QUERY_CHARS).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from simple_salesforce.exceptions import SalesforceGeneralError

from leadsync.emails import normalise_emails
from leadsync.retry import Transient
from leadsync.salesforce.assignment import LEAD_RULES_SOQL
from leadsync.salesforce.errors import SalesforceError
from leadsync.salesforce.model import ObjectDescribe
from leadsync.salesforce.soql import (
    MAX_GET_QUERY_CHARS,
    encoded_length,
    field_list,
    form_quote,
    identifier,
    in_queries,
    looks_like_id,
    quote,
)
from leadsync.salesforce.transport import Transport
from leadsync.salesforce.wire import (
    _describe,
    _plain,
)

# Composite: at most 25 subrequests, of which at most 5 queries (query-more included) or
# sObject Collections; the whole composite request counts as ONE call against the org's limit.
COMPOSITE_QUERIES = 5
# A campaign has a few member statuses (2 by default): the statuses of 200 campaigns fit the
# 2,000 rows of one result page for up to 10 statuses each.
STATUS_CAMPAIGNS_PER_QUERY = 200


class Queries(Transport):
    """Describe and SOQL reads; every one is idempotent, so every transient failure is retried."""

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
        todo = deque(f"{base}/query?q={form_quote(soql)}" for soql in soqls)
        rows: list[dict[str, Any]] = []
        self.retry.run(lambda n: self._composite_rounds(todo, rows, n))
        return rows

    def _composite_rounds(self, todo: deque[str], rows: list[dict[str, Any]], attempt: int) -> None:
        """Send the queued query urls, COMPOSITE_QUERIES to a request, until they are all read
        (next pages queued as they come) or a request has subrequests that failed transiently:
        those go back to the front of the queue and the policy decides when to go on."""
        while todo:
            batch = [todo.popleft() for _ in range(min(COMPOSITE_QUERIES, len(todo)))]
            answers = self._composite_get(batch)
            again: list[str] = []
            failed: SalesforceError | None = None
            for url, (status, body) in zip(batch, answers, strict=True):
                if 200 <= status < 300:
                    if not isinstance(body, Mapping) or not isinstance(body.get("records"), list):
                        raise self._unexpected("composite query", body)
                    rows.extend(_plain(record) for record in body["records"])
                    if not body.get("done", True) and body.get("nextRecordsUrl"):
                        todo.append(str(body["nextRecordsUrl"]))
                    continue
                failed = self._map_error(
                    "composite query",
                    SalesforceGeneralError(url, status, "composite", body),
                    attempt,
                )
                if not failed.transient:
                    raise self._with_exchange(failed)
                again.append(url)
            if failed is not None:
                todo.extendleft(reversed(again))
                why = f"salesforce: {self._failed(failed)}"
                raise Transient(why, error=self._with_exchange(failed))

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
