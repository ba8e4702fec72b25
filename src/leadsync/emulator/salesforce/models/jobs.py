"""Bulk API 2.0: ingest jobs (insert, update, upsert, delete, hardDelete) processed row by row
through the same write paths as REST, and query jobs (query, queryAll) whose rows are taken
when the job is created.

Per operation, as Salesforce documents the CSV:
- insert: every cell is a value (empty and #N/A mean null).
- update: the Id column names the record; an empty cell leaves the field as it is, #N/A blanks it.
- upsert: the externalIdFieldName column (an External ID field, or Id) names the record; empty
  cells as for update; a key that two rows of one job share fails both rows.
- delete / hardDelete: the file holds the Id column only; delete sends the record to the recycle
  bin, hardDelete removes it at once (no queryAll afterwards).
"""

from __future__ import annotations

import time

from leadsync.emulator.salesforce import soql
from leadsync.emulator.salesforce.bulk import IngestJob, QueryJob
from leadsync.emulator.salesforce.exceptions import ApiError, RecordError, record_error
from leadsync.emulator.salesforce.ids import KEY_PREFIXES, to18
from leadsync.emulator.salesforce.models.base import OrgState
from leadsync.emulator.salesforce.models.queries import unqualified
from leadsync.emulator.salesforce.models.upserts import key_form, repeated_keys
from leadsync.emulator.salesforce.sobjects import FieldDef, ObjectDef

INGEST_OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
QUERY_OPERATIONS = ("query", "queryAll")
_COLUMN_COUNT = (
    "TOO_MANY_OR_TOO_FEW_COLUMNS:Row has a different number of columns than the header:--"
)


def _invalid_job(message: str) -> ApiError:
    return ApiError(400, "INVALIDJOB", f"InvalidJob : {message}")


def _csv_format(body: dict) -> tuple[str, str]:
    if body.get("contentType", "CSV") != "CSV":
        raise _invalid_job("contentType must be CSV")
    delimiter = body.get("columnDelimiter", "COMMA")
    line_ending = body.get("lineEnding", "LF")
    if delimiter not in IngestJob.DELIMITERS or line_ending not in ("LF", "CRLF"):
        raise _invalid_job("invalid columnDelimiter or lineEnding")
    return delimiter, line_ending


