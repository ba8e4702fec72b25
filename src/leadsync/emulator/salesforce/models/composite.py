"""Composite and Composite Batch: the request limits, each subrequest's rules, references between
subrequests and the all-or-none transaction. The HTTP layer (responses/composite.py) parses the
body, routes each subrequest like a request of its own and renders the answers; every rule of
the two resources lives here.

Composite (`/composite`): up to 25 subrequests in order, at most 5 of them queries or sObject
Collections, ONE API call. A later subrequest can use an earlier answer through
`@{referenceId.path}` (`@{newLead.id}`, `@{leads.records[0].Id}`) in its URL and body. With
allOrNone the whole request is one transaction: the first failing subrequest keeps its error,
the writes before it are rolled back and every other subrequest answers PROCESSING_HALTED.
Without it each subrequest commits on its own and one that names the answer of a failed (or
unknown) subrequest fails alone.

Composite Batch (`/composite/batch`): up to 25 independent subrequests (no references), each
its own transaction and each counted as an API call; haltOnError stops at the first failure
and answers the rest 412 BATCH_PROCESSING_HALTED.

Neither may contain a Composite request, nor set Accept, Authorization or Content-Type on a
subrequest (they come from the outer request). The 16,384-byte URI limit is Salesforce's edge,
not the API's (urls.py): a subrequest's url is not subject to it; a SOQL statement's length is
checked wherever it arrives (queries.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from leadsync.emulator.salesforce.exceptions import ApiError, json_parser_error
from leadsync.emulator.salesforce.models.base import OrgState

MAX_SUBREQUESTS = 25
MAX_QUERY_OR_COLLECTION = 5  # Query, QueryAll, query-more and sObject Collections subrequests
SUBREQUEST_METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE")
HALTED = "The transaction was rolled back since another operation in the same transaction failed."
BATCH_HALTED = [
    {"errorCode": "BATCH_PROCESSING_HALTED", "message": "Batch processing halted per request"}
]
_REFERENCE_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_HEAVY = re.compile(r"^/services/data/v\d+\.\d+/(query|queryAll|composite/sobjects)(/|$)")
_NESTED = re.compile(r"^/services/data/v\d+\.\d+/composite(/batch)?$")
_INHERITED = ("accept", "authorization", "content-type")
_REFERENCE = re.compile(r"@\{([A-Za-z][A-Za-z0-9_]*)((?:\.[A-Za-z0-9_]+|\[\d+\])*)\}")
_PATH_PART = re.compile(r"\.([A-Za-z0-9_]+)|\[(\d+)\]")


@dataclass
class SubAnswer:
    """What one subrequest answered: its status, JSON body and the headers a client keeps."""

    status: int
    body: object
    headers: dict[str, str] = field(default_factory=dict)
    reference_id: str = ""

    @property
    def failed(self) -> bool:
        return self.status >= 400


# (subrequest {"method", "url", "body"?, "httpHeaders"?}) -> its answer, routed as a request
Execute = Callable[[dict], SubAnswer]


class UnresolvedReference(Exception):
    pass


def composite_subrequests(body: object) -> list[dict]:
    """The Composite request's subrequests, each checked; ApiError names the first wrong one."""
    subs = body.get("compositeRequest") if isinstance(body, dict) else None
    if not isinstance(subs, list) or not subs:
        raise json_parser_error(
            "Cannot deserialize the request body: expected "
            '{"allOrNone": bool, "compositeRequest": [subrequest, ...]}'
        )
    if len(subs) > MAX_SUBREQUESTS:
        raise ApiError(
            400,
            "LIMIT_EXCEEDED",
            f"A composite request can have at most {MAX_SUBREQUESTS} subrequests; "
            f"this one has {len(subs)}.",
        )
    seen: set[str] = set()
    heavy = 0
    for sub in subs:
        if not isinstance(sub, dict):
            raise json_parser_error("Each compositeRequest item must be a JSON object.")
        ref = sub.get("referenceId")
        if not isinstance(ref, str) or not _REFERENCE_ID.match(ref):
            raise ApiError(
                400, "INVALID_INPUT", f"Invalid referenceId {ref!r}: use letters, digits and _"
            )
        if ref in seen:
            raise ApiError(400, "INVALID_INPUT", f"Duplicate referenceId provided: {ref}")
        seen.add(ref)
        path = _checked(sub.get("method"), sub.get("url"), sub.get("httpHeaders"), ref)
        heavy += bool(_HEAVY.match(path))
    if heavy > MAX_QUERY_OR_COLLECTION:
        raise ApiError(
            400,
            "LIMIT_EXCEEDED",
            f"A composite request can have at most {MAX_QUERY_OR_COLLECTION} query or sObject "
            f"Collections subrequests; this one has {heavy}.",
        )
    return subs


