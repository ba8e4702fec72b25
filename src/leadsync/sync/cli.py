"""`leadsync sync`: one run, or one per interval with --every, until SIGTERM/SIGINT.

Kept out of leadsync/cli.py so the command there stays one call; kept out of the engine so the
engine never decides how anything looks: what the command prints (warnings on stderr, the
report on stdout, progress on a terminal) is views/sync.py.
"""

from __future__ import annotations

from collections.abc import Sequence

from leadsync.errors import ConfigError, LeadsyncError
from leadsync.sync.engine import open_and_sync
from leadsync.sync.schedule import StopFlag, parse_interval, run_every, stop_on_signals
from leadsync.sync.shard import parse_shard
from leadsync.views import sync as view


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
    err = view.stderr_console()
    forced = [sweep]  # forced once: the first run of a loop

    def once(flag: StopFlag) -> int:
        with view.progress(err, enabled=not as_json) as progress:
            result = open_and_sync(
                config_path,
                dry_run=dry_run,
                lock_timeout=lock_timeout,
                warn=view.warner(err),
                progress=progress,
                stop=flag,
                sweep=forced.pop() if forced else False,
                accounts=accounts,
                shard=selected_shard,
                jobs=jobs,
            )
        view.print_report(result.report, as_json=as_json, one_line=interval is not None)
        return result.exit_code

    with stop_on_signals(StopFlag(), view.announce_stop) as flag:
        if interval is None:
            return once(flag)
        return run_every(
            interval,
            lambda: once(flag),
            flag,
            on_error=lambda exc: view.print_error(exc, as_json=as_json),
            on_wait=lambda left: view.announce_wait(err, left, every or ""),
            fatal=(ConfigError,),
        ).exit_code
