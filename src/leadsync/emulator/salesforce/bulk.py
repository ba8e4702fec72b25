"""Bulk API 2.0 jobs: the ingest state machine, the uploaded CSV and per-row outcomes, and query
jobs with their result pages.

Rows are kept as the uploaded cell lists so result files repeat the caller's columns verbatim
(`sf__Id, sf__Created` / `sf__Id, sf__Error` first), which is how clients align results to input.
`sf__Created` is true for a created record, false for one an upsert, update or delete touched.

Result files are written as Salesforce writes them: every field in double quotes, in the job's
columnDelimiter and lineEnding. The upload must use the job's lineEnding: a CRLF file for an LF
job (or the reverse) fails the job with ClientInputError, as in Salesforce.
"""

from __future__ import annotations

import base64
import csv
import io
from dataclasses import dataclass, field
from typing import ClassVar

TERMINAL = ("JobComplete", "Failed", "Aborted")


@dataclass
class IngestJob:
    DELIMITERS: ClassVar[dict[str, str]] = {
        "COMMA": ",",
        "TAB": "\t",
        "PIPE": "|",
        "SEMICOLON": ";",
        "CARET": "^",
        "BACKQUOTE": "`",
    }

    id: str
    sobject: str
    operation: str
    column_delimiter: str
    line_ending: str
    version: str
    created_by: str
    created: str
    external_id_field: str | None = None  # upsert jobs: the key field (externalIdFieldName)
    state: str = "Open"
    data: bytes | None = None
    header: list[str] = field(default_factory=list)
    successful: list[tuple[str, bool, list[str]]] = field(default_factory=list)  # id, created
    failed: list[tuple[str, list[str]]] = field(default_factory=list)
    unprocessed: list[list[str]] = field(default_factory=list)
    error_message: str | None = None
    processing_ms: int = 0
    assignment_rule_id: str | None = None  # the rule run on each created record (Lead)

    @property
    def delimiter(self) -> str:
        return self.DELIMITERS[self.column_delimiter]

    def parse(self) -> tuple[list[str], list[list[str]]]:
        """The uploaded CSV as header + rows (quoted delimiters, newlines and UTF-8 handled)."""
        if not self.data:
            raise ValueError("InvalidBatch : no data uploaded for this job")
        try:
            text = self.data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValueError(f"InvalidBatch : the CSV is not valid UTF-8 ({exc.reason})") from None
        first_break = text.find("\n")
        if first_break >= 0 and (text[first_break - 1 : first_break] == "\r") != (
            self.line_ending == "CRLF"
        ):
            raise ValueError(
                "ClientInputError : LineEnding is invalid on user data. Current LineEnding "
                f"setting is {self.line_ending}"
            )
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=self.delimiter, strict=True)
        try:
            rows = [row for row in reader if row]
        except csv.Error as exc:
            raise ValueError(f"InvalidBatch : malformed CSV: {exc}") from None
        if not rows:
            raise ValueError("InvalidBatch : no header row")
        self.header = rows[0]
        return rows[0], rows[1:]

    def fail(self, message: str) -> None:
        self.state = "Failed"
        self.error_message = message
        try:
            self.unprocessed = self.parse()[1]
        except ValueError:
            self.unprocessed = []

    def complete(self, elapsed_ms: int) -> None:
        self.processing_ms = elapsed_ms
        self.state = "JobComplete"

    def abort(self) -> None:
        self.state = "Aborted"
        if self.data:
            try:
                self.unprocessed = self.parse()[1]
            except ValueError:
                self.unprocessed = []

    def info(self) -> dict:
        processed = len(self.successful) + len(self.failed)
        out = {
            **_job_head(self, "V2Ingest"),
            "contentUrl": f"services/data/v{self.version}/jobs/ingest/{self.id}/batches",
            "lineEnding": self.line_ending,
            "columnDelimiter": self.column_delimiter,
            "numberRecordsProcessed": processed,
            "numberRecordsFailed": len(self.failed),
            "retries": 0,
            "totalProcessingTime": self.processing_ms,
            "apiActiveProcessingTime": self.processing_ms,
            "apexProcessingTime": 0,
        }
        if self.external_id_field:
            out["externalIdFieldName"] = self.external_id_field
        if self.error_message:
            out["errorMessage"] = self.error_message
        if self.assignment_rule_id:
            out["assignmentRuleId"] = self.assignment_rule_id
        return out

    def results_csv(self, kind: str) -> str:
        """successful / failed / unprocessed results, every field quoted, in the job's
        delimiter and line ending."""
        rows: list[list[str]] = []
        header = self.header
        if kind == "successful":
            rows.append(["sf__Id", "sf__Created", *header])
            rows += [
                [rid, "true" if created else "false", *row] for rid, created, row in self.successful
            ]
        elif kind == "failed":
            rows.append(["sf__Id", "sf__Error", *header])
            rows += [["", error, *row] for error, row in self.failed]
        else:
            rows += ([header] if header else []) + self.unprocessed
        return write_csv(rows, self.delimiter, LINE_ENDINGS[self.line_ending])


LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}


def write_csv(rows: list[list[str]], delimiter: str, line_ending: str) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator=line_ending, quoting=csv.QUOTE_ALL)
    writer.writerows(rows)
    return buf.getvalue()


@dataclass
class QueryJob:
    """A Bulk API 2.0 query job: the query's rows, taken when the job is created, handed out
    in pages of maxRecords with an opaque Sforce-Locator."""

    id: str
    operation: str  # query | queryAll
    sobject: str
    query: str
    column_delimiter: str
    line_ending: str
    version: str
    created_by: str
    created: str
    header: list[str]
    rows: list[list[str]]
    state: str = "JobComplete"

    def info(self) -> dict:
        return {
            **_job_head(self, "V2Query"),
            "lineEnding": self.line_ending,
            "columnDelimiter": self.column_delimiter,
            "numberRecordsProcessed": len(self.rows),
            "retries": 0,
            "totalProcessingTime": 0,
        }

    def page(self, locator: str | None, max_records: int | None) -> tuple[str, int, str]:
        """(CSV text, rows in it, next locator or "null") for one results request."""
        start = _locator_offset(locator)
        end = len(self.rows) if max_records is None else min(len(self.rows), start + max_records)
        text = write_csv(
            [self.header, *self.rows[start:end]],
            IngestJob.DELIMITERS[self.column_delimiter],
            LINE_ENDINGS[self.line_ending],
        )
        nxt = (
            base64.urlsafe_b64encode(str(end).encode()).decode() if end < len(self.rows) else "null"
        )
        return text, end - start, nxt


def _locator_offset(locator: str | None) -> int:
    if not locator:
        return 0
    try:
        return int(base64.urlsafe_b64decode(locator.encode()).decode())
    except (ValueError, UnicodeDecodeError):
        raise ValueError(f"invalid locator: {locator}") from None


def _job_head(job: IngestJob | QueryJob, job_type: str) -> dict:
    """The fields every Bulk API 2.0 job info starts with, ingest or query, in the API's order."""
    return {
        "id": job.id,
        "operation": job.operation,
        "object": job.sobject,
        "createdById": job.created_by,
        "createdDate": job.created,
        "systemModstamp": job.created,
        "state": job.state,
        "concurrencyMode": "Parallel",
        "contentType": "CSV",
        "apiVersion": float(job.version),
        "jobType": job_type,
    }
