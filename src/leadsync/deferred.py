"""Defer a module that a dependency imports eagerly but leadsync needs only on a rare path.

Start-up is most of a scheduled sync's CPU (docs: bench/README.md). simple-salesforce imports
PyJWT, and with it `cryptography`, at import time although only the JWT login uses it: about a
tenth of a small sync's CPU. `defer(name)` puts a stand-in module in `sys.modules`; the
dependency's `import jwt` binds the stand-in, and the first attribute anyone reads from it
imports the real module (under a lock: accounts may log in from several threads) and answers
from it. Nothing else changes: the library itself is left unmodified.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types
from typing import Any

_lock = threading.Lock()


class _Deferred(types.ModuleType):
    """Stands in for a module not imported yet; any attribute it lacks imports the real one."""

    def __getattr__(self, attr: str) -> Any:
        return getattr(_load(self.__name__), attr)


def defer(name: str) -> None:
    """Make `import name` cheap until the module is used; a no-op if it is imported already
    or not installed (the import then fails where it is used, as it would have anyway)."""
    with _lock:
        if name in sys.modules or importlib.util.find_spec(name) is None:
            return
        sys.modules[name] = _Deferred(name)


def _load(name: str) -> types.ModuleType:
    with _lock:
        module = sys.modules.get(name)
        if isinstance(module, _Deferred):
            del sys.modules[name]
            try:
                module = importlib.import_module(name)
            except BaseException:
                sys.modules[name] = module  # keep the stand-in: the next use raises again
                raise
        return module if module is not None else importlib.import_module(name)
