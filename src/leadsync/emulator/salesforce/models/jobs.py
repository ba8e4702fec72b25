"""Bulk API 2.0 ingest jobs: creation, processing row by row through the write paths."""

from __future__ import annotations

import time

from leadsync.emulator.salesforce.bulk import IngestJob
from leadsync.emulator.salesforce.exceptions import ApiError, RecordError, record_error
from leadsync.emulator.salesforce.ids import KEY_PREFIXES, to18
from leadsync.emulator.salesforce.models.base import OrgState
from leadsync.emulator.salesforce.models.upserts import key_form, repeated_keys
from leadsync.emulator.salesforce.sobjects import FieldDef, ObjectDef


class Jobs(OrgState):
    """The org's Bulk API 2.0 jobs."""

    # --- Bulk API 2.0 -------------------------------------------------------------------------

    def new_job(self, body: dict, version: str) -> IngestJob:
        operation = body.get("operation")
        if operation not in ("insert", "upsert"):
            raise ApiError(
                400,
                "INVALIDJOB",
                "InvalidJob : the emulator supports operations 'insert' and 'upsert' only, "
                f"not {operation!r}",
            )
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
                raise ApiError(
                    400, "INVALIDJOB", "InvalidJob : an upsert job needs externalIdFieldName"
                )
            try:
                external_id = self.external_id_field(obj, str(name)).name
            except ApiError as exc:
                raise ApiError(400, "INVALIDJOB", f"InvalidJob : {exc.message}") from None
        if body.get("contentType", "CSV") != "CSV":
            raise ApiError(400, "INVALIDJOB", "InvalidJob : contentType must be CSV")
        delimiter = body.get("columnDelimiter", "COMMA")
        line_ending = body.get("lineEnding", "LF")
        if delimiter not in IngestJob.DELIMITERS or line_ending not in ("LF", "CRLF"):
            raise ApiError(400, "INVALIDJOB", "InvalidJob : invalid columnDelimiter or lineEnding")
        job = IngestJob(
            id=self.ids.new(KEY_PREFIXES["BulkJob"]), sobject=obj.name, operation=operation,
            column_delimiter=delimiter, line_ending=line_ending, version=version,
            created_by=self.user_id, created=self.now(),
            external_id_field=external_id,
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
        """Run an UploadComplete job to completion, row by row, through `insert` (or the
        upsert rule, for upsert jobs: an empty cell leaves the field as it is, #N/A blanks it)."""
        obj = self.objects[job.sobject]
        started = time.monotonic()
        with self.lock:
            job.state = "InProgress"
            try:
                header, rows = job.parse()
            except ValueError as exc:
                job.fail(f"InvalidBatch : {exc}")
                return
            fields: list[FieldDef] = []
            for name in header:
                f = obj.get(name)
                if f is None:
                    job.fail(f"InvalidBatch : Field name not found : {name}")
                    return
                fields.append(f)
            key = obj.get(job.external_id_field) if job.external_id_field else None
            if key is not None and key not in fields:
                job.fail(f"InvalidBatch : Field name not found : {key.name}")
                return
            at = fields.index(key) if key is not None else -1
            repeated = repeated_keys(key, [r[at] for r in rows if len(r) > at]) if key else set()
            for row in rows:
                if len(row) != len(fields):
                    job.failed.append(
                        (
                            "TOO_MANY_OR_TOO_FEW_COLUMNS:Row has a different number of columns than the header:--",
                            row,
                        )
                    )
                    continue
                try:
                    job.successful.append(
                        (*self._job_row(job, obj, fields, row, key, repeated), row)
                    )
                except RecordError as exc:
                    err = exc.errors[0]
                    suffix = f"{' '.join(err.fields)} --" if err.fields else "--"
                    job.failed.append((f"{err.code}:{err.message}:{suffix}", row))
            job.complete(int((time.monotonic() - started) * 1000))

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
        if key is None:
            values = {f.name: self.csv_value(f, cell) for f, cell in zip(fields, row, strict=True)}
            return self.insert(obj.name, values, version=job.version), True
        values = {
            f.name: self.csv_value(f, cell) for f, cell in zip(fields, row, strict=True) if cell
        }
        if key_form(key, values.get(key.name)) in repeated:
            raise record_error(
                "DUPLICATE_VALUE",
                f"Duplicate external id specified: {values[key.name]}",
                [key.name],
            )
        return self.upsert_one(obj, key, values, allow_duplicate_save=False, version=job.version)
