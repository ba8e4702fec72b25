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
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Mapping
from typing import TextIO
from urllib.parse import urlsplit

LOGGER_NAME = "leadsync"
ENV_VAR = "LEADSYNC_LOG"
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


def level_from(env: Mapping[str, str], *, verbose: bool = False) -> tuple[int, str | None]:
    """The level to use, and a complaint when LEADSYNC_LOG holds something unknown."""
    if verbose:
        return logging.DEBUG, None
    raw = env.get(ENV_VAR, "").strip().lower()
    if not raw:
        return logging.WARNING, None
    if raw in LEVELS:
        return LEVELS[raw], None
    known = ", ".join(LEVELS)
    return logging.WARNING, f"{ENV_VAR}={raw!r} is not a level ({known}); using warning"


def configure(*, verbose: bool = False, env: Mapping[str, str] | None = None) -> None:
    """Set the `leadsync` logger's level from -v / LEADSYNC_LOG; idempotent (one handler), so
    every command invocation in one process (tests, `sync --every`) starts from its own flags."""
    level, complaint = level_from(os.environ if env is None else env, verbose=verbose)
    logger = logging.getLogger(LOGGER_NAME)
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(_MaskingFormatter("%(levelname)s: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False  # the root logger's handlers (if an embedding app has some) stay out
    if complaint:
        logger.warning(complaint)


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


class _MaskingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        record.levelname = record.levelname.lower()
        return mask(super().format(record))
