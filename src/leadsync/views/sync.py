"""The sync run report as text, and what `leadsync sync` prints on a terminal or a log.

The report is data (sync/report.py builds it; `--json` prints it as it is); this module is its
text rendering: one table row per address book, the push lines, the per-book sentences
(reasons, campaign, waiting, sweep, dry-run samples), field updates, the run line, and why the
run stopped or is incomplete. `campaign_line` and `error_lines` are also the audit's run page
(ui/runs.py). rich is imported inside the functions that draw, only for a text report.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from leadsync import logs
from leadsync.errors import LeadsyncError, document_of
from leadsync.sync.pushtally import SAMPLE_KINDS, SAMPLES
from leadsync.wording import clause

if TYPE_CHECKING:
    from rich.console import Console

    from leadsync.sync.engine import Progress


_log = logs.get("sync")
_SAMPLE_KINDS = (
    ("created", "would create"),
    ("excluded", "would exclude"),
    ("skipped", "would skip"),
    ("failed", "would fail"),
)


def render_text(report: dict[str, Any], *, dry_run_samples: bool = True) -> Any:
    """A rich renderable: the push lines, one table row per address book, then the run line."""
    from rich.console import Group
    from rich.text import Text

    dry = report.get("dry_run", False)
    # Step 1 of every sync, Salesforce -> Dotdigital (push.py); the table is lead creation.
    parts: list[Any] = [Text(line) for line in push_lines(report, samples=dry_run_samples)]
    if report["books"] or not parts:
        parts.append(_book_table(report, dry=dry))
    for book in report["books"]:
        parts.extend(_book_lines(book, dry=dry, samples=dry_run_samples))
    parts.extend(Text(line) for line in _update_lines(report, dry=dry, samples=dry_run_samples))
    parts.extend(_run_lines(report))
    return Group(*parts)


def _book_table(report: dict[str, Any], *, dry: bool) -> Any:
    from rich.table import Table

    title = "leadsync sync --dry-run (nothing written)" if dry else "leadsync sync"
    table = Table(title=title, title_justify="left")
    table.add_column("account")
    table.add_column("address book")
    headers = (
        ("seen", "seen"),
        ("created", "would create" if dry else "created"),
        ("excluded_existing", "would exclude" if dry else "excluded"),
        ("skipped_missing_fields", "would skip" if dry else "skipped"),
        ("failed", "would fail" if dry else "failed"),
        ("pending", "pending"),
        ("campaign_members_added_new", "would join campaign: new" if dry else "campaign: new"),
        (
            "campaign_members_added_existing",
            "would join campaign: existing" if dry else "campaign: existing",
        ),
    )
    for _, label in headers:
        table.add_column(label, justify="right")
    for book in report["books"]:
        table.add_row(book["account"], book["book"], *(str(book.get(k, 0)) for k, _ in headers))
    return table


def _book_lines(book: dict[str, Any], *, dry: bool, samples: bool) -> list[Any]:
    """The sentences under the table for one book: reasons, campaign, waiting, sweep, samples."""
    from rich.text import Text

    where = f"  {book['account']}/{book['book']}: "
    parts: list[Any] = []
    if book.get("reasons"):
        parts.append(Text(where + ", ".join(f"{c} x{n}" for c, n in book["reasons"].items())))
    line = campaign_line(book, dry=dry)
    if line:
        parts.append(Text(where + line))
    if book.get("waiting_in_doubt"):
        parts.append(Text(_waiting_line(book), style="yellow"))
    if book.get("sweep"):
        found = book["sweep"]["found"]
        parts.append(
            Text(
                f"{where}membership sweep read {book['sweep']['ids_read']} member ids, found "
                f"{found} the sync had not seen{' (now in the counts above)' if found else ''}"
            )
        )
    if dry and samples:
        for kind, label in _SAMPLE_KINDS:
            rows = book.get("samples", {}).get(kind, [])
            if rows:
                parts.append(Text(f"{where}{label} (up to 5):"))
                parts.extend(Text(f"    {row['email']}  {row['reason']}") for row in rows)
    return parts


def _update_lines(report: dict[str, Any], *, dry: bool, samples: bool) -> list[str]:
    lines: list[str] = []
    for row in report.get("updates") or []:
        line = update_line(row, dry=dry)
        if line:
            lines.append(f"  {row['account']}: {line}")
        for sample in row.get("samples") or [] if dry and samples else []:
            lines.append(
                f"    {sample['email']}  {sample['side']}.{sample['field']}: "
                f"{sample['before']!r} -> {sample['after']!r}"
            )
    return lines


def _run_lines(report: dict[str, Any]) -> list[Any]:
    """The run line, which accounts this runner took, and why the run stopped or is incomplete."""
    from rich.text import Text

    calls = report.get("api_calls", {})
    parts: list[Any] = [
        Text(
            f"run {report['run_id']}  applied serial {report['applied_serial']}  "
            f"{report['started_at']} -> {report['ended_at']}  API calls: Salesforce "
            f"{calls.get('salesforce', 0)}, Dotdigital {calls.get('dotdigital', 0)}"
        )
    ]
    if report.get("shard") is not None:
        names = ", ".join(report.get("accounts") or []) or "none"
        parts.append(Text(f"shard {report['shard']}: accounts synced: {names}"))
    for skipped in report.get("skipped_locked") or []:
        parts.append(
            Text(
                f"skipped {skipped['account']}: another runner holds its lock "
                f"({skipped['held_by']}); that run syncs it",
                style="yellow",
            )
        )
    if report.get("status") == "stopped":
        parts.append(
            Text(
                f"stopped early: {clause(str(report.get('stop_reason')))}. Everything done so far "
                "is recorded; run `leadsync sync` again later to continue.",
                style="yellow",
            )
        )
    if report.get("status") == "interrupted":
        parts.append(Text(f"interrupted: {report.get('stop_reason')}", style="yellow"))
    parts.extend(Text(line, style="red") for line in error_lines(report))
    return parts


def error_lines(report: dict[str, Any]) -> list[str]:
    """The text report's account of `errors`: a headline, then one line per error class."""
    errors = [*(report.get("errors") or []), *(report.get("push_errors") or [])]
    if not errors:
        return []
    n = sum(e["count"] for e in errors)
    noun = "record is" if n == 1 else "records are"
    head = "incomplete: " if report.get("status") == "incomplete" else ""
    lines = [
        f"{head}{n} {noun} still pending because writes failed; the next run retries "
        "them (`leadsync records --state pending` shows each one's last error):"
    ]
    for e in errors:
        s = e["sample"]
        lines.append(
            f"  {e['class']} x{e['count']} ({e['system']}), e.g. {s['account']}/{s['book']} "
            f"{s['email']}: {s['message']}"
        )
    return lines


