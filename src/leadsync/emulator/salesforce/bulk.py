"""Bulk API 2.0 ingest jobs: state machine, the uploaded CSV, and per-row outcomes.

Rows are kept as the uploaded cell lists so result files repeat the caller's columns verbatim
(`sf__Id, sf__Created` / `sf__Id, sf__Error` first), which is how clients align results to input.
`sf__Created` is true for a created record, false for one an upsert job updated.
"""

from __future__ import annotations

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

    @property
    def delimiter(self) -> str:
        return self.DELIMITERS[self.column_delimiter]

    def parse(self) -> tuple[list[str], list[list[str]]]:
        """The uploaded CSV as header + rows (quoted delimiters, newlines and UTF-8 handled)."""
        if not self.data:
            raise ValueError("no data uploaded for this job")
        try:
            text = self.data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValueError(f"the CSV is not valid UTF-8 ({exc.reason})") from None
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=self.delimiter, strict=True)
        try:
            rows = [row for row in reader if row]
        except csv.Error as exc:
            raise ValueError(f"malformed CSV: {exc}") from None
        if not rows:
            raise ValueError("no header row")
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
            "id": self.id,
            "operation": self.operation,
            "object": self.sobject,
            "createdById": self.created_by,
            "createdDate": self.created,
            "systemModstamp": self.created,
            "state": self.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(self.version),
            "jobType": "V2Ingest",
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
        return out

    def results_csv(self, kind: str) -> str:
        """successful / failed / unprocessed results as UTF-8 CSV text (LF line endings)."""
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        header = self.header
        if kind == "successful":
            buf.write(",".join(['"sf__Id"', '"sf__Created"', *(_cell(h) for h in header)]) + "\n")
            for rid, created, row in self.successful:
                writer.writerow([rid, "true" if created else "false", *row])
        elif kind == "failed":
            buf.write(",".join(['"sf__Id"', '"sf__Error"', *(_cell(h) for h in header)]) + "\n")
            for error, row in self.failed:
                writer.writerow(["", error, *row])
        else:
            if header:
                writer.writerow(header)
            for row in self.unprocessed:
                writer.writerow(row)
        return buf.getvalue()


def _cell(text: str) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow([text])
    return buf.getvalue()
