"""leadsync.yaml: load it (with positions and ${VAR} interpolation) and check it.

Public API:
    load(path, env=None) -> LoadResult(config, diagnostics)     never raises on bad input
    load_or_raise(path, env=None) -> Config                     raises ConfigError(diagnostics)
    config_dir(path) -> Path                                    base for relative paths
Diagnostic codes: see leadsync.config.codes. The canonical snapshot of a Config that apply
records, and what "differs" means, live in leadsync.applied (the applied contract).
"""

from leadsync.config.build import config_dir
from leadsync.config.diagnostics import Diagnostic, has_errors
from leadsync.config.loader import LoadResult, load, load_bytes, load_or_raise, load_text
from leadsync.config.model import Config, Direction, Pos, Secret
from leadsync.config.schema import schema_file

__all__ = [
    "Config",
    "Diagnostic",
    "Direction",
    "LoadResult",
    "Pos",
    "Secret",
    "config_dir",
    "has_errors",
    "load",
    "load_bytes",
    "load_or_raise",
    "load_text",
    "schema_file",
]
