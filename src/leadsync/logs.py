"""Diagnostic logging on stderr: what `-v/--verbose` and `LEADSYNC_LOG` show, and never a secret.

Levels (`LEADSYNC_LOG=debug|info|warning|error`, default warning; `-v` means debug):
- info: every retry, with the endpoint, the HTTP status and Salesforce's request id (what
  Salesforce support asks for), the attempt and the pause before the next one;
- debug: also every HTTP request leadsync sends, one line each (endpoint -> status, request id).

What a line may contain is decided where it is built: method, scheme, host and path of a URL
(never its query string, which holds SOQL with email addresses, nor its user:password part),
status codes, request ids, error codes and messages of the APIs. Never headers, never bodies.
As a second line of defence the formatter masks anything shaped like a credential (Bearer and
Basic values, Salesforce session ids, `password=`/`token=` pairs, passwords in URLs and DSNs).

Only the `leadsync` logger is set up: the libraries' own debug output (urllib3 prints full URLs,
query strings included) stays off whatever the level.

Formats (`--log-format text|json`, or `LEADSYNC_LOG_FORMAT`): text is one `level: message`
line for a person. json is one JSON object per line for a cluster's log pipeline (Kubernetes,
Loki, CloudWatch), with the same keys on every line so it can index runs: `time`, `level`,
`event` (a stable word such as `run_started`, `account_skipped_locked`, `retry`), `run_id`,
`account`, `book` (null where a line belongs to none) and `message`, plus an event's own fields.
run_id, account and book come from `context()`, which the sync sets around a run, an account
and a book; being context variables, they follow each `--jobs` worker thread, so concurrent
accounts never mix their names. With json and no LEADSYNC_LOG, the level is info: the run's
own events are what a pipeline indexes. Masking applies to both formats.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import sys
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO
from urllib.parse import urlsplit

LOGGER_NAME = "leadsync"
ENV_VAR = "LEADSYNC_LOG"
FORMAT_ENV_VAR = "LEADSYNC_LOG_FORMAT"
FORMATS = ("text", "json")
CONTEXT_KEYS = ("run_id", "account", "book")
_context: ContextVar[dict[str, str]] = ContextVar("leadsync_log_context", default={})  # noqa: B039
_settings: dict[str, Any] = {"verbose": False, "format": "text", "env": None}
LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
_MASK = "(sensitive)"
# (pattern, replacement): each keeps the name of what it hides, so a line stays readable.
_SECRET_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    # an auth scheme and its credential (which, unlike a word, has a digit or +/=!)
    (
        re.compile(r"(?i)\b(bearer|basic|oauth)\s+(?=\S*[0-9+/=!])[A-Za-z0-9._~+/!=-]{8,}"),
        rf"\1 {_MASK}",
    ),
    (re.compile(r"\b00D[A-Za-z0-9]{12,15}![A-Za-z0-9._-]+"), _MASK),  # Salesforce session id
    (re.compile(r"(?i)\b(authorization)\s*[:=]\s*[^\s,;]+(\s+[^\s,;]+)?"), rf"\1: {_MASK}"),
    (
        re.compile(
            r"(?i)\b(password|passwd|pwd|secret|client_secret|token|access_token|"
            r"refresh_token|security_token|session_id|sessionid|api_key)\b(\s*[=:]\s*)"
            r"(\"[^\"]*\"|'[^']*'|[^\s&,;]+)"
        ),
        rf"\1\2{_MASK}",
    ),
    (re.compile(r"(://[^/\s:@]*):[^@/\s]+@"), rf"\1:{_MASK}@"),  # scheme://user:password@host
)


def get(name: str) -> logging.Logger:
    """The logger of one part of leadsync, e.g. get("salesforce") -> `leadsync.salesforce`."""
    return logging.getLogger(f"{LOGGER_NAME}.{name}")


def mask(text: str) -> str:
    """`text` with every credential-shaped part replaced by `(sensitive)`."""
    for pattern, replacement in _SECRET_SHAPES:
        text = pattern.sub(replacement, text)
    return text


def endpoint(method: str, url: str) -> str:
    """`POST https://host:443/services/data/v61.0/composite/sobjects`: no query, no userinfo."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        where = f"{parts.scheme}://{host}{parts.path}" if parts.scheme else parts.path
    except ValueError:
        where = url.split("?", 1)[0].split("#", 1)[0]
    return f"{method.upper()} {where}".strip()


