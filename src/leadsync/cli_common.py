"""The click pieces the command modules share (cli.py, cli_tools.py): the options every
command takes the same way, and how a command's Outcome is printed.

A module of its own so that cli_tools.py needs nothing of cli.py (which also runs as
`python -m leadsync.cli`, where importing it back would load it twice).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from leadsync import logs
from leadsync.errors import UsageError
from leadsync.views import Outcome

_F = TypeVar("_F", bound=Callable[..., Any])


def set_verbose(_ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        logs.reconfigure(verbose=True)


def set_log_format(_ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value:
        logs.reconfigure(fmt=value)


def verbose_option() -> click.Option:
    """`-v/--verbose`, taken before or after the command name (`leadsync -v sync`, `leadsync
    sync -v`); LEADSYNC_LOG=debug|info does the same from the environment (leadsync/logs.py)."""
    return click.Option(
        ["-v", "--verbose"],
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=set_verbose,
        help="Log on stderr every HTTP request and retry (endpoint, status, Salesforce request "
        "id); never a secret. Same as LEADSYNC_LOG=debug.",
    )


def config_option(help_text: str = "The integration config.") -> Callable[[_F], _F]:
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


def lock_timeout_option(help_text: str, default: float = 0) -> Callable[[_F], _F]:
    """`--lock-timeout SECONDS`: every command that takes a state lock waits the same way."""
    return click.option(
        "--lock-timeout",
        type=click.FloatRange(min=0),
        default=default,
        show_default=True,
        help=help_text,
    )


def emit(ctx: click.Context, outcome: Outcome) -> None:
    """Print what a command rendered (leadsync/views) as it is, and exit with its code: the
    one place a command's output is written."""
    click.echo(outcome.stdout, nl=False, color=True if outcome.raw else None)
    if outcome.stderr:
        click.echo(outcome.stderr, err=True, nl=False)
    ctx.exit(outcome.exit_code)


def audit_source_options(command: _F) -> _F:
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


def audit_source(config_path: str | None, state_location: str | None) -> str | None:
    if config_path is not None and state_location is not None:
        raise UsageError("-c and --state exclude each other: name the state one way")
    return config_path if state_location is not None else (config_path or "leadsync.yaml")
