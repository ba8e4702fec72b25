"""Command line: parse arguments, call one function, print its Outcome. No domain logic.

Exit codes are made for CI: 0 ok, 1 error (bad config, bad flags, API refusal; one line, no
traceback), 2 plan has changes (with --detailed-exitcode), 3 sync stopped early on a limit,
4 sync incomplete (records still pending because writes failed) or some records failed or were
skipped. A command given --json prints one JSON document on stdout also when it fails (main).

Each command returns a views.Outcome (leadsync/views renders it) that cli_common.emit prints as
it is; `sync` prints each run's report as it ends (sync/cli.py, through views/sync.py). The
commands around the integration (emulator, schema, ui, report, state) are in cli_tools.py.
"""

from __future__ import annotations

import atexit
import gc
import json
import logging
import sys
from typing import NoReturn

import click

from leadsync import __version__, logs
from leadsync.cli_common import (
    config_option,
    emit,
    lock_timeout_option,
    set_log_format,
    verbose_option,
)
from leadsync.cli_tools import COMMANDS
from leadsync.errors import LeadsyncError, UsageError, document_of, error_document

EXIT_OK = 0
EXIT_ERROR = 1


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="leadsync")
def cli() -> None:
    """leadsync: Dotdigital address-book members become Salesforce Leads, declared as code.

    Typical flow: validate (offline), plan (dry run against the live systems), apply (make it
    so), sync (create the Leads with the applied mapping).
    """


@cli.command()
@click.argument("path", required=False, type=click.Path(dir_okay=True))
@click.option(
    "-c",
    "--config",
    "config_path",
    default=None,
    type=click.Path(dir_okay=True),
    help="The config to check, as every other command takes it (same as PATH).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the diagnostics as a JSON list.")
@click.option(
    "--allow-unset-env",
    is_flag=True,
    help="Report unset ${VAR}s as warnings, not errors (pre-commit hooks have no secrets).",
)
@click.pass_context
def validate(
    ctx: click.Context,
    path: str | None,
    config_path: str | None,
    as_json: bool,
    allow_unset_env: bool,
) -> None:
    """Check PATH or -c FILE (default leadsync.yaml) offline: schema, ${VAR}s and the sync rules.

    One diagnostic per line (file:line:col: severity CODE: message [yaml.path]). Exit 1 on any
    error. Never touches the network or the state.
    """
    from leadsync.config.validate import run as run_validate

    if path is not None and config_path is not None and path != config_path:
        raise click.UsageError(f"two configs given ({path} and -c {config_path}); name one")
    path = path or config_path or "leadsync.yaml"
    emit(ctx, run_validate(path, as_json=as_json, unset_env_ok=allow_unset_env))


@cli.command("fmt")
@click.argument("path", default="leadsync.yaml", type=click.Path(dir_okay=False))
@click.option(
    "--check", is_flag=True, help="Write nothing; exit 1 and name the file if not canonical."
)
@click.option("--diff", "show_diff", is_flag=True, help="Print a unified diff of the changes.")
@click.pass_context
def fmt_command(ctx: click.Context, path: str, check: bool, show_diff: bool) -> None:
    """Rewrite PATH (default leadsync.yaml) in canonical form, comments kept; --check for CI.

    Prints the file name when it was (or, with --check, would be) changed. Never reads the
    environment: ${VAR}s stay as written.
    """
    from leadsync.config.fmt import run as run_fmt

    emit(ctx, run_fmt(path, check=check, diff=show_diff))