def batch_subrequests(body: object) -> list[dict]:
    """The Batch request's subrequests as {"method", "url", "body"}, URLs made absolute
    (`v59.0/sobjects/Lead` -> `/services/data/v59.0/sobjects/Lead`), each checked."""
    subs = body.get("batchRequests") if isinstance(body, dict) else None
    if not isinstance(subs, list) or not subs:
        raise json_parser_error(
            'Cannot deserialize the request body: expected {"batchRequests": [...], "haltOnError": bool}'
        )
    if len(subs) > MAX_SUBREQUESTS:
        raise ApiError(
            400,
            "LIMIT_EXCEEDED",
            f"A batch request can have at most {MAX_SUBREQUESTS} subrequests; this one has {len(subs)}.",
        )
    prepared = []
    for n, sub in enumerate(subs):
        if not isinstance(sub, dict):
            raise json_parser_error("Each batchRequests item must be a JSON object.")
        url = str(sub.get("url") or "")
        url = url if url.startswith("/services/data/") else "/services/data/" + url.lstrip("/")
        _checked(sub.get("method"), url, None, f"#{n}")
        prepared.append({"method": sub["method"], "url": url, "body": sub.get("richInput")})
    return prepared


def _checked(method: object, url: object, headers: object, name: str) -> str:
    """One subrequest's method, URL and headers (shared by Composite and Batch): its path."""
    if method not in SUBREQUEST_METHODS:
        raise ApiError(400, "INVALID_INPUT", f"Invalid method {method!r} for subrequest {name}")
    if not isinstance(url, str) or not url.startswith("/services/data/v"):
        raise ApiError(400, "INVALID_INPUT", f"Invalid url {url!r} for subrequest {name}")
    path = urlsplit(url).path.rstrip("/")
    if _NESTED.match(path):
        raise ApiError(400, "INVALID_INPUT", "A composite request cannot contain /composite")
    if headers is not None and (
        not isinstance(headers, dict) or any(str(k).lower() in _INHERITED for k in headers)
    ):
        raise ApiError(
            400,
            "INVALID_INPUT",
            f"Subrequest {name}: Accept, Authorization and Content-Type come from the "
            "composite request and cannot be set in httpHeaders",
        )
    return path


class Composite(OrgState):
    """Running checked subrequests with Composite's transaction and Batch's halting rules."""

    def run_composite(
        self, subs: list[dict], all_or_none: bool, execute: Execute
    ) -> list[SubAnswer]:
        """Subrequests in order, references resolved; with all_or_none one transaction."""
        with self.lock:  # one transaction: no other request interleaves with its writes
            point = self.savepoint()
            answers: dict[str, object] = {}
            results: list[SubAnswer] = []
            failed = False
            for sub in subs:
                ref = sub["referenceId"]
                if failed and all_or_none:
                    results.append(_halted(ref))
                    continue
                try:
                    resolved = resolve_references(sub, answers)
                except UnresolvedReference as exc:
                    answer = SubAnswer(
                        400, [{"errorCode": "PROCESSING_HALTED", "message": str(exc)}]
                    )
                else:
                    answer = execute(resolved)
                answer.reference_id = ref
                if answer.failed:
                    failed = True
                else:
                    answers[ref] = answer.body
                results.append(answer)
            if failed and all_or_none:
                self.rollback_to(point)
                results = [a if a.failed else _halted(a.reference_id) for a in results]
            self.release(point)
        return results

    def run_batch(self, subs: list[dict], halt_on_error: bool, execute: Execute) -> list[SubAnswer]:
        """Independent subrequests in order; with halt_on_error the rest after a failure 412."""
        results: list[SubAnswer] = []
        stopped = False
        for sub in subs:
            if stopped:
                results.append(SubAnswer(412, BATCH_HALTED))
                continue
            answer = execute(sub)
            results.append(answer)
            stopped = halt_on_error and answer.failed
        return results


def _halted(ref: str) -> SubAnswer:
    return SubAnswer(400, [{"errorCode": "PROCESSING_HALTED", "message": HALTED}], {}, ref)


def resolve_references(sub: dict, answers: dict[str, object]) -> dict:
    """The subrequest with every @{ref.path} replaced by the earlier answer's value."""

    def value(m: re.Match) -> object:
        ref, path = m.group(1), m.group(2)
        if ref not in answers:
            raise UnresolvedReference(_unresolved(ref, path))
        node = answers[ref]
        for key, index in _PATH_PART.findall(path):
            if key and isinstance(node, dict) and key in node:
                node = node[key]
            elif index and isinstance(node, list) and int(index) < len(node):
                node = node[int(index)]
            else:
                raise UnresolvedReference(_unresolved(ref, path))
        return node

    def walk(node: object) -> object:
        if isinstance(node, str):
            whole = _REFERENCE.fullmatch(node)
            if whole:
                return value(whole)
            return _REFERENCE.sub(lambda m: _text(value(m)), node)
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    out = dict(sub)
    out["url"] = _REFERENCE.sub(lambda m: _text(value(m)), sub["url"])
    if "body" in sub:
        out["body"] = walk(sub["body"])
    return out


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _unresolved(ref: str, path: str) -> str:
    return (
        f"Invalid reference specified. No value for {ref}{path} found in {ref}. Provided "
        f"referenceId ('{ref}') must refer to a successful earlier subrequest whose answer "
        "holds that value."
    )