def campaign_line(book: dict[str, Any], *, dry: bool = False) -> str | None:
    """One sentence on who joined the book's campaign, e.g. "campaign 'Spring Webinar 2026':
    2 new Leads and 1 person already in Salesforce added". None when nothing happened."""
    new = int(book.get("campaign_members_added_new", 0))
    existing = int(book.get("campaign_members_added_existing", 0))
    already = int(book.get("campaign_members_already_in", 0))
    if not (new or existing or already):
        return None
    parts = []
    if new:
        parts.append(f"{new} new Lead{'s' if new != 1 else ''}")
    if existing:
        who = "person" if existing == 1 else "people"
        parts.append(f"{existing} {who} already in Salesforce")
    name = book.get("campaign") or book.get("campaign_id")
    text = f"campaign {name!r}: "
    if parts:
        text += " and ".join(parts) + (" would be added" if dry else " added")
    if already:
        verb = ("is", "are") if dry else ("was", "were")
        noun = f"{verb[0]} already a member" if already == 1 else f"{verb[1]} already members"
        text += ("; " if parts else "") + f"{already} {noun}"
    return text


def _waiting_line(book: dict[str, Any]) -> str:
    n = book["waiting_in_doubt"]
    return (
        f"  {book['account']}/{book['book']}: {n} waiting: "
        f"{'its' if n == 1 else 'their'} Lead create may still be running at Salesforce; "
        "a later sync looks for the Lead once sync.in_doubt_grace has passed since it was sent "
        "(add the Lead field Leadsync_Key__c to settle such writes at once)"
    )