@cli.command("init")
@click.option(
    "--out",
    default="leadsync.yaml",
    show_default=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Where to write the config; - prints it on stdout.",
)
@click.option(
    "--account",
    "accounts",
    multiple=True,
    metavar="NAME",
    help="A Dotdigital account to include (repeatable), read with DD_<NAME>_ENDPOINT (or "
    "_REGION), DD_<NAME>_USERNAME and DD_<NAME>_PASSWORD. Default: every DD_<NAME>_USERNAME set.",
)
@click.option("--force", is_flag=True, help="Replace an existing file.")
@click.option(
    "--state",
    "state_backend",
    type=click.Choice(["sqlite", "postgres"]),
    default="sqlite",
    show_default=True,
    help="The state block to write (postgres reads ${LEADSYNC_STATE_DSN}).",
)
@click.pass_context
def init_command(
    ctx: click.Context, out: str, accounts: tuple[str, ...], force: bool, state_backend: str
) -> None:
    """Write leadsync.yaml from what the live systems hold: every address book (create_leads:
    false, member counts, the Campaign of the same name), a lead mapping matched by name
    (TODO rows for required fields nothing matched), the org's default Lead Status.

    Connections come from the environment (SF_INSTANCE_URL and one Salesforce auth form,
    DD_<NAME>_* per account); the file references them as ${VAR} and holds no secret. Reads
    only: at most 3 Dotdigital calls per account and 6 Salesforce calls.
    """
    from leadsync.init.command import run as run_init

    emit(ctx, run_init(out, accounts=accounts, force=force, state=state_backend))


@cli.command()
@config_option()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable plan (format_version 1.0).")
@click.option("--markdown", "as_markdown", is_flag=True, help="A pull-request comment.")
@click.option(
    "--detailed-exitcode", is_flag=True, help="Exit 0 no changes, 1 error, 2 changes present."
)
@click.option(
    "--out", type=click.Path(dir_okay=False), help="Save the plan for `leadsync apply FILE`."
)
@lock_timeout_option("Seconds to wait for a running apply to finish first.")
@click.pass_context
def plan(
    ctx: click.Context,
    config_path: str,
    as_json: bool,
    as_markdown: bool,
    detailed_exitcode: bool,
    out: str | None,
    lock_timeout: float,
) -> None:
    """Show what apply would change: refresh both systems, diff desired vs applied vs observed.

    Writes nothing anywhere (only --out FILE).
    """
    from leadsync.reconcile.commands import run_plan

    if as_json and as_markdown:
        raise UsageError("--json and --markdown exclude each other")
    fmt = "json" if as_json else "markdown" if as_markdown else "text"
    emit(
        ctx,
        run_plan(
            config_path,
            fmt=fmt,
            out=out,
            detailed_exitcode=detailed_exitcode,
            lock_timeout=lock_timeout,
        ),
    )


@cli.command()
@config_option()
@click.argument("planfile", required=False, type=click.Path(dir_okay=False))
@click.option("--auto-approve", is_flag=True, help="Apply without asking (CI).")
@lock_timeout_option("Seconds to wait for the state lock.")
@click.pass_context
def apply(
    ctx: click.Context,
    config_path: str,
    planfile: str | None,
    auto_approve: bool,
    lock_timeout: float,
) -> None:
    """Make it so: plan, confirm, apply; or apply exactly the saved PLANFILE (refused if stale)."""
    from leadsync.reconcile.commands import run_apply

    outcome = run_apply(
        config_path,
        planfile,
        auto_approve=auto_approve,
        lock_timeout=lock_timeout,
        echo=lambda text: click.echo(text, nl=False),
        confirm=lambda question: click.confirm(question, default=False),
        interactive=sys.stdin.isatty(),
    )
    emit(ctx, outcome)


@cli.command()
@config_option()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def status(ctx: click.Context, config_path: str, as_json: bool) -> None:
    """The applied serial, when and by whom, and whether leadsync.yaml differs from it."""
    from leadsync.reconcile.commands import run_status

    emit(ctx, run_status(config_path, as_json=as_json))


@cli.command()
@config_option()
@click.option("--json", "as_json", is_flag=True)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Newest N entries.")
@click.pass_context
def history(ctx: click.Context, config_path: str, as_json: bool, limit: int | None) -> None:
    """Every apply: serial, time, OS user, host, git commit of the config, plan summary, and
    the CI job that ran it (GitHub Actions actor and run URL, GitLab user and job URL)."""
    from leadsync.reconcile.commands import run_history

    emit(ctx, run_history(config_path, as_json=as_json, limit=limit))


