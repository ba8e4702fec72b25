"""What `leadsync sync` prints: warnings on stderr, the report on stdout, progress on a terminal.

Kept out of leadsync/cli.py so the command there stays one call; kept out of the engine so the
engine never decides how anything looks.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from leadsync import logs
from leadsync.errors import ConfigError, LeadsyncError, document_of
from leadsync.sync.engine import Progress, open_and_sync
from leadsync.sync.report import render_text
from leadsync.sync.schedule import StopFlag, parse_interval, run_every, stop_on_signals
from leadsync.sync.shard import parse_shard

if TYPE_CHECKING:
    from rich.console import Console

_log = logs.get("sync")


def run_command(
    config_path: str,
    *,
    as_json: bool,
    dry_run: bool,
    lock_timeout: float | None,
    every: str | None = None,
    sweep: bool = False,
    accounts: Sequence[str] = (),
    shard: str | None = None,
    jobs: int = 1,
) -> int:
    """One sync (or, with `every`, one per interval until SIGTERM/SIGINT); returns the exit code.

    Either way SIGTERM/SIGINT finish the batch in flight, record it and end with exit 0.
    `sweep` forces a membership sweep in the (first) run; later runs of `every` sweep when
    `sync.sweep_every` has passed, as every run does.
    """
    interval = parse_interval(every) if every is not None else None
    if interval is not None and dry_run:
        raise LeadsyncError("--every and --dry-run exclude each other (a preview runs once)")
    selected_shard = parse_shard(shard) if shard is not None else None
    err = _stderr()

    def warn(message: str) -> None:
        if logs.json_lines():
            logs.event(_log, logging.WARNING, "warning", message)
        else:
            err.print(f"warning: {message}", style="yellow", markup=False, highlight=False)

    forced = [sweep]  # forced once: the first run of a loop

    def once(flag: StopFlag) -> int:
        with _progress(err, enabled=not as_json and not logs.json_lines()) as progress:
            result = open_and_sync(
                config_path,
                dry_run=dry_run,
                lock_timeout=lock_timeout,
                warn=warn,
                progress=progress,
                stop=flag,
                sweep=forced.pop() if forced else False,
                accounts=accounts,
                shard=selected_shard,
                jobs=jobs,
            )
        _print_report(result.report, as_json=as_json, one_line=interval is not None)
        return result.exit_code

    with stop_on_signals(StopFlag(), _announce_stop) as flag:
        if interval is None:
            return once(flag)
        return run_every(
            interval,
            lambda: once(flag),
            flag,
            on_error=lambda exc: _print_error(exc, as_json=as_json),
            on_wait=lambda left: _announce_wait(err, left, every or ""),
            fatal=(ConfigError,),
        ).exit_code


def _print_report(report: dict, *, as_json: bool, one_line: bool) -> None:
    if as_json:
        indent = None if one_line else 2  # --every: one JSON object per line per run
        sys.stdout.write(json.dumps(report, indent=indent, ensure_ascii=False) + "\n")
    else:
        from rich.console import Console

        out = Console(highlight=False)
        if not out.is_terminal:  # logs and CI: wide enough that the table is not squeezed
            out = Console(highlight=False, width=160)
        out.print(render_text(report))
    sys.stdout.flush()  # a log reader (or a test) sees each run as soon as it ends


def _print_error(exc: LeadsyncError, *, as_json: bool) -> None:
    """A failed run inside --every: one line on stderr (and, with --json, its error document
    as one JSON line, the same document a one-shot `sync --json` prints), then go on."""
    message = f"{exc} (the next run is still scheduled)"
    if logs.json_lines():
        logs.event(_log, logging.ERROR, "error", message, code=exc.error_code)
    else:
        sys.stderr.write(f"error: {message}\n")
        sys.stderr.flush()
    if as_json:
        line = {**document_of(exc, "sync"), "at": _now()}
        sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
        sys.stdout.flush()


class _PlainStderr:
    """What `leadsync sync` needs of a rich Console on stderr when stderr is no terminal (logs,
    CI, cron): plain lines. Why: importing rich costs ~0.15 s of CPU per run."""

    is_terminal = False

    def print(self, text: str, **_style: Any) -> None:
        sys.stderr.write(f"{text}\n")
        sys.stderr.flush()


def _stderr() -> Console | _PlainStderr:
    """A rich Console on a terminal (colour, progress bar), plain text otherwise."""
    if not sys.stderr.isatty() and not os.environ.get("FORCE_COLOR"):
        return _PlainStderr()
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def _announce_wait(err: Console | _PlainStderr, seconds: float, every: str) -> None:
    at = f"{datetime.now(UTC) + timedelta(seconds=seconds):%Y-%m-%dT%H:%M:%SZ}"
    message = f"next sync at {at} (--every {every}); SIGTERM or Ctrl-C stops"
    if logs.json_lines():
        logs.event(_log, logging.INFO, "next_run", message, at=at)
    else:
        err.print(message, markup=False, highlight=False)


def _announce_stop(name: str) -> None:
    """Called inside the signal handler: a raw write (re-entrant safe, unlike print)."""
    message = f"{name}: finishing the batch in flight, then exiting (send it again to stop at once)"
    if logs.json_lines():  # built here, written raw: no logging machinery inside a handler
        message = json.dumps(
            {"time": _now(), "level": "warning", "event": "stop_requested", "message": message}
            | {key: logs.current(key) for key in logs.CONTEXT_KEYS}
        )
    with contextlib.suppress(OSError):
        os.write(2, (message + "\n").encode())


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@contextmanager
def _progress(console: Console | _PlainStderr, *, enabled: bool) -> Iterator[Progress | None]:
    """A progress bar only on a terminal: logs and CI output get no progress noise."""
    if not enabled or not console.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn
    from rich.progress import Progress as Bar

    with Bar(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
    ) as bar:
        tasks: dict[str, int] = {}

        def advance(label: str, n: int) -> None:
            if label not in tasks:
                tasks[label] = bar.add_task(label, total=None)
            bar.advance(tasks[label], n)

        yield advance
