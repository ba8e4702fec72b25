"""Faults the control middleware (control.py) injects: a spec's rules and its matching.

The spec's keys and what each does are described in control.py's docstring; here a spec is
checked (FaultError names the first wrong key, the control route answers 400 with it) and a
request is matched against it.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FAULT_KEYS", "Fault", "FaultError"]


class FaultError(ValueError):
    """A fault definition the control route refuses (answered with 400)."""


@dataclass
class Fault:
    """One injected fault; `remaining` None means unlimited."""

    id: int
    method: str | None
    path_regex: re.Pattern[str] | None
    status: int | None
    remaining: int | None
    delay_ms: int
    drop_connection: bool | str  # False, True (= "before": not applied) or "after" (applied)
    body: Any
    has_body: bool
    headers: dict[str, str]
    hold_ms: int = 0
    query_regex: re.Pattern[str] | None = None
    released: threading.Event = field(default_factory=threading.Event, compare=False)

    @property
    def drops_before(self) -> bool:
        return self.drop_connection is True

    @property
    def drops_after(self) -> bool:
        return self.drop_connection == "after"

    @classmethod
    def parse(cls, fault_id: int, spec: Any) -> Fault:
        """A fault from its JSON spec; FaultError names the first key that is wrong."""
        if not isinstance(spec, dict):
            raise FaultError("a fault must be a JSON object")
        unknown = sorted(set(spec) - FAULT_KEYS)
        if unknown:
            raise FaultError(f"unknown fault keys: {', '.join(unknown)}")
        method = spec.get("method")
        if method is not None and not isinstance(method, str):
            raise FaultError("method must be a string")
        pattern = _regex(spec, "path_regex")
        query_pattern = _regex(spec, "query_regex")
        status = spec.get("status")
        if status is not None and (
            not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599
        ):
            raise FaultError("status must be an integer HTTP status (100-599)")
        times = spec.get("times")
        if times is not None and (
            not isinstance(times, int) or isinstance(times, bool) or times < 1
        ):
            raise FaultError("times must be a positive integer (omit it for unlimited)")
        delay = _non_negative(spec, "delay_ms")
        drop, hold = _drop_and_hold(spec, status)
        headers = spec.get("headers") or {}
        if not isinstance(headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str | int) for k, v in headers.items()
        ):
            raise FaultError("headers must be an object of strings")
        if status is None and not drop and not delay:
            raise FaultError("a fault needs status, delay_ms or drop_connection")
        return cls(
            id=fault_id,
            method=method.upper() if method and method != "*" else None,
            path_regex=pattern,
            status=status,
            remaining=times,
            delay_ms=int(delay),
            drop_connection=drop,
            body=spec.get("body"),
            has_body="body" in spec,
            headers={k: str(v) for k, v in headers.items()},
            hold_ms=int(hold),
            query_regex=query_pattern,
        )

    def matches(self, method: str, path: str, query: str = "") -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        if self.method is not None and self.method != method:
            return False
        if self.query_regex is not None and self.query_regex.search(query) is None:
            return False
        return self.path_regex is None or self.path_regex.search(path) is not None

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "method": self.method,
            "path_regex": self.path_regex.pattern if self.path_regex else None,
            "status": self.status,
            "remaining": self.remaining,
            "delay_ms": self.delay_ms,
            "drop_connection": self.drop_connection,
            "hold_ms": self.hold_ms,
            "query_regex": self.query_regex.pattern if self.query_regex else None,
        }


FAULT_KEYS = {
    "method",
    "path_regex",
    "query_regex",
    "status",
    "times",
    "delay_ms",
    "drop_connection",
    "hold_ms",
    "body",
    "headers",
}


def _regex(spec: dict[str, Any], key: str) -> re.Pattern[str] | None:
    regex = spec.get(key)
    try:
        return re.compile(regex) if regex is not None else None
    except (re.error, TypeError) as exc:
        raise FaultError(f"{key} is not a valid regular expression: {exc}") from exc


def _non_negative(spec: dict[str, Any], key: str) -> int | float:
    value = spec.get(key, 0) or 0
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        raise FaultError(f"{key} must be a non-negative number")
    return value


def _drop_and_hold(spec: dict[str, Any], status: int | None) -> tuple[bool | str, int | float]:
    """drop_connection (true/"before", or "after" the service answered) and its hold_ms."""
    drop = spec.get("drop_connection", False)
    if drop == "before":
        drop = True
    if not isinstance(drop, bool) and drop != "after":
        raise FaultError('drop_connection must be true, false, "before" or "after"')
    hold = _non_negative(spec, "hold_ms")
    if hold and drop != "after":
        raise FaultError('hold_ms needs "drop_connection": "after"')
    if drop == "after" and status is not None:
        raise FaultError('"drop_connection": "after" lets the service answer; omit status')
    return drop, hold