def update_line(row: dict[str, Any], *, dry: bool = False) -> str | None:
    """One sentence on an account's field updates, e.g. "field updates: 3 Salesforce records
    and 2 Dotdigital contacts updated, 1 conflict (Salesforce won)". None when nothing."""
    verb = "would be updated" if dry else "updated"
    parts: list[str] = []
    sf, dd = int(row.get("updated_in_salesforce", 0)), int(row.get("updated_in_dotdigital", 0))
    if sf or dd:
        what = []
        if sf:
            what.append(f"{sf} Salesforce record{'s' if sf != 1 else ''}")
        if dd:
            what.append(f"{dd} Dotdigital contact{'s' if dd != 1 else ''}")
        parts.append(" and ".join(what) + f" {verb}")
    for key, one, many in (
        ("conflicts", "conflict (Salesforce won)", "conflicts (Salesforce won)"),
        ("update_failed", "update refused", "updates refused"),
        ("update_skipped", "value kept out (skipped)", "values kept out (skipped)"),
        ("update_pending", "update left for the next run", "updates left for the next run"),
        ("linked", "new link", "new links"),
        ("unlinked", "unlinked (deleted in Salesforce)", "unlinked (deleted in Salesforce)"),
        ("converted", "converted Lead now followed as its Contact", "converted Leads now followed as their Contacts"),
    ):  # fmt: skip
        n = int(row.get(key, 0))
        if n:
            parts.append(f"{n} {one if n == 1 else many}")
    if not parts:
        return None
    return "field updates: " + ", ".join(parts)


def push_lines(report: dict[str, Any], *, samples: bool = True) -> list[str]:
    """The text report's push section: one line per pushing book (and samples in a dry run)."""
    books = report.get("push") or []
    dry = bool(report.get("dry_run"))
    lines: list[str] = []
    for b in books:
        would = "would be " if dry else ""
        parts = [
            f"{b['added']} {would}added",
            f"{b['updated']} {would}updated",
            f"{b['removed']} {would}removed",
        ]
        if b.get("left"):
            parts.append(f"{b['left']} left the Campaign (kept: clear_address_books is false)")
        for key in ("skipped", "failed", "pending", "in_doubt"):
            if b.get(key):
                label = key.replace("_", " ")
                parts.append(f"{b[key]} {'would be ' + label if dry else label}")
        parts.append(f"{b['unchanged']} unchanged")
        lines.append(
            f"push {b['account']}/{b['book']} <- campaign {b['campaign']!r}: "
            + ", ".join(parts)
            + f" ({b['read']} read{', full read' if b.get('full_read') else ''}"
            + (", Bulk API 2.0 query" if b.get("bulk_read") else "")
            + ")"
        )
        if b.get("reasons"):
            why = ", ".join(f"{code} x{n}" for code, n in b["reasons"].items())
            lines.append(f"  {b['account']}/{b['book']}: {why}")
        if dry and samples:
            for kind in SAMPLE_KINDS:
                rows = (b.get("samples") or {}).get(kind) or []
                if rows:
                    lines.append(
                        f"  {b['account']}/{b['book']}: would be {kind} (up to {SAMPLES}):"
                    )
                    lines += [f"    {r['email']}  {r['reason']}" for r in rows]
    return lines


def print_report(report: dict, *, as_json: bool, one_line: bool) -> None:
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


def print_error(exc: LeadsyncError, *, as_json: bool) -> None:
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


class PlainStderr:
    """What `leadsync sync` needs of a rich Console on stderr when stderr is no terminal (logs,
    CI, cron): plain lines. Why: importing rich costs ~0.15 s of CPU per run."""

    is_terminal = False

    def print(self, text: str, **_style: Any) -> None:
        sys.stderr.write(f"{text}\n")
        sys.stderr.flush()


def stderr_console() -> Console | PlainStderr:
    """A rich Console on a terminal (colour, progress bar), plain text otherwise."""
    if not sys.stderr.isatty() and not os.environ.get("FORCE_COLOR"):
        return PlainStderr()
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def announce_wait(err: Console | PlainStderr, seconds: float, every: str) -> None:
    at = f"{datetime.now(UTC) + timedelta(seconds=seconds):%Y-%m-%dT%H:%M:%SZ}"
    message = f"next sync at {at} (--every {every}); SIGTERM or Ctrl-C stops"
    if logs.json_lines():
        logs.event(_log, logging.INFO, "next_run", message, at=at)
    else:
        err.print(message, markup=False, highlight=False)


def announce_stop(name: str) -> None:
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
def progress(console: Console | PlainStderr, *, enabled: bool) -> Iterator[Progress | None]:
    """A progress bar only on a terminal: logs and CI output get no progress noise."""
    if not enabled or logs.json_lines() or not console.is_terminal:
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


def warner(err: Console | PlainStderr) -> Callable[[str], None]:
    """How the sync says `warning: ...` on stderr: a JSON log line with --log-format json, else
    a yellow line on a terminal, a plain one elsewhere."""

    def warn(message: str) -> None:
        if logs.json_lines():
            logs.event(_log, logging.WARNING, "warning", message)
        else:
            err.print(f"warning: {message}", style="yellow", markup=False, highlight=False)

    return warn
