"""Templates: Jinja2 with autoescaping on for everything, and the filters the pages share.

Autoescaping is what makes a contact named `<script>` plain text on the page: every value
reaches the HTML through `{{ }}`, which escapes it; no template marks a stored value `|safe`.
StrictUndefined turns a template typo into an error in the tests instead of an empty cell.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from leadsync import __version__
from leadsync.ui import labels
from leadsync.ui.times import duration, human_time, run_time


def number(value: Any) -> str:
    """`12,345`; `-` for a missing count."""
    if value is None or value == "":
        return "-"
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return str(value)


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("leadsync.ui", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(number=number, when=human_time)
    env.globals.update(
        labels=labels,
        duration=duration,
        run_time=run_time,
        run_status=labels.run_status,
        version=__version__,
    )
    return env


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)


@cache
def stylesheet() -> str:
    return resources.files("leadsync.ui").joinpath("static/leadsync.css").read_text("utf-8")


@cache
def favicon() -> str:
    return resources.files("leadsync.ui").joinpath("static/favicon.svg").read_text("utf-8")
