"""Reading Dotdigital requests: JSON bodies (PascalCase or camelCase keys), paging and boolean
parameters, v3 data-field and include lists, and the opaque v3 paging markers.

Query parameter names arrive lower-cased (the service matches them case-insensitively).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from werkzeug.wrappers import Request

from leadsync.emulator.dotdigital import exceptions as exc
from leadsync.emulator.dotdigital.clock import parse_when
from leadsync.emulator.dotdigital.models import EMAIL, Account, ContactRecord

MAX_SELECT = 1000
MAX_V3_LIMIT = 5000
DEFAULT_V3_LIMIT = 1000
V3_INCLUDES = ("channelProperties", "lists", "preferences", "consentRecords")


def json_body(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(request.get_data(as_text=True) or "null")
    except ValueError:
        raise exc.malformed_request() from None
    if not isinstance(data, dict):
        raise exc.malformed_request("The request body must be a JSON object")
    return data


def control_body(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(request.get_data(as_text=True) or "{}")
    except ValueError:
        raise exc.ControlError(400, "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise exc.ControlError(400, "the body must be a JSON object")
    return data


def ci(body: dict[str, Any]) -> dict[str, Any]:
    """PascalCase and camelCase keys alike (Dotdigital's own code posts PascalCase)."""
    return {str(k).lower(): v for k, v in body.items()}


def v2_datafields(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise exc.v2_error(
            400, "DataFields must be a list of key/value pairs", "ERROR_CONTACT_INVALID"
        )
    out: dict[str, Any] = {}
    for item in raw:
        if not isinstance(item, dict):
            raise exc.v2_error(
                400, "DataFields must be a list of key/value pairs", "ERROR_CONTACT_INVALID"
            )
        item = ci(item)
        if not isinstance(item.get("key"), str):
            raise exc.v2_error(400, "Every data field needs a key", "ERROR_CONTACT_INVALID")
        out[item["key"]] = item.get("value")
    return out


def int_arg(args: dict[str, str], name: str, default: int) -> int:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    if not re.fullmatch(r"-?\d+", raw.strip()):
        raise exc.parameter_invalid(f"The {name} parameter must be a number")
    return int(raw)


def paging(args: dict[str, str]) -> tuple[int, int]:
    select = int_arg(args, "select", MAX_SELECT)
    if not 1 <= select <= MAX_SELECT:
        raise exc.parameter_invalid(
            f"The select parameter requires a number between 1 and {MAX_SELECT}"
        )
    skip = int_arg(args, "skip", 0)
    if skip < 0:
        raise exc.parameter_invalid("The skip parameter must be 0 or more")
    return select, skip


def bool_arg(args: dict[str, str], name: str) -> bool:
    raw = args.get(name)
    if raw is None or raw == "":
        return False
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise exc.parameter_invalid(f"The {name} parameter must be true or false")


def book_id(raw: str) -> int:
    if not re.fullmatch(r"\d+", raw):
        raise exc.parameter_invalid(f"The address book id '{raw}' is not a number")
    return int(raw)


def v3_fields(acct: Account, raw: str | None) -> list[str] | None:
    if raw is None:
        return None
    if raw.strip() == "[[ALL]]":
        return list(acct.datafields)
    out = []
    for name in [p.strip() for p in raw.split("|") if p.strip()]:
        df = acct.datafields.get(name.upper())
        if df is None:
            raise exc.V3Error(
                400,
                "contacts:invalidDataFields",
                f"The data field '{name}' does not exist",
                [{"item": name, "description": "Unknown data field"}],
            )
        out.append(df.name)
    return out


def v3_include(raw: str | None) -> set[str]:
    if raw is None:
        return set()
    out = set()
    for part in [p.strip() for p in raw.split("|") if p.strip()]:
        match = next((i for i in V3_INCLUDES if i.lower() == part.lower()), None)
        if match is None:
            raise exc.V3Error(
                400,
                "contacts:invalidInclude",
                f"The include value '{part}' is invalid",
                [{"item": part, "description": "Must be one of " + ", ".join(V3_INCLUDES)}],
            )
        out.add(match)
    return out


def encode_marker(kind: str, position: int) -> str:
    raw = json.dumps({"k": kind, "p": position}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_marker(marker: str, kind: str) -> int:
    try:
        padded = marker + "=" * (-len(marker) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if data["k"] != kind or not isinstance(data["p"], int) or data["p"] < 0:
            raise ValueError(marker)
        return data["p"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise exc.V3Error(
            400, "contacts:invalidMarker", f"The marker '{marker}' is invalid"
        ) from None


def account_stream(acct: Account, mode: str, since: Any, after_id: int) -> Iterable[ContactRecord]:
    for c in acct.all_contacts(after_id, mode=mode, since=since):
        if since is None or (c.created if mode == "created" else c.updated) >= since:
            yield c


def contact_ids(request: Request) -> list[int]:
    """The body of `POST .../contacts/delete`: a JSON array of contact ids."""
    try:
        data = json.loads(request.get_data(as_text=True) or "null")
    except ValueError:
        raise exc.malformed_request() from None
    if not isinstance(data, list) or any(
        not isinstance(i, int) or isinstance(i, bool) for i in data
    ):
        raise exc.malformed_request("The request body must be a JSON array of contact ids")
    return data


# -- v3 ----------------------------------------------------------------------------------------

V3_TIME_FILTER = re.compile(r"gte::(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z)")
V3_IMPORT_MERGE = ("overwrite", "overwriteIfNotEmpty", "overwriteIfEmpty")


@dataclass
class V3Query:
    """The filters of `GET /contacts/v3`: what to list and how many per page."""

    mode: str = "modified"  # which time `since` compares: "modified" or "created"
    since: datetime | None = None
    limit: int = DEFAULT_V3_LIMIT
    book_id: int | None = None  # ~listId; -1 for a value that is not a number

    @property
    def kind(self) -> str:
        """Markers name what they page through, so one cannot be replayed on the other."""
        return "a" if self.book_id is None else "l"


def _invalid_filter_pair(a: str, b: str) -> exc.V3Error:
    return exc.V3Error(
        400, "contacts:invalidFilter", f"The {a} and {b} filters can't be used together"
    )


def v3_query(args: dict[str, str]) -> V3Query:
    if "~created" in args and "~modified" in args:
        raise _invalid_filter_pair("~created", "~modified")
    if "~listid" in args and "~segmentid" in args:
        raise _invalid_filter_pair("~listId", "~segmentId")
    if "~segmentid" in args:
        raise exc.invalid_filter(args["~segmentid"])
    query = V3Query()
    for key in ("~created", "~modified"):
        if key in args:
            m = V3_TIME_FILTER.fullmatch(args[key])
            if not m:
                raise exc.invalid_filter(args[key])
            query.mode, query.since = key[1:], parse_when(m.group(1))
    if "limit" in args:
        raw = args["limit"]
        if not re.fullmatch(r"\d+", raw) or not 1 <= int(raw) <= MAX_V3_LIMIT:
            raise exc.V3Error(
                400,
                "contacts:invalidLimit",
                f"The limit '{raw}' is invalid; it must be between 1 and {MAX_V3_LIMIT}",
                [{"item": "limit", "description": f"Must be between 1 and {MAX_V3_LIMIT}"}],
            )
        query.limit = int(raw)
    if "~listid" in args:
        raw = args["~listid"]
        query.book_id = int(raw) if re.fullmatch(r"\d+", raw) else -1
    return query


def v3_lookup(acct: Account, identifier: str, value: str) -> ContactRecord | None:
    """The contact a `/contacts/v3/{identifier}/{value}` path names, or None. The emulator's
    accounts have no mobile numbers and no custom identifiers."""
    if identifier == "contactId":
        if not re.fullmatch(r"\d{1,18}", value):
            raise _invalid_id(identifier, value)
        return acct.contact_by_id(int(value))
    if identifier == "email":
        if not EMAIL.fullmatch(value.strip()):
            raise _invalid_id(identifier, value)
        return acct.contact_by_email(value)
    raise exc.V3Error(
        400,
        "contacts:invalidIdentifier",
        f"The identifier '{identifier}' is not an identifier of this account",
        [{"item": identifier, "description": "Use contactId or email"}],
    )


def _invalid_id(identifier: str, value: str) -> exc.V3Error:
    return exc.V3Error(
        400,
        "contacts:invalidId",
        f"The id value '{value}' is invalid for the identifier '{identifier}'",
    )


def v3_not_found(identifier: str, value: str) -> exc.V3Error:
    return exc.V3Error(
        404,
        "contacts:contactNotFound",
        "The following contacts could not be found",
        [{"item": value, "description": f"Not found using the identifier '{identifier}'"}],
    )


def _v3_json(request: Request) -> Any:
    try:
        return json.loads(request.get_data(as_text=True))
    except ValueError:
        raise exc.V3Error(400, "contacts:badJson", "The request JSON is badly formed") from None


def v3_patch_body(request: Request) -> dict[str, Any]:
    data = _v3_json(request)
    if not isinstance(data, dict):
        raise exc.V3Error(400, "contacts:badJson", "The request body must be a JSON object")
    return data


def v3_import_body(request: Request) -> tuple[list[dict[str, Any]], str]:
    """`{"mergeOption"?, "contacts": [contact, ...]}` -> (contacts, merge option)."""
    data = _v3_json(request)
    if not isinstance(data, dict):
        raise exc.V3Error(400, "contacts:badJson", "The request body must be a JSON object")
    contacts = data.get("contacts")
    if (
        not isinstance(contacts, list)
        or not contacts
        or not all(isinstance(c, dict) for c in contacts)
    ):
        raise exc.V3Error(
            400,
            "contacts:validationFailed",
            "The request is invalid",
            [{"item": "contacts", "description": "Must be a non-empty array of contacts"}],
        )
    merge = data.get("mergeOption", "overwrite")
    if merge not in V3_IMPORT_MERGE:
        raise exc.V3Error(
            400,
            "contacts:validationFailed",
            "The request is invalid",
            [
                {
                    "item": "mergeOption",
                    "description": "Must be one of " + ", ".join(V3_IMPORT_MERGE),
                }
            ],
        )
    return contacts, merge


V3_RECORD_ERRORS = {
    "invalidDataField": "contacts:invalidDataFields",
    "invalidDataFieldValue": "contacts:invalidDataFields",
    "invalidList": "contacts:invalidLists",
    "invalidChannelProperties": "contacts:invalidChannelProperties",
    "invalidEmail": "contacts:invalidId",
}


def v3_record_error(failure: Any) -> exc.V3Error:
    """A single-contact write's failure (an imports.ImportFailure) as the v3 error answer."""
    return exc.V3Error(
        400,
        V3_RECORD_ERRORS.get(failure.code, "contacts:badRequest"),
        failure.text,
        [{"item": failure.code, "description": failure.text}],
    )