def level_from(
    env: Mapping[str, str], *, verbose: bool = False, default: int = logging.WARNING
) -> tuple[int, str | None]:
    """The level to use, and a complaint when LEADSYNC_LOG holds something unknown."""
    if verbose:
        return logging.DEBUG, None
    raw = env.get(ENV_VAR, "").strip().lower()
    if not raw:
        return default, None
    if raw in LEVELS:
        return LEVELS[raw], None
    known = ", ".join(LEVELS)
    name = logging.getLevelName(default).lower()
    return default, f"{ENV_VAR}={raw!r} is not a level ({known}); using {name}"


def format_from(env: Mapping[str, str]) -> tuple[str, str | None]:
    """The format LEADSYNC_LOG_FORMAT asks for, and a complaint when it names none."""
    raw = env.get(FORMAT_ENV_VAR, "").strip().lower()
    if not raw or raw in FORMATS:
        return raw or "text", None
    return "text", f"{FORMAT_ENV_VAR}={raw!r} is not a log format (text, json); using text"


def configure(
    *, verbose: bool = False, env: Mapping[str, str] | None = None, fmt: str | None = None
) -> None:
    """Set the `leadsync` logger's level (-v / LEADSYNC_LOG) and format (`fmt`, else
    LEADSYNC_LOG_FORMAT); idempotent (one handler), so every command invocation in one process
    (tests, `sync --every`) starts from its own flags."""
    source = os.environ if env is None else env
    chosen, format_complaint = (fmt, None) if fmt in FORMATS else format_from(source)
    default = logging.INFO if chosen == "json" else logging.WARNING
    level, complaint = level_from(source, verbose=verbose, default=default)
    _settings.update(verbose=verbose, format=chosen, env=env)
    logger = logging.getLogger(LOGGER_NAME)
    handler = next((h for h in logger.handlers if isinstance(h, _StderrHandler)), None)
    if handler is None:
        handler = _StderrHandler()
        logger.addHandler(handler)
    handler.setFormatter(_JsonFormatter() if chosen == "json" else _MaskingFormatter(_TEXT))
    logger.setLevel(level)
    logger.propagate = False  # the root logger's handlers (if an embedding app has some) stay out
    for message in (format_complaint, complaint):
        if message:
            logger.warning(message)


def reconfigure(*, verbose: bool | None = None, fmt: str | None = None) -> None:
    """Change one setting, keep the others: `-v` and `--log-format` may come in any order."""
    configure(
        verbose=_settings["verbose"] if verbose is None else verbose,
        env=_settings["env"],
        fmt=fmt or _settings["format"],
    )


def json_lines() -> bool:
    """Whether stderr is in the json format (callers that print their own lines ask this)."""
    return _settings["format"] == "json"


@contextlib.contextmanager
def context(**fields: str | None) -> Iterator[None]:
    """Name the run, account or book that the lines logged inside belong to (json format)."""
    token = _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def current(key: str) -> str | None:
    """The run_id, account or book that context() names here (None outside one)."""
    return _context.get().get(key)


def event(logger: logging.Logger, level: int, name: str, message: str, **fields: Any) -> None:
    """Log `message` as the event `name` with its own fields (json keys; text shows only the
    message, which should say the same in words)."""
    logger.log(level, message, extra={"event": name, "fields": fields})


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to the *current* sys.stderr, so redirecting stderr (tests, embedding) works."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


_TEXT = "%(levelname)s: %(message)s"


class _MaskingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        record.levelname = record.levelname.lower()
        return mask(super().format(record))


class _JsonFormatter(logging.Formatter):
    """One JSON object per line, the same keys on every line (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        context = _context.get()
        logger = record.name.removeprefix(LOGGER_NAME).lstrip(".") or LOGGER_NAME
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "event": getattr(record, "event", None) or logger,
            **{key: context.get(key) for key in CONTEXT_KEYS},
            "message": mask(record.getMessage()),
        }
        for key, value in (getattr(record, "fields", None) or {}).items():
            if key not in line:
                line[key] = mask(value) if isinstance(value, str) else value
        if record.exc_info and record.exc_info[1] is not None:
            line["error"] = mask(f"{type(record.exc_info[1]).__name__}: {record.exc_info[1]}")
        return json.dumps(line, ensure_ascii=False, default=str)
