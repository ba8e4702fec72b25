"""Bulk API 2.0 wire: job JSON, CSV uploads and result files."""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from leadsync.emulator.salesforce.exceptions import (
    ApiError,
    json_parser_error,
)
from leadsync.emulator.salesforce.models import SalesforceBackend
from leadsync.emulator.salesforce.responses.common import (
    CSV_TYPE,
    json_response,
    read_json,
)

# --- Bulk API 2.0 -----------------------------------------------------------------------------


def jobs_root(backend: SalesforceBackend, request: Request, version: str) -> Response:
    if request.method == "GET":
        infos = [job.info() for job in list(backend.jobs.values())]
        return json_response({"done": True, "records": infos, "nextRecordsUrl": None})
    body = read_json(request)
    if not isinstance(body, dict):
        raise json_parser_error("Cannot deserialize the job request")
    return json_response(backend.new_job(body, version).info())


def job(backend: SalesforceBackend, request: Request, version: str, job_id: str) -> Response:
    job = backend.job(job_id)
    if request.method == "GET":
        return json_response(job.info())
    if request.method == "DELETE":
        if job.state not in ("UploadComplete", "JobComplete", "Aborted", "Failed"):
            raise ApiError(
                400, "INVALIDJOBSTATE", f"Deleting a job in state {job.state} is not allowed"
            )
        backend.jobs.pop(job.id, None)
        return Response(status=204)
    body = read_json(request)
    wanted = body.get("state") if isinstance(body, dict) else None
    with backend.lock:
        if wanted == "UploadComplete":
            if job.state != "Open":
                raise ApiError(
                    409, "INVALIDJOBSTATE", f"Closing a job in state {job.state} is not allowed"
                )
            job.state = "UploadComplete"
            info = job.info()
            backend.process_job(job)  # synchronous: the client's first poll sees a terminal state
            return json_response(info)
        if wanted == "Aborted":
            if job.state in ("JobComplete", "Failed", "Aborted"):
                raise ApiError(
                    409, "INVALIDJOBSTATE", f"Aborting a job in state {job.state} is not allowed"
                )
            job.abort()
            return json_response(job.info())
    raise ApiError(400, "INVALIDJOBSTATE", f"Invalid job state transition to {wanted!r}")


def job_batches(
    backend: SalesforceBackend, request: Request, version: str, job_id: str
) -> Response:
    job = backend.job(job_id)
    with backend.lock:
        if job.state != "Open" or job.data is not None:
            raise ApiError(
                409, "INVALIDJOBSTATE", "Job is not in state Open or data was already uploaded"
            )
        job.data = request.get_data()
    return Response(status=201)


RESULT_KINDS = {
    "successfulResults": "successful",
    "failedResults": "failed",
    "unprocessedrecords": "unprocessed",
    "unprocessedRecords": "unprocessed",
}


def job_results(
    backend: SalesforceBackend, request: Request, version: str, job_id: str, kind: str
) -> Response:
    job = backend.job(job_id)
    if kind not in RESULT_KINDS:
        raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
    if job.state not in ("JobComplete", "Failed", "Aborted"):
        raise ApiError(
            409, "INVALIDJOBSTATE", f"Job results are not available in state {job.state}"
        )
    return Response(
        job.results_csv(RESULT_KINDS[kind]).encode("utf-8"), status=200, content_type=CSV_TYPE
    )


# --- query jobs ---------------------------------------------------------------------------------


def query_jobs_root(backend: SalesforceBackend, request: Request, version: str) -> Response:
    """POST /jobs/query creates a query job (answered UploadComplete: queued, as Salesforce
    answers it; the first GET sees JobComplete); GET lists them."""
    if request.method == "GET":
        infos = [job.info() for job in list(backend.query_jobs.values())]
        return json_response({"done": True, "records": infos, "nextRecordsUrl": None})
    body = read_json(request)
    if not isinstance(body, dict):
        raise json_parser_error("Cannot deserialize the job request")
    info = backend.new_query_job(body, version).info()
    info["state"] = "UploadComplete"
    return json_response(info)


def query_job(backend: SalesforceBackend, request: Request, version: str, job_id: str) -> Response:
    job = backend.query_job(job_id)
    if request.method == "DELETE":
        backend.query_jobs.pop(job.id, None)
        return Response(status=204)
    if request.method == "PATCH":
        body = read_json(request)
        if not isinstance(body, dict) or body.get("state") != "Aborted":
            raise ApiError(400, "INVALIDJOBSTATE", "A query job can only be set to Aborted")
        if job.state == "JobComplete":
            raise ApiError(
                409, "INVALIDJOBSTATE", "Aborting a job in state JobComplete is not allowed"
            )
    return json_response(job.info())


def query_job_results(
    backend: SalesforceBackend, request: Request, version: str, job_id: str
) -> Response:
    """GET /jobs/query/{id}/results?maxRecords=&locator=: one page of CSV; Sforce-Locator names
    the next page ("null" after the last), Sforce-NumberOfRecords counts this one's rows."""
    job = backend.query_job(job_id)
    raw_max = request.args.get("maxRecords")
    if raw_max is not None and (not raw_max.isdigit() or int(raw_max) < 1):
        raise ApiError(400, "INVALIDPARAMETER", f"maxRecords must be a positive integer: {raw_max}")
    try:
        text, count, locator = job.page(
            request.args.get("locator"), int(raw_max) if raw_max else None
        )
    except ValueError as exc:
        raise ApiError(400, "INVALIDLOCATOR", str(exc)) from None
    return Response(
        text.encode("utf-8"),
        status=200,
        content_type=CSV_TYPE,
        headers={"Sforce-Locator": locator, "Sforce-NumberOfRecords": str(count)},
    )
