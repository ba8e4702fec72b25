"""Views: everything leadsync prints, rendered from the data the core returns.

The core (config, reconcile, sync, init) returns values: diagnostics, plans, apply results,
status and history reports, run reports, ledger selections. The modules here turn them into
text, JSON or Markdown, and a command hands the CLI one `Outcome`, which cli.py prints as it
is. So a wording or a layout has one home, the core never decides how anything looks, and
cli.py holds no printing logic (the layout of Terraform's internal/command/views).

Modules: `diagnostics` (validate), `plan` (plan: text, JSON, Markdown), `apply`, `status`
(status and history), `sync` (the run report and the sync's terminal output), `records`
(`leadsync records`). Importing this package costs nothing: rich is imported by the functions
that draw on a terminal, when they do.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a command prints and how it ends: the CLI writes `stdout`, then `stderr`, exactly
    as given (each ends with its own newline), and exits with `exit_code`.

    `raw`: stdout goes out untouched even when it is not a terminal. Without it the CLI strips
    terminal escapes from output to a pipe (click's rule); `records` draws its table with rich,
    which colours it whenever FORCE_COLOR asks, pipe or not, so its output is raw.
    """

    stdout: str = ""
    stderr: str = ""
    exit_code: int = 0
    raw: bool = False
