"""leadsync.yaml: load it (with positions and ${VAR} interpolation), check it, snapshot it.

Public API:
    load(path, env=None) -> LoadResult(config, diagnostics)     never raises on bad input
    load_or_raise(path, env=None) -> Config                     raises ConfigError(diagnostics)
    snapshot(config, salt) -> dict                              canonical applied-config view
    differences(applied_snapshot, desired_snapshot) -> [path]   what "differs" means (any format)
    config_dir(path) -> Path                                    base for relative paths
Diagnostic codes: see leadsync.config.codes.
"""

from leadsync.config.build import config_dir
from leadsync.config.diagnostics import Diagnostic, has_errors
from leadsync.config.loader import LoadResult, load, load_bytes, load_or_raise, load_text
from leadsync.config.model import Config, Direction, Pos, Secret
from leadsync.config.schema import schema_file
from leadsync.config.snapshot import differences, snapshot

__all__ = [
    "Config",
    "Diagnostic",
    "Direction",
    "LoadResult",
    "Pos",
    "Secret",
    "config_dir",
    "differences",
    "has_errors",
    "load",
    "load_bytes",
    "load_or_raise",
    "load_text",
    "schema_file",
    "snapshot",
]
