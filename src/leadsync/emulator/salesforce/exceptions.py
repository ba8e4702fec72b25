"""Salesforce error codes and the two shapes they travel in.

Request-level errors answer the whole HTTP call with `[{"message", "errorCode", "fields"}]`.
Record-level errors (`RecordError`) belong to one record: REST create turns them into the same
list, sObject Collections into `{"statusCode", "message", "fields"}` items, Bulk API 2.0 into an
`sf__Error` cell `CODE:message:fields`.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class ApiError(Exception):
    """Fails the whole request."""

    def __init__(
        self, status: int, code: str, message: str, fields: list[str] | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields

    def body(self) -> list[dict]:
        item: dict = {"message": self.message, "errorCode": self.code}
        if self.fields is not None:
            item["fields"] = self.fields
        return [item]


def invalid_session() -> ApiError:
    return ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")


def request_limit_exceeded() -> ApiError:
    return ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")


def not_found(message: str = "The requested resource does not exist") -> ApiError:
    return ApiError(404, "NOT_FOUND", message)


def invalid_type(name: str) -> ApiError:
    return ApiError(
        404,
        "NOT_FOUND",
        f"The requested resource does not exist: sObject type '{name}' is not supported.",
    )


def malformed_query(message: str) -> ApiError:
    return ApiError(400, "MALFORMED_QUERY", message)


def json_parser_error(message: str) -> ApiError:
    return ApiError(400, "JSON_PARSER_ERROR", message)


def no_such_column(name: str, sobject: str) -> ApiError:
    return ApiError(
        400,
        "INVALID_FIELD",
        f"No such column '{name}' on sobject of type {sobject}",
    )


@dataclass
class SaveErr:
    """One error of one record."""

    code: str
    message: str
    fields: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)  # e.g. {"duplicateResult": {...}}


class RecordError(Exception):
    def __init__(self, errors: list[SaveErr]) -> None:
        super().__init__("; ".join(f"{e.code}: {e.message}" for e in errors))
        self.errors = errors


def record_error(code: str, message: str, fields: list[str] | None = None) -> RecordError:
    return RecordError([SaveErr(code, message, fields or [])])
