"""Command line: parse arguments, call one function, print, pick the exit code. No domain logic.

Exit codes are made for CI: 0 ok, 1 error (bad config, bad flags, API refusal; one line, no
traceback), 2 plan has changes (with --detailed-exitcode), 3 sync stopped early on a limit,
4 sync done but some records failed or were skipped.
"""

from __future__ import annotations

import sys

import click

from leadsync import __version__
from leadsync.errors import LeadsyncError

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
@click.argument("path", default="leadsync.yaml", type=click.Path(dir_okay=True))
@click.option("--json", "as_json", is_flag=True, help="Print the diagnostics as a JSON list.")
@click.pass_context
def validate(ctx: click.Context, path: str, as_json: bool) -> None:
    """Check PATH (default leadsync.yaml) offline: schema, ${VAR}s and the sync rules.

    One diagnostic per line (file:line:col: severity CODE: message [yaml.path]). Exit 1 on any
    error. Never touches the network or the state.
    """
    from leadsync.config.validate import run as run_validate

    outcome = run_validate(path, as_json=as_json)
    click.echo(outcome.stdout, nl=False)
    if outcome.summary:
        click.echo(outcome.summary, err=True)
    ctx.exit(outcome.exit_code)


def main(argv: list[str] | None = None) -> None:
    """Entry point: every failure becomes one clear line on stderr and a CI-friendly code."""
    try:
        code = cli.main(args=argv, prog_name="leadsync", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(EXIT_ERROR)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:  # bad flags are bad input: exit 1, not click's 2
        click.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(EXIT_ERROR)
    except LeadsyncError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else EXIT_OK)


if __name__ == "__main__":
    main()
