"""What `leadsync sync` prints: warnings on stderr, the report on stdout, progress on a terminal.

Kept out of leadsync/cli.py so the command there stays one call; kept out of the engine so the
engine never decides how anything looks.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console

from leadsync.sync.engine import Progress, open_and_sync
from leadsync.sync.report import render_text


def run_command(config_path: str, *, as_json: bool, dry_run: bool, lock_timeout: float) -> int:
    err = Console(stderr=True, highlight=False)

    def warn(message: str) -> None:
        err.print(f"warning: {message}", style="yellow", markup=False, highlight=False)

    with _progress(err, enabled=not as_json) as progress:
        result = open_and_sync(
            config_path,
            dry_run=dry_run,
            lock_timeout=lock_timeout,
            warn=warn,
            progress=progress,
        )
    if as_json:
        sys.stdout.write(json.dumps(result.report, indent=2, ensure_ascii=False) + "\n")
    else:
        out = Console(highlight=False)
        if not out.is_terminal:  # logs and CI: wide enough that the table is not squeezed
            out = Console(highlight=False, width=160)
        out.print(render_text(result.report))
    return result.exit_code


@contextmanager
def _progress(console: Console, *, enabled: bool) -> Iterator[Progress | None]:
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