@cli.command()
@config_option(
    "The config: connections and the state location (the mapping comes from the applied state)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the run report as JSON.")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Read both systems, write nothing anywhere; show what would happen.",
)
@click.option(
    "--lock-timeout",
    type=click.FloatRange(min=0),
    default=None,
    help="Wait up to SECONDS for an account another sync/apply holds (then exit 1). "
    "Without it, such an account is skipped (skipped_locked in the report; exit code unchanged).",
)
@click.option(
    "--every",
    metavar="DURATION",
    default=None,
    help="Repeat the sync on a schedule, e.g. 90s, 15m, 1h, 1h30m (runs start every DURATION; "
    "10s to 744h).",
)
@click.option(
    "--sweep",
    is_flag=True,
    help="Also read every member id of each book now (not only every sync.sweep_every) and "
    "take members the sync has never seen: for joins that did not move the modified date.",
)
@click.option(
    "--account",
    "accounts",
    metavar="NAME",
    multiple=True,
    help="Sync only this account of the applied state (repeatable). Unknown: exit 1.",
)
@click.option(
    "--shard",
    metavar="K/N",
    default=None,
    help="Sync only the accounts of shard K of N (K from 0, e.g. $JOB_COMPLETION_INDEX/3): "
    "a stable hash of the account name, the same on every runner.",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1, max=64),
    default=1,
    show_default=True,
    help="Sync up to N accounts at once in this process (each under its own lock).",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default=None,
    expose_value=False,
    is_eager=True,
    callback=set_log_format,
    help="json: one JSON object per log line on stderr (time, level, event, run_id, account, "
    "book, message), level info unless LEADSYNC_LOG says otherwise. Default: "
    "LEADSYNC_LOG_FORMAT, else text.",
)
@click.pass_context
def sync(
    ctx: click.Context,
    config_path: str,
    as_json: bool,
    dry_run: bool,
    lock_timeout: float | None,
    every: str | None,
    sweep: bool,
    accounts: tuple[str, ...],
    shard: str | None,
    jobs: int,
) -> None:
    """New address-book members become Salesforce Leads, with the APPLIED mapping.

    Exit 0 done; 4 incomplete (records still pending because writes failed: "status":
    "incomplete", the error classes in "errors") or some records failed or were skipped (see
    the report); 3 stopped early on an API limit (everything recorded, safe to re-run); 1
    error (with --json: one error document, "status": "error", with a code and the run id).
    SIGTERM or Ctrl-C finishes the batch in flight, records it, prints the report and exits 0
    (a second signal stops at once; the next run resolves what was in flight).

    Each run also sweeps a book (reads all its member ids, 5,000 per Dotdigital call) once
    sync.sweep_every (default 24h) has passed since its last sweep, to catch members whose
    join did not move their modified date; --sweep sweeps every book now.
    Many accounts: --account NAME and --shard K/N pick which accounts this runner syncs,
    --jobs N syncs N of them at once. An account another runner holds is skipped (logged,
    "skipped_locked" in the report, exit code unchanged) unless --lock-timeout waits for it.

    With --every DURATION the sync runs until SIGTERM/SIGINT, each run printing its report
    (with --json one JSON object per line per run). A run that ends with 3 or 4, or fails
    with an error (network, lock held; logged on stderr and, with --json, as its error
    document on one line) does not end the loop: the next run continues. A config error ends
    it with exit 1, since no run can succeed until it is fixed. A signal, during a run or
    while waiting, ends it with exit 0.
    """
    from leadsync.sync.cli import run_command

    ctx.exit(
        run_command(
            config_path,
            as_json=as_json,
            dry_run=dry_run,
            lock_timeout=lock_timeout,
            every=every,
            sweep=sweep,
            accounts=accounts,
            shard=shard,
            jobs=jobs,
        )
    )


@cli.command("records")
@config_option()
@click.option(
    "--state",
    "record_state",
    required=True,
    type=click.Choice(
        [
            "failed",
            "skipped",
            "pending",
            "excluded",
            "created",
            "baseline",
            "pushed",
            "left",
            "removed",
            "conflict",
            "update_failed",
        ]
    ),
    help="Which records to list (baseline: members recorded when create_leads was applied, "
    "never converted unless backfill: true; pushed/left/removed: Campaign members the push put "
    "in a book, who left the Campaign, who clear_address_books took out; conflict / "
    "update_failed: fields of linked people that changed on both sides / that one side "
    "refused, with both values).",
)
@click.option("--account", default=None, help="Only this account.")
@click.option("--book", default=None, help="Only this address book (name or id).")
@click.option("--json", "as_json", is_flag=True, help="Print the records as a JSON list.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most N records.")
@click.pass_context
def records(
    ctx: click.Context,
    config_path: str,
    record_state: str,
    account: str | None,
    book: str | None,
    as_json: bool,
    limit: int | None,
) -> None:
    """List the sync ledger's records in one state, with their reasons.

    Per record: account, address book, contact id, email, origin (dotdigital, or salesforce
    for people the push wrote), reason code, fields, the created Lead or the matched Salesforce
    record, its campaign membership, last run and reason. Reads the state only (no network,
    writes nothing). Exit 0; 1 for an unknown account/book or a bad config.
    """
    from leadsync.sync.records import records_command

    emit(
        ctx,
        records_command(
            config_path,
            state=record_state,
            account=account,
            book=book,
            as_json=as_json,
            limit=limit,
        ),
    )


