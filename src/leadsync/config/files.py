"""Files the config names, checked when it is loaded: today the Salesforce CA bundle.

Why here and not at the first HTTPS call: requests reports a missing bundle as a bare OSError
and a file that is not PEM as a TLS failure that blames the server, both from deep inside a
plan or a sync. Checked at load time, `validate` points at the line, and `plan`/`sync` stop
before any network call with the path in the message. Local files only: config/ never touches
the network or the state.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from leadsync.config import codes
from leadsync.config.build import config_dir
from leadsync.config.source import Tree

CA_BUNDLE_PATH = "salesforce.ca_bundle"


def check(tree: Tree) -> None:
    salesforce = tree.data.get("salesforce") if isinstance(tree.data, dict) else None
    value: Any = salesforce.get("ca_bundle") if isinstance(salesforce, dict) else None
    if not isinstance(value, str) or not value.strip() or CA_BUNDLE_PATH in tree.empty_env:
        return  # absent or empty: the system trust store
    path = Path(value).expanduser()
    resolved = path if path.is_absolute() else config_dir(tree.file) / path
    problem = ca_bundle_problem(resolved)
    if problem is None:
        return
    names = tree.from_env.get(CA_BUNDLE_PATH) or []
    source = f" (from ${{{names[0]}}})" if names else ""
    fix = f"set {names[0]}" if names else "set salesforce.ca_bundle"
    shown = str(resolved) if str(path) == str(resolved) else f"{value} ({resolved})"
    if set(names) & _secret_variables(tree) or any(_secret_name(n) for n in names):
        # a path is no secret, but this variable is (or is named like one): never its value
        shown, source = tree.show(value, CA_BUNDLE_PATH), ""
    tree.add(
        codes.CA_BUNDLE,
        "error",
        f"ca_bundle {shown}{source} {problem}; {fix} to a PEM file of CA certificates, or "
        "leave it empty to trust the system store",
        CA_BUNDLE_PATH,
        tree.pos(CA_BUNDLE_PATH),
    )


def _secret_variables(tree: Tree) -> set[str]:
    """Variables that also feed a secret key anywhere in the file: their values are never shown,
    even where they land in a key that is not secret."""
    return {
        name for where, used in tree.from_env.items() if _is_secret_path(where) for name in used
    }


_SECRET_NAME = re.compile(r"PASS|SECRET|TOKEN|KEY|DSN|CREDENTIAL|AUTH", re.IGNORECASE)


def _secret_name(variable: str) -> bool:
    """A variable named like a secret holds one, wherever the file happens to use it."""
    return _SECRET_NAME.search(variable) is not None


def _is_secret_path(path: str) -> bool:
    last = path.rsplit(".", 1)[-1].split("[", 1)[0]
    return last in codes.SECRET_KEYS or path.endswith("dotdigital.username")


def ca_bundle_problem(path: Path) -> str | None:
    """Why requests could not verify with this bundle, or None when it can.

    The bundle is loaded exactly as requests (OpenSSL) will load it, so a file that passes here
    cannot fail there for being malformed. A directory is accepted as requests accepts it (a
    c_rehash'ed CA directory).
    """
    try:
        if not path.exists():
            return "does not exist"
        if path.is_dir():
            return None
    except OSError as exc:  # e.g. a name longer than the file system allows
        return f"cannot be read ({exc.strerror or type(exc).__name__})"
    import ssl  # here, not at the top: `validate` (a pre-commit hook) seldom needs it

    try:
        ssl.create_default_context(cafile=str(path))
    except ssl.SSLError:
        return "holds no PEM CA certificate (is it a PEM file of certificates?)"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or type(exc).__name__})"
    return None
