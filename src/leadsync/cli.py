"""Command line: parse arguments, call one function, print, pick the exit code. No domain logic.

Exit codes are made for CI: 0 ok, 1 error (bad config, bad flags, API refusal; one line, no
traceback), 2 plan has changes (with --detailed-exitcode), 3 sync stopped early on a limit,
4 sync incomplete (records still pending because writes failed) or some records failed or were
skipped. A command given --json prints one JSON document on stdout also when it fails (main).
"""

from __future__ import annotations

import atexit
import gc
import json
import logging
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click

from leadsync import __version__, logs
from leadsync.errors import LeadsyncError, UsageError, document_of, error_document
from leadsync.views import Outcome

EXIT_OK = 0
EXIT_ERROR = 1

_F = TypeVar("_F", bound=Callable[..., Any])


def _set_verbose(_ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        logs.reconfigure(verbose=True)


def _set_log_format(_ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value:
        logs.reconfigure(fmt=value)


def _verbose_option() -> click.Option:
    """`-v/--verbose`, taken before or after the command name (`leadsync -v sync`, `leadsync
    sync -v`); LEADSYNC_LOG=debug|info does the same from the environment (leadsync/logs.py)."""
    return click.Option(
        ["-v", "--verbose"],
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=_set_verbose,
        help="Log on stderr every HTTP request and retry (endpoint, status, Salesforce request "
        "id); never a secret. Same as LEADSYNC_LOG=debug.",
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="leadsync")
def cli() -> None:
    """leadsync: Dotdigital address-book members become Salesforce Leads, declared as code.

    Typical flow: validate (offline), plan (dry run against the live systems), apply (make it
    so), sync (create the Leads with the applied mapping).
    """


@cli.command()
@click.option(
    "--data",
    "data",
    type=click.Path(dir_okay=False),
    default=None,
    help="Seed file (YAML). Default: the built-in demo data set.",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--dotdigital-port", type=int, default=0, show_default=True, help="0 picks a free port."
)
@click.option(
    "--salesforce-port", type=int, default=0, show_default=True, help="0 picks a free port."
)
@click.option(
    "--ready-file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the connection details (JSON) here, atomically, once both serve.",
)
@click.option(
    "--latency-ms",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Delay every response, to model a real network.",
)
def emulator(
    data: str | None,
    host: str,
    dotdigital_port: int,
    salesforce_port: int,
    ready_file: str | None,
    latency_ms: int,
) -> None:
    """Run local Dotdigital and Salesforce emulators until SIGINT/SIGTERM."""
    from leadsync.emulator.server import run

    run(
        data=data,
        host=host,
        dotdigital_port=dotdigital_port,
        salesforce_port=salesforce_port,
        ready_file=ready_file,
        latency_ms=latency_ms,
    )


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
    _emit(ctx, run_validate(path, as_json=as_json, unset_env_ok=allow_unset_env))


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

    _emit(ctx, run_fmt(path, check=check, diff=show_diff))


@cli.command("schema")
@click.option(
    "--path", "show_path", is_flag=True, help="Print where the installed schema file is instead."
)
def schema_command(show_path: bool) -> None:
    """Print the JSON Schema of leadsync.yaml for this version of leadsync.

    Editors validate and complete the config with it through the line
    `# yaml-language-server: $schema=./schema/leadsync.schema.json`; in your own repository,
    `leadsync schema > schema/leadsync.schema.json` puts it where that line looks.
    """
    from leadsync.config import schema_file

    path = schema_file()
    click.echo(str(path) if show_path else path.read_text(encoding="utf-8"), nl=show_path)


def _config_option(help_text: str = "The integration config.") -> Callable[[_F], _F]:
    """`-c/--config PATH` as every command that reads leadsync.yaml takes it."""
    return click.option(
        "-c",
        "--config",
        "config_path",
        default="leadsync.yaml",
        show_default=True,
        type=click.Path(dir_okay=False),
        help=help_text,
    )


def _lock_timeout_option(help_text: str, default: float = 0) -> Callable[[_F], _F]:
    """`--lock-timeout SECONDS`: every command that takes a state lock waits the same way."""
    return click.option(
        "--lock-timeout",
        type=click.FloatRange(min=0),
        default=default,
        show_default=True,
        help=help_text,
    )


def _emit(ctx: click.Context, outcome: Outcome) -> None:
    """Print what a command rendered (leadsync/views) as it is, and exit with its code."""
    click.echo(outcome.stdout, nl=False)
    if outcome.stderr:
        click.echo(outcome.stderr, err=True, nl=False)
    ctx.exit(outcome.exit_code)


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

    _emit(ctx, run_init(out, accounts=accounts, force=force, state=state_backend))


@cli.command()
@_config_option()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable plan (format_version 1.0).")
@click.option("--markdown", "as_markdown", is_flag=True, help="A pull-request comment.")
@click.option(
    "--detailed-exitcode", is_flag=True, help="Exit 0 no changes, 1 error, 2 changes present."
)
@click.option(
    "--out", type=click.Path(dir_okay=False), help="Save the plan for `leadsync apply FILE`."
)
@_lock_timeout_option("Seconds to wait for a running apply to finish first.")
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
    _emit(
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
@_config_option()
@click.argument("planfile", required=False, type=click.Path(dir_okay=False))
@click.option("--auto-approve", is_flag=True, help="Apply without asking (CI).")
@_lock_timeout_option("Seconds to wait for the state lock.")
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
    _emit(ctx, outcome)


@cli.command()
@_config_option()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def status(ctx: click.Context, config_path: str, as_json: bool) -> None:
    """The applied serial, when and by whom, and whether leadsync.yaml differs from it."""
    from leadsync.reconcile.commands import run_status

    _emit(ctx, run_status(config_path, as_json=as_json))


@cli.command()
@_config_option()
@click.option("--json", "as_json", is_flag=True)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Newest N entries.")
@click.pass_context
def history(ctx: click.Context, config_path: str, as_json: bool, limit: int | None) -> None:
    """Every apply: serial, time, OS user, host, git commit of the config, plan summary, and
    the CI job that ran it (GitHub Actions actor and run URL, GitLab user and job URL)."""
    from leadsync.reconcile.commands import run_history

    _emit(ctx, run_history(config_path, as_json=as_json, limit=limit))


@cli.command()
@_config_option(
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
    callback=_set_log_format,
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
@_config_option()
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

    _emit(
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


def _audit_source_options(command: _F) -> _F:
    """`-c FILE` or `--state LOCATION`: where `ui` and `report` read the state from."""
    command = click.option(
        "--state",
        "state_location",
        default=None,
        metavar="LOCATION",
        help="Read this state instead of the one leadsync.yaml names: sqlite:PATH or "
        "postgres:DSN ('postgres:' alone reads $LEADSYNC_STATE_DSN). Needs no other secret.",
    )(command)
    return click.option(
        "-c",
        "--config",
        "config_path",
        default=None,
        type=click.Path(dir_okay=False),
        help="The config naming the state (default leadsync.yaml unless --state is given).",
    )(command)


def _audit_source(config_path: str | None, state_location: str | None) -> str | None:
    if config_path is not None and state_location is not None:
        raise UsageError("-c and --state exclude each other: name the state one way")
    return config_path if state_location is not None else (config_path or "leadsync.yaml")


@cli.command("ui")
@_audit_source_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="0 picks a free port.",
)
@click.option(
    "--ready-file",
    type=click.Path(dir_okay=False),
    default=None,
    help='Write {"url": ...} here, atomically, once the audit serves.',
)
def ui_command(
    config_path: str | None,
    state_location: str | None,
    host: str,
    port: int,
    ready_file: str | None,
) -> None:
    """A read-only sync audit in the browser: overview, runs, records, history.

    Every number comes from the state store; nothing is written. Serves until SIGINT/SIGTERM
    (exit 0). Binds 127.0.0.1 unless --host says otherwise.
    """
    from leadsync.ui.server import run

    config = _audit_source(config_path, state_location)
    run(config, state_location, host=host, port=port, ready_file=ready_file)


@cli.command("report")
@_audit_source_options
@click.option(
    "--html",
    "html_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="Write the report here as one self-contained HTML file.",
)
@click.option(
    "--runs",
    "last_runs",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="How many of the newest runs the chart, the table and the records cover.",
)
def report_command(
    config_path: str | None, state_location: str | None, html_path: str, last_runs: int
) -> None:
    """The sync audit as one HTML file: overview, runs chart, failed and skipped records of
    the last N runs. Reads the state only; works offline (no script, no external asset)."""
    from leadsync.ui.report import write_report

    config = _audit_source(config_path, state_location)
    click.echo(write_report(config, state_location, html_path, last_runs))


@cli.group("state")
def state_group() -> None:
    """Manage the state store itself (e.g. move it from SQLite to PostgreSQL)."""


@state_group.command("migrate")
@click.option("--from", "source", required=True, help="sqlite:PATH or postgres:DSN")
@click.option(
    "--to",
    "target",
    required=True,
    help="sqlite:PATH or postgres:DSN ('postgres:' alone reads $LEADSYNC_STATE_DSN). Must be empty.",
)
@click.option("--schema", default="leadsync", show_default=True, help="PostgreSQL schema.")
@_lock_timeout_option(
    "Seconds to wait for a running apply/sync on the source to finish.", default=0.0
)
def state_migrate(source: str, target: str, schema: str, lock_timeout: float) -> None:
    """Copy a whole state (applied state, history, ledger, runs) into an empty store."""
    from leadsync.state.migrate import migrate

    click.echo(migrate(source, target, schema=schema, lock_timeout=lock_timeout).line())


def _with_verbose(command: click.Command) -> None:
    """The group and every command (and subcommand) take -v, wherever a user types it."""
    if not any(p.name == "verbose" for p in command.params):
        command.params.append(_verbose_option())
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _with_verbose(sub)


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