class Jobs(OrgState):
    """The org's Bulk API 2.0 jobs."""

    jobs: dict[str, IngestJob]
    query_jobs: dict[str, QueryJob]

    # --- ingest ------------------------------------------------------------------------------

    def new_job(self, body: dict, version: str) -> IngestJob:
        operation = body.get("operation")
        if operation not in INGEST_OPERATIONS:
            raise _invalid_job(f"operation must be one of {', '.join(INGEST_OPERATIONS)}")
        obj = self._objects_lower.get(str(body.get("object", "")).lower())
        if obj is None:
            raise ApiError(
                400,
                "INVALIDENTITY",
                f"InvalidEntity : Entity '{body.get('object')}' is not supported by the Bulk API.",
            )
        external_id = None
        if operation == "upsert":
            name = body.get("externalIdFieldName")
            if not name:
                raise _invalid_job("an upsert job needs externalIdFieldName")
            if str(name).lower() == "id":
                external_id = "Id"
            else:
                try:
                    external_id = self.external_id_field(obj, str(name)).name
                except ApiError as exc:
                    raise _invalid_job(exc.message) from None
        delimiter, line_ending = _csv_format(body)
        rule = self.rule_for_job(obj.name, body.get("assignmentRuleId"))
        job = IngestJob(
            id=self.ids.new(KEY_PREFIXES["BulkJob"]), sobject=obj.name, operation=operation,
            column_delimiter=delimiter, line_ending=line_ending, version=version,
            created_by=self.user_id, created=self.now(),
            assignment_rule_id=rule, external_id_field=external_id,
        )  # fmt: skip
        with self.lock:
            self.jobs[job.id] = job
        return job

    def job(self, job_id: str) -> IngestJob:
        with self.lock:
            job = self.jobs.get(to18(job_id) or job_id)
        if job is None:
            raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
        return job

    def process_job(self, job: IngestJob) -> None:
        """Run an UploadComplete job to completion, row by row (see the module docstring)."""
        obj = self.objects[job.sobject]
        started = time.monotonic()
        with self.lock:
            job.state = "InProgress"
            try:
                header, rows = job.parse()
                fields = self._job_fields(job, obj, header)
            except ValueError as exc:
                job.fail(str(exc))
                return
            key = obj.get(job.external_id_field) if job.external_id_field else None
            if job.operation == "update":
                key = obj.get("Id")
            at = fields.index(key) if key is not None else -1  # type: ignore[arg-type]
            repeated = repeated_keys(key, [r[at] for r in rows if len(r) > at]) if key else set()
            for row in rows:
                if len(row) != len(fields):
                    job.failed.append((_COLUMN_COUNT, row))
                    continue
                try:
                    rid, created = self._job_row(job, obj, fields, row, key, repeated)
                    if created:  # the job's rule runs on the records it creates (insert, upsert)
                        self.assign(obj.name, rid, job.assignment_rule_id)
                    job.successful.append((rid, created, row))
                except RecordError as exc:
                    err = exc.errors[0]
                    suffix = f"{' '.join(err.fields)} --" if err.fields else "--"
                    job.failed.append((f"{err.code}:{err.message}:{suffix}", row))
            job.complete(int((time.monotonic() - started) * 1000))

    def _job_fields(self, job: IngestJob, obj: ObjectDef, header: list[str]) -> list[FieldDef]:
        """The header's fields; raises ValueError with the job's errorMessage."""
        if job.operation in ("delete", "hardDelete") and [h.lower() for h in header] != ["id"]:
            raise ValueError(f"InvalidBatch : The '{job.operation}' batch must contain only ids")
        fields: list[FieldDef] = []
        for name in header:
            f = obj.get(name)
            if f is None:
                raise ValueError(f"InvalidBatch : Field name not found : {name}")
            fields.append(f)
        needed = "Id" if job.operation == "update" else job.external_id_field
        if needed and needed not in {f.name for f in fields}:
            raise ValueError(f"InvalidBatch : Field name not found : {needed}")
        return fields

    def _job_row(
        self,
        job: IngestJob,
        obj: ObjectDef,
        fields: list[FieldDef],
        row: list[str],
        key: FieldDef | None,
        repeated: set[str],
    ) -> tuple[str, bool]:
        """One CSV row written: (id, created)."""
        if job.operation == "insert":
            values = {f.name: self.csv_value(f, cell) for f, cell in zip(fields, row, strict=True)}
            return self.insert(obj.name, values, version=job.version), True
        if job.operation in ("delete", "hardDelete"):
            record = self.for_write(obj.name, row[0])
            self.delete(obj.name, record["Id"])
            if job.operation == "hardDelete":
                self._unstore(obj.name, record["Id"])
            return record["Id"], False
        values = {
            f.name: self.csv_value(f, cell) for f, cell in zip(fields, row, strict=True) if cell
        }
        assert key is not None
        if key_form(key, values.get(key.name)) in repeated:
            raise record_error(
                "DUPLICATE_VALUE",
                f"Duplicate external id specified: {values[key.name]}",
                [key.name],
            )
        if key.name == "Id":  # update, or upsert on the record Id
            rid = values.pop("Id", None)
            if rid is None and job.operation == "upsert":
                return self.insert(obj.name, values, version=job.version), True
            if rid is None:
                raise record_error("MISSING_ARGUMENT", "Id not specified in an update call", ["Id"])
            record = self.for_write(obj.name, rid)
            self.update(obj.name, record["Id"], values)
            return record["Id"], False
        return self.upsert_one(obj, key, values, allow_duplicate_save=False, version=job.version)

    # --- query -------------------------------------------------------------------------------

    def new_query_job(self, body: dict, version: str) -> QueryJob:
        """Create a query job; the query runs now (its rows are the job's results)."""
        operation = body.get("operation")
        if operation not in QUERY_OPERATIONS:
            raise _invalid_job("operation must be query or queryAll")
        text = body.get("query")
        if not isinstance(text, str) or not text.strip():
            raise _invalid_job("a query job needs a query")
        delimiter, line_ending = _csv_format(body)
        parsed = soql.parse(text)
        if parsed.count:
            raise ApiError(
                400, "FEATURENOTENABLED", "FeatureNotEnabled : Aggregate queries are not supported"
            )
        result = self.query(
            text, include_deleted=operation == "queryAll", version=version, page=False
        )
        header = list(parsed.fields)
        obj = self.object(parsed.sobject)
        paths = [unqualified(obj, path) for path in header]
        rows = [[_csv_cell(_path_value(r, path)) for path in paths] for r in result["records"]]
        job = QueryJob(
            id=self.ids.new(KEY_PREFIXES["BulkJob"]), operation=operation,
            sobject=obj.name, query=text, column_delimiter=delimiter,
            line_ending=line_ending, version=version, created_by=self.user_id,
            created=self.now(), header=header, rows=rows,
        )  # fmt: skip
        with self.lock:
            self.query_jobs[job.id] = job
        return job

    def query_job(self, job_id: str) -> QueryJob:
        with self.lock:
            job = self.query_jobs.get(to18(job_id) or job_id)
        if job is None:
            raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
        return job


def _path_value(record: dict, path: str) -> object:
    """A projected query record's value for a SELECT path (Owner.Name -> record["Owner"]["Name"])."""
    node: object = record
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        match = next((k for k in node if k.lower() == part.lower()), None)
        if match is None:
            return None
        node = node[match]
    return node


def _csv_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