def _with_verbose(command: click.Command) -> None:
    """The group and every command (and subcommand) take -v, wherever a user types it."""
    if not any(p.name == "verbose" for p in command.params):
        command.params.append(verbose_option())
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _with_verbose(sub)


for _command in COMMANDS:
    cli.add_command(_command)
_with_verbose(cli)


def main(argv: list[str] | None = None) -> None:
    """Entry point: every failure becomes one clear line on stderr and a CI-friendly code.

    A command asked for `--json` also prints ONE JSON error document on stdout (one line, see
    leadsync.errors.error_document), whatever failed: flags, config, state, lock, network, or
    a bug (code `internal`). Never a traceback.
    """
    if argv is None:
        # The process is ours and ends with this call (callers in the same process, tests,
        # pass argv and keep the interpreter's defaults). Freezing the heap at exit spares
        # the final garbage collection, a walk over every object the imports made: about
        # 0.05 s of CPU, a sixth of a small scheduled sync. A youngest generation of 50,000
        # objects instead of 700 means a collection per 50,000 allocations rather than per
        # 700: fewer walks during the imports and the batches (about a tenth of a 10,000-lead
        # sync's CPU), same peak memory (cycles are rare; refcounting frees the rest).
        gc.set_threshold(50_000, 10, 10)
        atexit.register(gc.freeze)
    logs.configure()  # from LEADSYNC_LOG; -v raises it while the arguments are parsed
    args = sys.argv[1:] if argv is None else list(argv)
    json_command = _json_command(args)
    try:
        code = cli.main(args=args, prog_name="leadsync", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        _fail(json_command, "aborted", "aborted", EXIT_ERROR)
    except click.ClickException as exc:  # bad flags are bad input: exit 1, not click's 2
        _fail(json_command, "usage", exc.format_message(), EXIT_ERROR)
    except LeadsyncError as exc:
        _fail(json_command, exc.error_code, str(exc), exc.exit_code, document_of(exc, json_command))
    except Exception as exc:  # a bug: still one line (and the JSON document), never a traceback
        message = f"internal error ({type(exc).__name__}: {exc}); please report it"
        _fail(json_command, "internal", message, EXIT_ERROR)
    sys.exit(code if isinstance(code, int) else EXIT_OK)


def _fail(
    command: str | None, code: str, message: str, exit_code: int, doc: dict | None = None
) -> NoReturn:
    """The human line on stderr; with --json, the error document on stdout; then exit."""
    if logs.json_lines():  # --log-format json: stderr stays one JSON object per line
        logs.event(logs.get("cli"), logging.ERROR, "error", message, code=code)
    else:
        click.echo(f"error: {message}", err=True)
    if command is not None:
        doc = doc or error_document(code, message, command=command, exit_code=exit_code)
        sys.stdout.write(json.dumps(doc, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    sys.exit(exit_code)


def _json_command(args: list[str]) -> str | None:
    """The subcommand's name when it takes `--json` and was given it, else None.

    Read from the raw arguments, not from click's parse, so that a bad flag (which fails
    before any command runs) is still answered in JSON.
    """
    for i, token in enumerate(args):
        if token == "--":
            return None
        if token.startswith("-"):
            continue  # a group option (--version, --help)
        command = cli.commands.get(token)
        if command is None or not any(p.name == "as_json" for p in command.params):
            return None
        rest = args[i + 1 :]
        rest = rest[: rest.index("--")] if "--" in rest else rest
        return token if "--json" in rest else None
    return None


if __name__ == "__main__":
    main()
