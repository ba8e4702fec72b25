"""Dotdigital's error codes and bodies, as the emulator answers them.

Why one module: the v2 and v3 services report errors differently (v2: one `message` string that
ends in an ERROR_* code; v3: `{"errorCode", "description", "details"}`), and clients parse
exactly these shapes (Dotdigital's v2 and v3 API references: authentication, errors, limits).
HTTP statuses per v2 error code are UNCONFIRMED by Dotdigital's docs ("400 range"); we use 404
for "not found" codes and 400 for the rest.
"""

from __future__ import annotations

from typing import Any

AUTH_DENIED_MESSAGE = "Authorization has been denied for this request."


class SeedError(ValueError):
    """A seed section that passed the JSON Schema but breaks a Dotdigital rule."""


class DotdigitalError(Exception):
    """A v2-style failure raised by the model; the HTTP layer renders it."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code

    def body(self) -> dict[str, Any]:
        return {"message": self.message}


def v2_error(status: int, sentence: str | None, code: str) -> DotdigitalError:
    """`"<sentence>. ERROR_CODE"`, or `"Error: ERROR_CODE"` when there is no sentence."""
    text = f"Error: {code}" if not sentence else f"{sentence.rstrip('.')}. {code}"
    return DotdigitalError(status, text, code)


def address_book_not_found() -> DotdigitalError:
    return v2_error(404, None, "ERROR_ADDRESSBOOK_NOT_FOUND")


def contact_not_found() -> DotdigitalError:
    return v2_error(404, None, "ERROR_CONTACT_NOT_FOUND")


def parameter_invalid(sentence: str) -> DotdigitalError:
    return v2_error(400, sentence, "ERROR_PARAMETER_INVALID")


def malformed_request(sentence: str = "The request body is not valid JSON") -> DotdigitalError:
    return v2_error(400, sentence, "ERROR_MALFORMED_REQUEST")


def unauthorized() -> DotdigitalError:
    return DotdigitalError(401, AUTH_DENIED_MESSAGE)


def no_resource(uri: str) -> DotdigitalError:
    """ASP.NET Web API's answer for an unknown route (the v2 service is ASP.NET)."""
    return DotdigitalError(404, f"No HTTP resource was found that matches the request URI '{uri}'.")


def method_not_allowed(method: str) -> DotdigitalError:
    return DotdigitalError(405, f"The requested resource does not support http method '{method}'.")


class RateLimited(DotdigitalError):
    """429 for an account whose seeded rate limit is spent; headers say when it resets."""

    def __init__(self, headers: dict[str, str]) -> None:
        super().__init__(
            429,
            "Your account has exceeded its API call rate limit. ERROR_APIUSAGE_EXCEEDED",
            "ERROR_APIUSAGE_EXCEEDED",
        )
        self.headers = headers


class V3Error(Exception):
    """A v3 (contacts service) failure: `{"errorCode", "description", "details"?}`."""

    def __init__(
        self,
        status: int,
        error_code: str,
        description: str,
        details: list[dict[str, str]] | None = None,
    ) -> None:
        super().__init__(description)
        self.status = status
        self.error_code = error_code
        self.description = description
        self.details = details

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"errorCode": self.error_code, "description": self.description}
        if self.details:
            out["details"] = self.details
        return out


def invalid_filter(value: str) -> V3Error:
    return V3Error(400, "contacts:invalidFilter", f"The filter value '{value}' is invalid")


class ControlError(Exception):
    """A refused /__emulator/ control request: `{"error": "..."}`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class EmailTaken(DotdigitalError):
    """A contact update asked for an email address another contact has (v3 answers 409)."""

    def __init__(self, email: str) -> None:
        super().__init__(
            400,
            f"Another contact already has the email address {email}. ERROR_CONTACT_INVALID",
            "ERROR_CONTACT_INVALID",
        )
        self.email = email


def too_many_imports() -> DotdigitalError:
    return v2_error(
        400,
        "Too many imports are being processed for your account; wait for one to finish",
        "ERROR_IMPORT_TOOMANYACTIVEIMPORTS",
    )


def import_report_not_found() -> DotdigitalError:
    """The sentence Dotdigital's own client code expects for a report that is not ready."""
    return v2_error(
        404,
        "Import is not processed yet or completed with error",
        "ERROR_IMPORT_REPORT_NOT_FOUND",
    )


def import_not_found() -> DotdigitalError:
    return v2_error(404, None, "ERROR_IMPORT_NOT_FOUND")
