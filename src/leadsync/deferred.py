"""Defer a module that a dependency imports eagerly but leadsync needs only on a rare path.

Start-up is most of a scheduled sync's CPU (bench/README.md). simple-salesforce imports, when it
is imported, PyJWT with `cryptography` (for the JWT login only) and, for its Metadata API, zeep
with lxml: together about a fifth of a small sync's CPU and 10 MB, for code a sync never runs.
`defer(name)` puts a stand-in module in `sys.modules`; the dependency's `import jwt` binds the
stand-in, and the first attribute anyone reads from it imports the real module (under a lock:
accounts may log in from several threads) and answers from it. A class the dependency takes
from the module by name at import time (`from .metadata import SfdcMetadataApi`) is listed in
`classes`: the stand-in holds a class of that name whose construction imports the real module
and returns the real class's instance. Nothing else changes: the library itself is left
unmodified.
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
    """Stands in for a module not imported yet; any attribute it lacks imports the real one.

    Except `__path__` of a plain module (not a package): `from module import name` asks for
    it first, and a plain module has none, so that answer needs no import."""

    _package = True

    def __getattr__(self, attr: str) -> Any:
        if attr == "__path__" and not self._package:
            raise AttributeError(attr)
        return getattr(_load(self.__name__), attr)


def defer(name: str, classes: tuple[str, ...] = (), *, package: bool = True) -> None:
    """Make `import name` cheap until the module is used; a no-op if it is imported already
    or not installed (the import then fails where it is used, as it would have anyway).
    `package` false: the module is a plain .py file (it has no `__path__`)."""
    with _lock:
        # find_spec of a submodule would import its package, which is what this avoids: the
        # top-level package's spec says whether the dependency is installed at all.
        if name in sys.modules or importlib.util.find_spec(name.partition(".")[0]) is None:
            return
        stand_in = _Deferred(name)
        stand_in._package = package
        for attr in classes:
            setattr(stand_in, attr, _forwarding_class(name, attr))
        sys.modules[name] = stand_in


def _forwarding_class(module: str, attr: str) -> type:
    """A class named `attr` whose construction builds the real `module.attr` instead."""

    def __new__(cls: type, *args: Any, **kwargs: Any) -> Any:
        return getattr(_load(module), attr)(*args, **kwargs)

    doc = f"Stands in for {module}.{attr} until first used (leadsync.deferred)."
    return type(attr, (), {"__new__": __new__, "__doc__": doc, "__module__": module})


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
