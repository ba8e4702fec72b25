"""Where the audit reads from: the state named by `-c leadsync.yaml`, or `--state LOCATION`.

`-c` works as every other command does (the config names the state; its ${VAR}s must be set)
and lets the overview say whether leadsync.yaml differs from the applied config. `--state
sqlite:PATH` / `--state postgres:DSN` reads a state without any config, e.g. on a machine that
holds no Salesforce or Dotdigital credentials, since the audit needs none of them.

The store is opened once and shared by the server's threads (each backend serialises its own
connection); a SQLite state that does not exist yet is not created (the pages say nothing was
applied yet), and a store that failed is reopened on the next request.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leadsync.errors import UsageError
from leadsync.state.errors import StateError
from leadsync.state.model import AppliedState


@dataclass(frozen=True, slots=True)
class ConfigCheck:
    """Whether leadsync.yaml differs from the applied config (None: not known, see `note`)."""

    differs: bool | None
    paths: tuple[str, ...] = ()
    note: str = ""
    config: str | None = None  # the config file's path, as given


class StateSource:
    """The state behind the pages, opened lazily and reopened after a failure."""

    def __init__(self, config_path: str | None = None, state: str | None = None) -> None:
        if (config_path is None) == (state is None):
            raise UsageError("name the state with -c leadsync.yaml or with --state, not both")
        self.config_path = config_path
        self.location = state
        self._lock = threading.Lock()
        self._store: Any = None
        self._config: Any = None
        self._sqlite: Path | None = None
        self._where = ""
        self._resolve()

    def _resolve(self) -> None:
        """Fail at start-up (exit 1, one line) on a bad config or location, not on page one."""
        if self.config_path is not None:
            from leadsync.config import config_dir, load_or_raise
            from leadsync.reconcile.session import state_location
            from leadsync.state import sqlite_path

            self._config = load_or_raise(self.config_path)
            self._where = state_location(self._config)
            if self._config.state.backend == "sqlite":
                self._sqlite = sqlite_path(self._config.state.path, config_dir(self._config.source))
            self.store()  # a server-side state that cannot be reached fails now, not on page one
            return
        kind, _sep, rest = str(self.location).partition(":")
        if kind == "sqlite":
            self._sqlite = Path(rest).expanduser()
            if not rest or not self._sqlite.is_file():
                raise StateError(f"the state file {rest or '(none given)'} does not exist")
            self._where = str(self._sqlite)
        self.store()

    def describe(self) -> str:
        """Where the state lives, for the page header: a path or user@host/db, never a password."""
        if not self._where and self._store is not None:
            self._where = self._store.describe()
        return self._where

    def store(self) -> Any:
        """The open store, or None while a SQLite state file does not exist yet."""
        with self._lock:
            if self._store is not None:
                return self._store
            if self._sqlite is not None and not self._sqlite.is_file():
                return None
            self._store = self._open()
            return self._store

    def _open(self) -> Any:
        if self._config is not None:
            from leadsync.config import config_dir
            from leadsync.state import open_store

            return open_store(self._config.state, config_dir(self._config.source))
        from leadsync.state.migrate import open_location

        return open_location(str(self.location))

    def failed(self) -> None:
        """Forget a store that raised (a dropped connection): the next request reopens it."""
        with self._lock:
            store, self._store = self._store, None
        if store is not None:
            with contextlib.suppress(Exception):  # already broken: closing is best effort
                store.close()

    def close(self) -> None:
        self.failed()

    def check_config(self, applied: AppliedState | None) -> ConfigCheck:
        """Compare leadsync.yaml as it is now (re-read per page) with the applied config."""
        if self.config_path is None:
            return ConfigCheck(
                None, note="not compared with leadsync.yaml (the audit was started with --state)"
            )
        if applied is None:
            return ConfigCheck(None, note="nothing applied yet", config=self.config_path)
        from leadsync.applied import config_differences
        from leadsync.config import load

        result = load(self.config_path)
        if result.config is None:
            errors = sum(1 for d in result.diagnostics if d.severity == "error")
            return ConfigCheck(
                None,
                note=f"cannot be read now ({errors} error{'s' if errors != 1 else ''}; "
                "run `leadsync validate`)",
                config=self.config_path,
            )
        paths = tuple(config_differences(applied, result.config))
        return ConfigCheck(bool(paths), paths, config=self.config_path)
