"""Commands around the integration rather than of it: the emulators, the config's JSON
Schema, the sync audit (`ui`, `report --html`) and `state migrate`. cli.py registers them."""

from __future__ import annotations

import click

from leadsync.cli_common import audit_source, audit_source_options, emit, lock_timeout_option
from leadsync.views import Outcome


@click.command()
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


@click.command("schema")
@click.option(
    "--path", "show_path", is_flag=True, help="Print where the installed schema file is instead."
)
@click.pass_context
def schema_command(ctx: click.Context, show_path: bool) -> None:
    """Print the JSON Schema of leadsync.yaml for this version of leadsync.

    Editors validate and complete the config with it through the line
    `# yaml-language-server: $schema=./schema/leadsync.schema.json`; in your own repository,
    `leadsync schema > schema/leadsync.schema.json` puts it where that line looks.
    """
    from leadsync.config import schema_file

    path = schema_file()
    emit(ctx, Outcome(f"{path}\n" if show_path else path.read_text(encoding="utf-8")))


@click.command("ui")
@audit_source_options
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

    config = audit_source(config_path, state_location)
    run(config, state_location, host=host, port=port, ready_file=ready_file)


@click.command("report")
@audit_source_options
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
@click.pass_context
def report_command(
    ctx: click.Context,
    config_path: str | None,
    state_location: str | None,
    html_path: str,
    last_runs: int,
) -> None:
    """The sync audit as one HTML file: overview, runs chart, failed and skipped records of
    the last N runs. Reads the state only; works offline (no script, no external asset)."""
    from leadsync.ui.report import write_report

    config = audit_source(config_path, state_location)
    emit(ctx, Outcome(write_report(config, state_location, html_path, last_runs) + "\n"))


@click.group("state")
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
@lock_timeout_option(
    "Seconds to wait for a running apply/sync on the source to finish.", default=0.0
)
@click.pass_context
def state_migrate(
    ctx: click.Context, source: str, target: str, schema: str, lock_timeout: float
) -> None:
    """Copy a whole state (applied state, history, ledger, runs) into an empty store."""
    from leadsync.state.migrate import migrate

    emit(
        ctx,
        Outcome(migrate(source, target, schema=schema, lock_timeout=lock_timeout).line() + "\n"),
    )


COMMANDS: tuple[click.Command, ...] = (
    emulator,
    schema_command,
    ui_command,
    report_command,
    state_group,
)
